"""A local GGUF model in this process, run by llama.cpp (``llama-cpp-python``) on the CPU.

The model loads on the first request, not in the constructor. Requests run
one at a time (a llama.cpp context is not shared between threads; its own
threads use the cores). Structured requests are constrained by a grammar
built from the JSON schema, and validated anyway.

Example:
    >>> with LlamaCppGenerator("smollm2") as generator:  # doctest: +SKIP
    ...     [generation] = generator.generate([GenerationRequest(key="1", prompt="Say hi.", max_tokens=8)])
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from fusionrec.llm.backend import AttemptError, BackendGenerator, Completion
from fusionrec.llm.base import GenerationRequest, LLMError
from fusionrec.llm.models import fingerprint, resolve_gguf

logger = logging.getLogger(__name__)


class LlamaCppGenerator(BackendGenerator):
    """Chat completions from a GGUF file with llama.cpp.

    Args:
        model: a packaged model name (``"smollm2"``, ``"gemma3-270m"``) or a ``.gguf`` path.
        n_ctx: context window in tokens (prompt + output).
        n_threads: CPU threads; None lets llama.cpp choose.
        seed: sampling seed, so a temperature above 0 repeats itself.
        **options: ``cache``, ``retry`` and ``sleep`` of :class:`BackendGenerator`.
    """

    def __init__(
        self, model: str = "smollm2", *, n_ctx: int = 2048, n_threads: int | None = None, seed: int = 0, **options: Any
    ) -> None:
        super().__init__(workers=1, **options)
        if n_ctx < 64:
            raise LLMError(f"n_ctx is {n_ctx}; a context of at least 64 tokens is expected")
        self.model, self.n_ctx, self.n_threads, self.seed = model, n_ctx, n_threads, seed
        self._lock = threading.Lock()
        self._llama: Any = None

    @cached_property
    def path(self) -> Path:
        """The GGUF file."""
        return resolve_gguf(self.model)

    @cached_property
    def model_id(self) -> str:  # type: ignore[override]
        return f"llama.cpp:{fingerprint(self.path)}"

    def load(self) -> Any:
        """The ``llama_cpp.Llama`` model, loaded once."""
        if self._llama is None:
            try:
                # deferred: llama-cpp-python is an optional extra and loads a native library
                from llama_cpp import Llama
            except ImportError as exc:
                raise LLMError("the local backend needs llama-cpp-python: pip install 'fusionrec[llm]'") from exc
            logger.info("loading %s with llama.cpp (n_ctx=%d)", self.path, self.n_ctx)
            self._llama = Llama(
                model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads, seed=self.seed, verbose=False
            )
        return self._llama

    def complete(self, request: GenerationRequest) -> Completion:
        with self._lock:
            llama = self.load()
            options: dict[str, Any] = {}
            if request.schema is not None:
                options["response_format"] = {"type": "json_object", "schema": request.schema}
            try:
                response = llama.create_chat_completion(
                    messages=request.messages(),
                    max_tokens=request.max_tokens,
                    temperature=request.temperature,
                    seed=self.seed,
                    **options,
                )
            except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context window
                raise AttemptError(f"llama.cpp failed: {exc}", retryable=False) from exc
        choice, usage = response["choices"][0], response.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
