"""A local GGUF model in this process, run by llama.cpp (``llama-cpp-python``) on the CPU.

The model loads on the first request, not in the constructor. A llama.cpp
context answers one request at a time (its own threads use the cores);
``instances=N`` loads N copies that answer N requests side by side (llama.cpp
releases the GIL, so N single-thread copies on N cores run in parallel: on 2
cores SmolLM2 gave 124 tokens/s with two single-thread copies against 96 with
one copy of two threads). Structured requests are constrained by a grammar
built from the JSON schema, and validated anyway.

Chats are formatted with, in this order: the ``chat_template`` given to the
constructor, the template the GGUF file carries (``tokenizer.chat_template``),
the template the packaged model's entry declares (:mod:`fusionrec.llm.models`).
A file with none of these is an error: llama.cpp would otherwise fall back to
Llama 2's ``[INST]`` format, which other models answer with nothing.

Example:
    >>> with LlamaCppGenerator("smollm2") as generator:  # doctest: +SKIP
    ...     [generation] = generator.generate([GenerationRequest(key="1", prompt="Say hi.", max_tokens=8)])
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from fusionrec.llm.backend import AttemptError, BackendGenerator, Completion
from fusionrec.llm.base import GenerationRequest, LLMError
from fusionrec.llm.models import ChatTemplate, declared_chat_template, fingerprint, resolve_gguf

logger = logging.getLogger(__name__)

FILE_TEMPLATE_KEY = "tokenizer.chat_template"


def choose_chat_template(
    metadata: Mapping[str, str], declared: ChatTemplate | None, override: ChatTemplate | None = None
) -> ChatTemplate | None:
    """The template to format chats with; None means the file's own (``tokenizer.chat_template``).

    Args:
        metadata: the GGUF file's metadata (``llama.metadata``).
        declared: the template the packaged model's entry declares, used when the file carries none.
        override: a template given explicitly; it wins over the file's.

    Raises:
        LLMError: neither is given and the file carries no chat template.
    """
    if override is not None:
        return override
    if metadata.get(FILE_TEMPLATE_KEY):
        return None
    if declared is not None:
        return declared
    raise LLMError(
        f"the GGUF file carries no chat template ({FILE_TEMPLATE_KEY}) and none is declared for it; pass "
        "chat_template=ChatTemplate(...) (fusionrec.llm.models) with the model's turn format"
    )


class LlamaCppGenerator(BackendGenerator):
    """Chat completions from a GGUF file with llama.cpp.

    Args:
        model: a packaged model name (``"smollm2"``, ``"gemma3-270m"``) or a ``.gguf`` path.
        n_ctx: context window in tokens (prompt + output).
        n_threads: CPU threads of each copy; None lets llama.cpp choose.
        instances: copies of the model answering requests side by side (each loads the file once more:
            SmolLM2-135M takes about 100 MB); 2 single-thread copies suit 2 cores.
        seed: sampling seed, so a temperature above 0 repeats itself.
        chat_template: formats chats, even when the file carries its own template; None uses the file's,
            else the packaged model's declared one.
        **options: ``cache``, ``retry`` and ``sleep`` of :class:`BackendGenerator`.
    """

    def __init__(
        self,
        model: str = "smollm2",
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
        chat_template: ChatTemplate | None = None,
        instances: int = 1,
        **options: Any,
    ) -> None:
        if instances < 1:
            raise LLMError(f"instances is {instances}; at least 1 copy of the model is expected")
        super().__init__(workers=instances, **options)
        if n_ctx < 64:
            raise LLMError(f"n_ctx is {n_ctx}; a context of at least 64 tokens is expected")
        self.model, self.n_ctx, self.n_threads, self.seed = model, n_ctx, n_threads, seed
        self.chat_template, self.instances = chat_template, instances
        self._lock = threading.Lock()
        self._llama: Any = None  # the first copy (what load() returns)
        self._copies: list[Any] = []  # every loaded copy, the first included, once the pool is filled
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # copies not answering a request now

    @cached_property
    def path(self) -> Path:
        """The GGUF file."""
        return resolve_gguf(self.model)

    @cached_property
    def model_id(self) -> str:  # type: ignore[override]
        """``llama.cpp:<file fingerprint>``, plus ``+<template name>`` when a template is given or declared.

        The template's name is part of the id even when the file's own template ends up used, so a changed
        declaration never serves answers cached under another format.
        """
        template = self.chat_template or declared_chat_template(self.model)
        suffix = f"+{template.name}" if template else ""
        return f"llama.cpp:{fingerprint(self.path)}{suffix}"

    def load(self) -> Any:
        """The first ``llama_cpp.Llama`` copy, loaded once."""
        if self._llama is None:
            self._llama = self._new_copy()
        return self._llama

    def _new_copy(self) -> Any:
        """A freshly loaded ``llama_cpp.Llama`` with the chosen chat template."""
        try:
            # llama-cpp-python is an optional extra with a native library: it loads with the first model
            # (a lazy_loader proxy would sit in sys.modules as "llama_cpp" from `import fusionrec.cli` on)
            from llama_cpp import Llama  # noqa: PLC0415  optional extra, native library
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # noqa: PLC0415  as above
        except ImportError as exc:
            raise LLMError("the local backend needs llama-cpp-python: pip install 'fusionrec[llm]'") from exc
        logger.info("loading %s with llama.cpp (n_ctx=%d)", self.path, self.n_ctx)
        llama = Llama(
            model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads, seed=self.seed, verbose=False
        )
        try:
            template = choose_chat_template(llama.metadata, declared_chat_template(self.model), self.chat_template)
            if template is not None:
                logger.info("formatting chats with the template %s", template.name)
                formatter = Jinja2ChatFormatter(
                    template.source,
                    eos_token=template.stop_tokens[0],
                    bos_token=template.bos_token,
                    stop_token_ids=[_token_id(llama, token) for token in template.stop_tokens],
                )
                llama.chat_handler = formatter.to_chat_handler()
        except LLMError:
            llama.close()  # not kept: the next request fails the same way instead of using a fallback format
            raise
        return llama

    @contextmanager
    def _copy(self) -> Iterator[Any]:
        """An idle copy of the model for one request (the pool is filled on first use)."""
        with self._lock:
            if not self._copies:
                self._copies = [self.load(), *(self._new_copy() for _ in range(self.instances - 1))]
                for llama in self._copies:
                    self._idle.put(llama)
        llama = self._idle.get()
        try:
            yield llama
        finally:
            self._idle.put(llama)

    def complete(self, request: GenerationRequest) -> Completion:
        with self._copy() as llama:
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
            for llama in {id(c): c for c in [*self._copies, self._llama] if c is not None}.values():
                llama.close()
            self._llama, self._copies, self._idle = None, [], queue.SimpleQueue()


def _token_id(llama: Any, token: str) -> int:
    """The id of a special token, which must be a single token of the model's vocabulary."""
    ids = llama.tokenize(token.encode("utf-8"), add_bos=False, special=True)
    if len(ids) != 1:
        raise LLMError(f"stop token {token!r} is {len(ids)} tokens in this model's vocabulary; one is expected")
    return int(ids[0])
