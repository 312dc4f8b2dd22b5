"""The block readers give exactly what a single call gives: safetensors arrays, JSON id lists, the checksum text."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from fusionrec.data.vocabulary import Vocabulary
from fusionrec.errors import ArtifactError
from fusionrec.models import blocks
from fusionrec.models.blocks import dumps_in_blocks, loads_id_lists, read_safetensors

ARRAYS = {
    "f32": np.arange(3000, dtype=np.float32).reshape(100, 30) / 7,
    "f64": np.linspace(-1, 1, 17),
    "f16": np.ones((2, 3), np.float16),
    "i64": np.arange(-5, 5, dtype=np.int64),
    "i32": np.array([[1, 2], [3, 4]], np.int32),
    "u8": np.array([0, 255], np.uint8),
    "bool": np.array([True, False, True]),
    "scalar": np.array(3.5, np.float32),
    "empty": np.zeros((0, 4), np.float32),
}


def test_read_safetensors_gives_what_load_file_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "arrays.safetensors"
    save_file(ARRAYS, str(path))
    monkeypatch.setattr(blocks, "READ_BLOCK_BYTES", 64)  # many reads per array
    read, expected = read_safetensors(path), load_file(str(path))
    assert list(read) == sorted(expected)
    for name, array in expected.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape, name
        np.testing.assert_array_equal(read[name], array)
        assert read[name].flags.writeable and read[name].flags.c_contiguous


def _raw_safetensors(path: Path, header: dict[str, object], data: bytes) -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def test_read_safetensors_names_an_unsupported_dtype_and_a_short_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    _raw_safetensors(path, {"x": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(ArtifactError, match="'BF16'"):
        read_safetensors(path)
    _raw_safetensors(path, {"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)
    with pytest.raises(ArtifactError, match="ends after 8 of 16 bytes"):
        read_safetensors(path)
    _raw_safetensors(path, {"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}, b"\0" * 12)
    with pytest.raises(ArtifactError, match="needs 16 bytes but its offsets span 12"):
        read_safetensors(path)


ids = st.lists(st.text(alphabet=st.sampled_from('a"\\, ]}[:{é\n\t'), max_size=6), max_size=40)


@settings(max_examples=200, deadline=None)
@given(users=ids, items=ids, ascii_only=st.booleans(), block=st.integers(1, 40))
def test_loads_id_lists_equals_json_loads(users: list[str], items: list[str], ascii_only: bool, block: int) -> None:
    text = json.dumps({"users": users, "items": items}, ensure_ascii=ascii_only)
    original = blocks.JSON_BLOCK_CHARS
    blocks.JSON_BLOCK_CHARS = block  # hypothesis runs examples in one test call: set and restore by hand
    try:
        assert loads_id_lists(text) == json.loads(text)
    finally:
        blocks.JSON_BLOCK_CHARS = original


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": {"c": [1, ", "]}, "d": [[", "], {"x": ", "}], "e": []}',
        '{ "users" : [ "a" , "b" ] , "items":["c","d"] }',
        "[1, 2]",
        '"text"',
        "{}",
    ],
)
def test_loads_id_lists_reads_other_json_too(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "JSON_BLOCK_CHARS", 2)
    assert loads_id_lists(text) == json.loads(text)


@pytest.mark.parametrize("text", ['{"a": [1, 2}', '{"a": 1} x', '{"a" 1}', '{"a": ["b",]}'])
def test_loads_id_lists_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_id_lists(text)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 23])
def test_dumps_in_blocks_is_the_json_text(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "JSON_BLOCK_ITEMS", 4)
    values = tuple(f'id "{i}", é' for i in range(size))
    assert b"".join(dumps_in_blocks(values)) == json.dumps(list(values)).encode()


def test_a_vocabulary_built_in_blocks_looks_up_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fusionrec.data.vocabulary._LOOKUP_BLOCK", 3)
    vocabulary = Vocabulary(tuple(f"u{i}" for i in range(10)), kind="user")
    assert dict(vocabulary.lookup) == {f"u{i}": i for i in range(10)}
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(("a", "b", "c", "d", "a"), kind="user")
