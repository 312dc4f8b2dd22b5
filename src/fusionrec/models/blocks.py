"""Reading an artifact's large files in blocks, so that a load never holds the interpreter lock for long.

A server loads a new artifact in a thread beside the threads that answer
requests (a model swap). Python lets one thread run at a time, and a single
call into C code (``json.loads`` of a million ids, ``safetensors``' copy of
a 512 MiB array, ``json.dumps`` for a checksum) holds the lock from start to
end: at 1,000,000 items each of these stalled every request of the worker
for 0.1-0.5 s. The readers here give the same results in steps of a few
milliseconds each: arrays are read with ``readinto`` (the lock is free
while the operating system copies), and JSON lists of ids are parsed and
written in slices.

Example:
    >>> arrays = read_safetensors("artifact/vectors.safetensors")  # doctest: +SKIP
    >>> arrays["item_vectors"].shape  # doctest: +SKIP
    (1000000, 128)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fusionrec.errors import ArtifactError

READ_BLOCK_BYTES = 4 * 2**20
"""Bytes read per call: about a millisecond of copying, during which the lock is free."""
JSON_BLOCK_CHARS = 2**16
"""Characters of a JSON list parsed per call (about 7,000 short ids: a millisecond or two)."""
JSON_BLOCK_ITEMS = 5_000
"""List items serialised per call (a millisecond or two)."""

_DTYPES = {
    "BOOL": "?",
    "U8": "u1",
    "I8": "i1",
    "U16": "<u2",
    "I16": "<i2",
    "U32": "<u4",
    "I32": "<i4",
    "U64": "<u8",
    "I64": "<i8",
    "F16": "<f2",
    "F32": "<f4",
    "F64": "<f8",
}
_SEPARATOR = '", "'  # between two strings of a list written by json.dumps with its default separators
_CUT_TRIES = 4


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a safetensors file, as ``safetensors.numpy.load_file`` gives them (name order).

    Raises:
        ArtifactError: the file is not a safetensors file this reader understands (the message says why).
    """
    path = Path(path)
    with path.open("rb", buffering=0) as file:
        size = int.from_bytes(file.read(8), "little")
        try:
            header: dict[str, Any] = json.loads(file.read(size))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{path} has no readable safetensors header ({exc}); save the artifact again") from exc
        header.pop("__metadata__", None)
        arrays = {}
        for name in sorted(header):
            arrays[name] = _read_array(file, path, name, header[name], 8 + size)
    return arrays


def _read_array(file: Any, path: Path, name: str, entry: dict[str, Any], base: int) -> np.ndarray:
    dtype = _DTYPES.get(str(entry.get("dtype")))
    if dtype is None:
        raise ArtifactError(
            f"{path}: tensor {name!r} has dtype {entry.get('dtype')!r}; numpy reads only {sorted(_DTYPES)}"
        )
    array = np.empty(tuple(entry["shape"]), dtype=np.dtype(dtype))
    begin, end = entry["data_offsets"]
    if end - begin != array.nbytes:
        raise ArtifactError(
            f"{path}: tensor {name!r} of shape {tuple(entry['shape'])} and dtype {entry['dtype']} needs "
            f"{array.nbytes} bytes but its offsets span {end - begin}; the file is damaged, save it again"
        )
    file.seek(base + begin)
    view = array.reshape(-1).view(np.uint8).data  # (nbytes,) the array's own memory
    done = 0
    while done < len(view):
        read = file.readinto(view[done : done + READ_BLOCK_BYTES])
        if not read:
            raise ArtifactError(f"{path}: tensor {name!r} ends after {done} of {len(view)} bytes; save it again")
        done += read
    return array


def loads_id_lists(text: str) -> Any:
    """``json.loads(text)``, parsing the lists that are values of a top-level object in slices.

    Meant for ``{"users": [ids...], "items": [ids...]}``; any other JSON gives the same result too
    (parsed in one call where it is not of that shape).
    """
    decoder = json.JSONDecoder()
    position = _skip(text, 0)
    if not text.startswith("{", position):
        return json.loads(text)
    result: dict[str, Any] = {}
    position = _skip(text, position + 1)
    while not text.startswith("}", position):
        key, after_key = decoder.raw_decode(text, position)
        colon = _skip(text, after_key)
        if not isinstance(key, str) or not text.startswith(":", colon):
            return json.loads(text)  # not an object of that shape: json says what is wrong
        value_start = _skip(text, colon + 1)
        if text.startswith("[", value_start):
            result[key], position = _list_in_blocks(text, value_start, decoder)
        else:
            result[key], position = decoder.raw_decode(text, value_start)
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif not text.startswith("}", position):
            return json.loads(text)
    if text[position + 1 :].strip():
        return json.loads(text)  # extra data after the object: json raises
    return result


def _list_in_blocks(text: str, start: int, decoder: json.JSONDecoder) -> tuple[list[Any], int]:
    """The list whose ``[`` is at ``start``, and the position after its ``]``.

    The list is cut after a string that ends past every :data:`JSON_BLOCK_CHARS`;
    a cut is kept only if the piece before it parses as a list, which holds only
    when the cut lies between two of its items (JSON is read left to right, and
    a piece that runs past the list's end has a ``:`` or ``}`` in it), so the
    pieces together are the list itself. The rest is parsed in one call.
    """
    items: list[Any] = []
    piece_start = start + 1
    while True:
        parsed, cut = None, text.find(_SEPARATOR, piece_start + JSON_BLOCK_CHARS)
        for _ in range(_CUT_TRIES):
            if cut < 0:
                break
            try:
                parsed = json.loads("[" + text[piece_start : cut + 1] + "]")
                break
            except json.JSONDecodeError as exc:
                if exc.msg == "Extra data":  # the list ends inside the piece: parse the rest at once
                    break
                cut = text.find(_SEPARATOR, cut + 1)  # the cut fell inside a string: try the next one
        if parsed is None:
            rest, used = decoder.raw_decode("[" + text[piece_start:])  # stops at the list's ']'
            return items + rest, piece_start - 1 + used
        items.extend(parsed)
        piece_start = cut + 3  # after '", ', at the next item's quote


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def dumps_in_blocks(values: Sequence[Any]) -> Iterator[bytes]:
    """``json.dumps(list(values)).encode()`` in pieces (their concatenation is exactly that)."""
    yield b"["
    for first in range(0, len(values), JSON_BLOCK_ITEMS):
        piece = json.dumps(list(values[first : first + JSON_BLOCK_ITEMS]))[1:-1]
        yield (piece if first == 0 else ", " + piece).encode()
    yield b"]"


__all__ = ["dumps_in_blocks", "loads_id_lists", "read_safetensors"]
