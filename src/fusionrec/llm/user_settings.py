"""Settings of the profiles an experiment makes before training: ``[item_profiles]`` and ``[user_profiles]``.

Both tables name where the texts come from (a ``fusionrec profile`` file, an
OpenAI-compatible server or the local GGUF model) and the text encoder that
embeds them; :class:`ProfileSourceSettings` holds what they share.

Example:
    >>> UserProfileSettings(max_tokens=40).llm_gguf
    'smollm2'
    >>> ItemProfileSettings().max_tokens
    200
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ProfileSourceSettings(BaseModel):
    """Where profile texts come from and how they are embedded.

    Attributes:
        profiles: a ``fusionrec profile items|users`` file to read instead of asking a model (subjects absent
            from it, or failed in it, are masked); None = ask the model below (answers come from the cache when
            asked before).
        llm_url: an OpenAI-compatible server; None runs ``llm_gguf`` in process.
        llm_model: the model name the server knows (with ``llm_url``).
        llm_gguf: the local GGUF model: ``"smollm2"``, ``"gemma3-270m"`` or a ``.gguf`` path.
        threads: CPU threads of each copy of the local model (None = llama.cpp's choice).
        workers: requests in flight at once: connections to the server, or copies of the local model;
            None = 4 connections, 1 copy.
        max_tokens: most tokens per profile.
        encoder: the text encoder that embeds the profiles.
        cache: the generation cache (SQLite); None = ``$FUSIONREC_CACHE/llm/generations.sqlite``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profiles: Path | None = None
    llm_url: str | None = None
    llm_model: str = "default"
    llm_gguf: str = "smollm2"
    threads: int | None = Field(default=None, ge=1)
    workers: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=40, ge=8)
    encoder: str = "minilm"
    cache: Path | None = None


class ItemProfileSettings(ProfileSourceSettings):
    """How each item's metadata becomes a profile and then the item modality ``"profile"``.

    Attributes:
        max_tokens: most tokens per profile (a JSON object of summary, themes, mood and audience).
    """

    max_tokens: int = Field(default=200, ge=8)


class UserProfileSettings(ProfileSourceSettings):
    """How each user's training history becomes a summary and then a content row (``split.user_content``).

    Attributes:
        max_items: most training items quoted per user.
        fewest_first: ask for the users with the fewest training interactions first.
        item_profiles: item profiles (a ``profile items`` file) quoted beside the titles; None = the
            experiment's ``[item_profiles]`` file where it names one, else titles alone.
    """

    max_items: int = Field(default=10, ge=1)
    fewest_first: bool = True
    item_profiles: Path | None = None
