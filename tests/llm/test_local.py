"""The packaged SmolLM2 GGUF in process (llama.cpp), and a real llama.cpp server started on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fusionrec.data.dataset import Dataset
from fusionrec.llm import (
    GenerationCache,
    GenerationRequest,
    LlamaCppGenerator,
    LLMError,
    OpenAIGenerator,
    profile_items,
    profile_users,
    resolve_gguf,
)
from fusionrec.llm.rerank import ListwiseReranker, RerankConfig, RerankInput
from tests.llm.conftest import ROWS
from tests.llm.test_user_profiles import make_split

pytest.importorskip("llama_cpp", reason="the local backend needs llama-cpp-python (pip install 'fusionrec[llm]')")
pytestmark = pytest.mark.llm

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["genre"],
    "properties": {"genre": {"type": "string", "maxLength": 24}},
}
PROMPT = "Name the genre of the film Toy Story in one word, as JSON."
SERVER_START_S = 120.0


@pytest.fixture(scope="module")
def local() -> Iterator[LlamaCppGenerator]:
    with LlamaCppGenerator("smollm2", n_ctx=1024) as generator:
        yield generator


def test_structured_output_of_the_packaged_model_validates(local: LlamaCppGenerator) -> None:
    [result] = local.generate([GenerationRequest("toy", PROMPT, max_tokens=24, schema=SCHEMA, template="t.v1")])
    assert result.ok, result.error
    assert set(result.data or {}) == {"genre"} and result.completion_tokens > 0
    assert local.model_id.startswith("llama.cpp:SmolLM2-135M-Instruct.Q4_1-")


def test_a_cut_free_text_answer_still_counts_and_the_cache_repeats_it(local: LlamaCppGenerator, tmp_path: Path) -> None:
    cached = LlamaCppGenerator("smollm2", cache=GenerationCache(tmp_path / "c.sqlite"))
    cached._llama = local.load()  # share the loaded model: one load per test module
    request = GenerationRequest("story", "Tell a story about a cat.", max_tokens=8)
    [first] = cached.generate([request])
    [second] = cached.generate([request])
    assert first.ok and first.text.strip() and first.completion_tokens == 8
    assert second.cached and second.text == first.text


def test_copies_of_the_model_answer_side_by_side_as_one_copy_does() -> None:
    requests = [GenerationRequest(f"q{i}", f"Name a film about the number {i}.", max_tokens=12) for i in range(4)]
    with LlamaCppGenerator("smollm2", n_ctx=512, n_threads=1) as one:
        expected = [generation.text for generation in one.generate(requests)]
    with LlamaCppGenerator("smollm2", n_ctx=512, n_threads=1, instances=2) as two:
        answers = two.generate(requests)
        assert two.workers == 2 and len({id(copy) for copy in two._copies}) == 2
    assert [generation.text for generation in answers] == expected and all(g.ok for g in answers)
    assert two._llama is None and two._copies == []  # closed: every copy released
    with pytest.raises(LLMError, match="instances is 0"):
        LlamaCppGenerator("smollm2", instances=0)


def test_a_prompt_longer_than_the_context_is_a_reported_failure(local: LlamaCppGenerator) -> None:
    [result] = local.generate([GenerationRequest("long", "word " * 3000, max_tokens=8)])
    assert not result.ok and "llama.cpp failed" in result.error and "after 1 try" in result.error


def test_injected_metadata_keeps_the_profile_structure(local: LlamaCppGenerator) -> None:
    from tests.llm.conftest import tiny_catalog

    catalog: Dataset = tiny_catalog([ROWS[2]])
    report = profile_items(catalog, local, max_tokens=120)
    assert set(report.profiles) | set(report.failures) == {"3"}
    if report.profiles:  # the grammar holds the shape; the model may still run out of tokens (then a reported mask)
        profile = report.profiles["3"]
        assert "HACKED" not in profile.summary.upper() or "HACKED" in ROWS[2]["overview"].upper()
        assert not any(r["title"] and r["title"] in profile.text() for r in ROWS if r["item_id"] != "3")
    else:
        assert report.failures["3"].startswith("profile generation failed")


def test_unknown_models_are_errors_with_the_fix() -> None:
    assert resolve_gguf("smollm2").name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    with pytest.raises(LLMError, match="neither a packaged model"):
        resolve_gguf("gpt-5")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("sse_starlette", reason="the llama.cpp server needs llama-cpp-python[server]")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"  # a file: a pipe nobody reads would fill
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf("smollm2"))]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--model_alias", "smollm2"]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT) as process:
        try:
            _wait_until_up(url, process, log_path)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S  # a hang guard only
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama.cpp server exited with {process.returncode}: {error}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    pytest.fail(f"llama.cpp server at {url} did not answer within {SERVER_START_S:.0f} s")


def test_a_real_llama_cpp_server_answers_with_validated_json(llama_server: str) -> None:
    requests = [GenerationRequest(f"r{i}", PROMPT, max_tokens=24, schema=SCHEMA, template="t.v1") for i in range(2)]
    with OpenAIGenerator(llama_server, "smollm2", schema_mode="json_object", workers=2, timeout=120) as remote:
        results = remote.generate(requests)
    assert [r.key for r in results] == ["r0", "r1"]
    assert all(r.ok and set(r.data or {}) == {"genre"} for r in results), [r.error for r in results]
    assert all(r.completion_tokens > 0 for r in results)


def test_a_local_explanation_is_checked_or_replaced_by_the_template(local: LlamaCppGenerator) -> None:
    from fusionrec.llm import ExplanationFacts, explain_in_words, template_sentence
    from fusionrec.llm.explanations import SentenceChecker

    facts = ExplanationFacts("1", "Heat (1995)", 0.9, [("text", 0.7)], ["Ronin (1998)"], ["Crime", "Thriller"])
    checker = SentenceChecker(["Heat (1995)", "Ronin (1998)", "Toy Story (1995)"], ["Crime", "Thriller", "Comedy"])
    [result] = explain_in_words([facts], local, checker, max_tokens=64)
    if result.source == "llm":
        assert result.sentence and checker.problem(result.sentence, facts) == ""
    else:
        assert result.sentence == template_sentence(facts) and result.rejected


def test_the_packaged_model_answers_a_listwise_ranking_that_reads_as_a_full_order(local: LlamaCppGenerator) -> None:
    candidates = ["Heat (1995)", "Babe (1995)", "Fargo (1996)", "Aliens (1986)"]
    reranker = ListwiseReranker(local, RerankConfig(n_candidates=4, repeats=1))
    [outcome] = reranker.rerank([RerankInput("u1", ["Alien (1979)", "Terminator, The (1984)"], candidates)])
    assert (outcome.answered, outcome.failed, outcome.invented) == (1, 0, 0), outcome.errors
    assert sorted(outcome.order) == [0, 1, 2, 3]


def test_user_profiles_from_the_packaged_model_and_again_from_the_cache(
    local: LlamaCppGenerator, tmp_path: Path
) -> None:
    cached = LlamaCppGenerator("smollm2", cache=GenerationCache(tmp_path / "c.sqlite"))
    cached._llama = local.load()  # share the loaded model: one load per test module
    first = profile_users(make_split(), cached, users=["a", "c"], max_tokens=12)
    second = profile_users(make_split(), cached, users=["a", "c"], max_tokens=12)
    assert set(first.profiles) | {k for k, v in first.failures.items() if v.startswith("profile")} == {"a", "c"}
    assert first.profiles and first.stats.completion_tokens > 0
    assert second.stats.n_cached == 2 and second.profiles == first.profiles
