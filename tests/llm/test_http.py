"""The OpenAI-compatible backend against a scripted server on loopback: every fault gives a report, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionrec.llm import GenerationCache, GenerationRequest, LLMError, OpenAIGenerator, RetryPolicy
from tests.llm.conftest import FakeServer, Reply, chat

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["answer"],
    "properties": {"answer": {"type": "string", "maxLength": 20}},
}


def request(key: str = "a", schema: dict | None = SCHEMA, template: str = "test.v1") -> GenerationRequest:
    return GenerationRequest(key=key, prompt=f"question {key}", max_tokens=16, schema=schema, template=template)


def generator(url: str, waits: list[float] | None = None, **options: object) -> OpenAIGenerator:
    """A generator whose waits between tries are recorded instead of slept."""
    sleep = waits.append if waits is not None else (lambda seconds: None)
    options.setdefault("retry", RetryPolicy(max_tries=3, base_delay=0.5, max_delay=4.0))
    return OpenAIGenerator(url, "fake-model", sleep=sleep, **options)  # type: ignore[arg-type]


def test_structured_answer_is_parsed_and_the_request_carries_schema_and_key(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUSIONREC_LLM_API_KEY", "secret-key")
    fake_server.queue(chat('{"answer": "yes"}', completion_tokens=5))
    with generator(fake_server.url) as llm:
        [result] = llm.generate([request()])
    assert result.ok and result.data == {"answer": "yes"} and result.tries == 1
    assert result.completion_tokens == 5 and result.prompt_tokens == 11
    sent = fake_server.requests[0]
    assert sent["model"] == "fake-model" and sent["max_tokens"] == 16
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert fake_server.headers[0]["Authorization"] == "Bearer secret-key"


def test_json_object_mode_sends_the_schema_beside_the_type(fake_server: FakeServer) -> None:
    fake_server.queue(chat('{"answer": "yes"}'))
    with generator(fake_server.url, schema_mode="json_object") as llm:
        llm.generate([request()])
    assert fake_server.requests[0]["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_http_500s_are_retried_with_growing_waits_until_success(fake_server: FakeServer) -> None:
    fake_server.queue(Reply("overloaded", status=500), Reply("overloaded", status=503), chat('{"answer": "ok"}'))
    waits: list[float] = []
    with generator(fake_server.url, waits) as llm:
        [result] = llm.generate([request()])
    assert result.ok and result.tries == 3 and len(fake_server.requests) == 3
    assert len(waits) == 2 and 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0


def test_http_500s_past_the_last_try_are_reported_with_the_count(fake_server: FakeServer) -> None:
    fake_server.default = lambda _: Reply('{"error": "boom"}', status=500)
    with generator(fake_server.url) as llm:
        [result] = llm.generate([request()])
    assert not result.ok and result.data is None
    assert "HTTP 500" in result.error and "boom" in result.error and "after 3 tries" in result.error


def test_a_client_error_is_not_retried(fake_server: FakeServer) -> None:
    fake_server.queue(Reply('{"error": "bad request"}', status=400))
    with generator(fake_server.url) as llm:
        [result] = llm.generate([request()])
    assert "HTTP 400" in result.error and "after 1 try" in result.error and len(fake_server.requests) == 1


def test_retry_after_of_a_429_is_honoured(fake_server: FakeServer) -> None:
    fake_server.queue(Reply("slow down", status=429, headers={"Retry-After": "1.5"}), chat('{"answer": "ok"}'))
    waits: list[float] = []
    with generator(fake_server.url, waits) as llm:
        [result] = llm.generate([request()])
    assert result.ok and waits == [1.5]


def test_server_down_is_a_reported_connection_failure(closed_port_url: str) -> None:
    waits: list[float] = []
    with generator(closed_port_url, waits) as llm:
        [result] = llm.generate([request()])
    assert "connection to" in result.error and "after 3 tries" in result.error and len(waits) == 2


def test_a_slow_server_times_out_and_is_reported(fake_server: FakeServer) -> None:
    fake_server.default = lambda _: Reply(chat('{"answer": "late"}').body, delay=1.0)
    with generator(fake_server.url, timeout=0.1, retry=RetryPolicy(max_tries=2)) as llm:
        [result] = llm.generate([request()])
    assert result.error.startswith("timeout after 0.1 s") and "after 2 tries" in result.error


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (chat('{"answer": "ye'), "malformed JSON"),
        (chat('{"answer": "ye', finish_reason="length"), "truncated output: stopped at max_tokens=16"),
        (chat(""), "empty output"),
        (chat("   "), "empty output"),
        (chat('{"answer": 42}'), "schema: $.answer: 42 is not of type 'string'"),
        (chat('{"answer": "x", "extra": 1}'), "schema: $: Additional properties are not allowed"),
        (chat('["a list"]'), "schema: $: ['a list'] is not of type 'object'"),
        (Reply('{"choices": [{"message": {"content": "cut'), "not a chat completion"),
        (Reply('{"no": "choices"}'), "not a chat completion"),
    ],
)
def test_unusable_output_is_reported_not_raised(fake_server: FakeServer, reply: Reply, expected: str) -> None:
    fake_server.queue(reply)
    with generator(fake_server.url) as llm:
        [result] = llm.generate([request()])
    assert not result.ok and result.data is None
    assert expected in result.error, result.error


def test_free_text_output_needs_no_schema(fake_server: FakeServer) -> None:
    fake_server.queue(chat("Hello there."))
    with generator(fake_server.url) as llm:
        [result] = llm.generate([request(schema=None)])
    assert result.ok and result.text == "Hello there." and result.data is None
    assert "response_format" not in fake_server.requests[0]


def test_concurrent_requests_come_back_in_order(fake_server: FakeServer) -> None:
    def echo(sent: dict) -> Reply:
        return chat(json.dumps({"answer": sent["messages"][-1]["content"].split()[-1]}))

    fake_server.default = echo
    keys = [f"k{i}" for i in range(12)]
    with generator(fake_server.url, workers=4) as llm:
        results = llm.generate([request(key) for key in keys])
    assert [r.key for r in results] == keys
    assert [r.data for r in results] == [{"answer": key} for key in keys]


def test_the_cache_serves_repeats_keeps_no_failures_and_separates_template_versions(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    fake_server.default = lambda _: chat('{"answer": "fresh"}')
    path = tmp_path / "llm" / "cache.sqlite"
    fake_server.queue(Reply("down", status=500), Reply("down", status=500), Reply("down", status=500))
    with generator(fake_server.url, cache=GenerationCache(path)) as llm:
        failed = llm.generate([request("b")])
        first = llm.generate([request("a"), request("b")])
    assert not failed[0].ok and all(r.ok and not r.cached for r in first)
    asked = len(fake_server.requests)
    with generator(fake_server.url, cache=GenerationCache(path)) as llm:  # a new process would open the same file
        again = llm.generate([request("a"), request("b")])
        bumped = llm.generate([request("a", template="test.v2")])
    assert all(r.cached and r.tries == 0 and r.data == {"answer": "fresh"} for r in again)
    assert not bumped[0].cached and len(fake_server.requests) == asked + 1


@pytest.mark.parametrize(("url", "message"), [("127.0.0.1:8080", "does not start with http"), ("http://x", "")])
def test_bad_options_raise_before_any_request(url: str, message: str) -> None:
    if message:
        with pytest.raises(LLMError, match=message):
            OpenAIGenerator(url)
    with pytest.raises(LLMError, match="timeout is 0"):
        OpenAIGenerator("http://127.0.0.1:1", timeout=0)
    with pytest.raises(LLMError, match="max_tokens is 0"):
        GenerationRequest(key="x", prompt="p", max_tokens=0)


def test_the_endpoint_accepts_a_url_with_or_without_v1() -> None:
    assert OpenAIGenerator("http://h:1/v1/").endpoint == "http://h:1/v1/chat/completions"
    assert OpenAIGenerator("http://h:1").endpoint == "http://h:1/v1/chat/completions"
    assert OpenAIGenerator("http://h:1/v1", "m").model_id == "http://h:1#m"


def test_an_unusable_answer_is_cached_as_the_same_failure_until_forgotten(fake_server: FakeServer) -> None:
    cache = GenerationCache(":memory:")
    fake_server.queue(chat('{"answer": "cut', finish_reason="length"))
    fake_server.default = lambda _: chat('{"answer": "whole"}')
    with generator(fake_server.url, cache=cache) as llm:
        [first] = llm.generate([request()])
        [again] = llm.generate([request()])
        assert again.cached and again.error == first.error and "truncated output" in first.error
        assert cache.forget_failures() == 1 and len(cache) == 0
        [fresh] = llm.generate([request()])
    assert fresh.ok and not fresh.cached and fresh.data == {"answer": "whole"} and len(fake_server.requests) == 2
