"""Any OpenAI-compatible server by URL: vLLM, Ollama, llama.cpp's server, a hosted API.

Requests go to ``<url>/v1/chat/completions`` from a bounded thread pool.
The API key is read from an environment variable (``FUSIONREC_LLM_API_KEY``
by default), never from a file or a flag, and is sent as a bearer token.
Structured requests ask the server to constrain its output with the JSON
schema (``response_format``), and the output is validated here anyway.

Example:
    >>> generator = OpenAIGenerator("http://127.0.0.1:8080", model="smollm2")  # doctest: +SKIP
    >>> generator.generate([GenerationRequest(key="1", prompt="Say hi.", max_tokens=8)])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

import httpx

from fusionrec.llm.backend import AttemptError, BackendGenerator, Completion
from fusionrec.llm.base import GenerationRequest, LLMError

API_KEY_VARIABLE = "FUSIONREC_LLM_API_KEY"
SNIPPET_CHARS = 200
#: How the JSON schema is passed: OpenAI and vLLM take ``json_schema``; llama-cpp-python's server takes
#: ``json_object`` with a ``schema``; ``none`` sends no constraint and relies on the prompt and validation.
SchemaMode = Literal["json_schema", "json_object", "none"]


class OpenAIGenerator(BackendGenerator):
    """Chat completions from an OpenAI-compatible HTTP server.

    Args:
        url: the server's base URL, with or without a trailing ``/v1``.
        model: the model name the server knows.
        api_key_env: environment variable holding the API key (unset: no key is sent).
        timeout: seconds for one attempt (connect, send, wait, read).
        workers: requests in flight at once.
        schema_mode: how a request's JSON schema is sent (see :data:`SchemaMode`).
        seed: sent as ``seed`` so servers that honour it repeat themselves; None sends none.
        **options: ``cache``, ``retry`` and ``sleep`` of :class:`BackendGenerator`.
    """

    def __init__(
        self,
        url: str,
        model: str = "default",
        *,
        api_key_env: str = API_KEY_VARIABLE,
        timeout: float = 60.0,
        workers: int = 4,
        schema_mode: SchemaMode = "json_schema",
        seed: int | None = 0,
        **options: Any,
    ) -> None:
        super().__init__(workers=workers, **options)
        if not url.startswith(("http://", "https://")):
            raise LLMError(
                f"LLM server URL {url!r} does not start with http:// or https://; e.g. http://127.0.0.1:8080"
            )
        if timeout <= 0:
            raise LLMError(f"timeout is {timeout} s; a positive number of seconds is expected")
        base = url.rstrip("/")
        self.endpoint = f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"
        self.model, self.timeout, self.schema_mode, self.seed = model, timeout, schema_mode, seed
        self.model_id = f"{base.removesuffix('/v1')}#{model}"
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(headers=headers, timeout=timeout, limits=httpx.Limits(max_connections=workers))

    def complete(self, request: GenerationRequest) -> Completion:
        try:
            response = self._client.post(self.endpoint, json=self.payload(request))
        except httpx.TimeoutException as exc:
            raise AttemptError(f"timeout after {self.timeout:g} s ({type(exc).__name__})", retryable=True) from exc
        except httpx.TransportError as exc:
            raise AttemptError(f"connection to {self.endpoint} failed: {exc}", retryable=True) from exc
        if response.status_code != 200:
            raise _status_error(response)
        return _completion(response)

    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body of a chat completion request."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages(),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if request.schema is not None and self.schema_mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.template or "output", "schema": request.schema},
            }
        elif request.schema is not None and self.schema_mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": request.schema}
        return body

    def close(self) -> None:
        self._client.close()


def _status_error(response: httpx.Response) -> AttemptError:
    """HTTP 429 and 5xx may pass (retry); other statuses will not."""
    status = response.status_code
    retry_after = _retry_after(response.headers.get("retry-after"))
    reason = f"HTTP {status} from {response.request.url}: {response.text[:SNIPPET_CHARS]!r}"
    return AttemptError(reason, retryable=status == 429 or status >= 500, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: fall back to the backoff
        return None


def _completion(response: httpx.Response) -> Completion:
    """The first choice of a chat completion response; a body of another shape is a failed attempt."""
    try:
        body = response.json()
        choice = body["choices"][0]
        text = choice["message"]["content"] or ""
        usage = body.get("usage") or {}
        return Completion(
            text=str(text),
            finish_reason=str(choice.get("finish_reason") or "stop"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        reason = f"the server's response is not a chat completion ({type(exc).__name__}: {exc}): "
        raise AttemptError(reason + repr(response.text[:SNIPPET_CHARS]), retryable=False) from exc
