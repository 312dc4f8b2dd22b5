"""Settings of the user profiles an experiment makes before training (the ``[user_profiles]`` table).

Example:
    >>> UserProfileSettings(max_tokens=40).llm_gguf
    'smollm2'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class UserProfileSettings(BaseModel):
    """How each user's training history becomes a summary and then a content row (``split.user_content``).

    Attributes:
        profiles: a ``fusionrec profile users`` file to read instead of asking a model (users absent from it,
            or failed in it, are masked); None = ask the model below (answers come from the cache when asked before).
        llm_url: an OpenAI-compatible server; None runs ``llm_gguf`` in process.
        llm_model: the model name the server knows (with ``llm_url``).
        llm_gguf: the local GGUF model: ``"smollm2"``, ``"gemma3-270m"`` or a ``.gguf`` path.
        threads: CPU threads of the local model (None = llama.cpp's choice).
        max_tokens: most tokens per summary.
        max_items: most training items quoted per user.
        fewest_first: ask for the users with the fewest training interactions first.
        item_profiles: item profiles (a ``profile items`` file) quoted beside the titles; None = titles alone.
        encoder: the text encoder that embeds the summaries.
        cache: the generation cache (SQLite); None = ``$FUSIONREC_CACHE/llm/generations.sqlite``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profiles: Path | None = None
    llm_url: str | None = None
    llm_model: str = "default"
    llm_gguf: str = "smollm2"
    threads: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=40, ge=8)
    max_items: int = Field(default=10, ge=1)
    fewest_first: bool = True
    item_profiles: Path | None = None
    encoder: str = "minilm"
    cache: Path | None = None
