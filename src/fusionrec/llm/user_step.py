"""The experiment step that gives a split its user content: profile each user, embed the summaries.

What ``fusionrec train`` and ``benchmark`` run before fitting when the config
has a ``[user_profiles]`` table (:class:`~fusionrec.llm.user_settings.UserProfileSettings`):
each user's TRAINING history is summarised by the language model (answers come
from the generation cache when the same model, prompt and history were asked
before), the summaries are embedded by the text encoder through the feature
cache, and the result is set as ``split.user_content`` (users without a
profile masked).

Example:
    >>> report = attach_user_profiles(split, UserProfileSettings())  # doctest: +SKIP
    >>> split.user_content.mask.mean()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fusionrec.encoders.cache import default_cache_dir
from fusionrec.llm.cache import GenerationCache, default_cache_path
from fusionrec.llm.profiles import ProfileReport, read_profiles
from fusionrec.llm.settings import GeneratorSettings
from fusionrec.llm.user_profiles import UserProfileReport, profile_users, read_user_profiles, user_content
from fusionrec.llm.user_settings import ProfileSourceSettings, UserProfileSettings

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.llm.base import Generator

logger = logging.getLogger(__name__)


def attach_user_profiles(
    split: Split, settings: UserProfileSettings, item_profiles: ProfileReport | None = None
) -> UserProfileReport:
    """Profile ``split``'s users from its training part and set ``split.user_content``; returns the report.

    Args:
        split: the split whose training histories are summarised.
        settings: the ``[user_profiles]`` table.
        item_profiles: item profiles to quote beside the titles when ``settings.item_profiles`` names no file
            (the experiment's ``[item_profiles]``).

    Raises:
        LLMError: no user got a profile (the most common failure is named).
    """
    if settings.item_profiles is not None:
        item_profiles = read_profiles(settings.item_profiles, split.dataset)
    if settings.profiles:
        report = read_user_profiles(settings.profiles, split)
    else:
        report = _generated(split, settings, item_profiles)
    for line in report.lines():
        logger.info("%s", line)
    features = default_cache_dir() / "features"
    split.user_content = user_content(split, report, encoder=settings.encoder, cache_dir=features)
    return report


def _generated(split: Split, settings: UserProfileSettings, items: ProfileReport | None) -> UserProfileReport:
    store = generation_cache(settings)
    try:
        with generator_for(settings, store) as generator:
            return profile_users(
                split,
                generator,
                item_profiles=items,
                max_items=settings.max_items,
                max_tokens=settings.max_tokens,
                fewest_first=settings.fewest_first,
                progress=lambda done, total: logger.info("user profiles: %d of %d", done, total),
            )
    finally:
        store.close()


def generation_cache(settings: ProfileSourceSettings) -> GenerationCache:
    """The generation cache ``settings`` name (default ``$FUSIONREC_CACHE/llm/generations.sqlite``)."""
    return GenerationCache(settings.cache or default_cache_path())


def generator_for(settings: ProfileSourceSettings, cache: GenerationCache | None) -> Generator:
    """The backend ``settings`` name: a server by URL, else the local GGUF model."""
    named = GeneratorSettings(
        gguf=settings.llm_gguf,
        url=settings.llm_url or "",
        url_model=settings.llm_model,
        threads=settings.threads,
        workers=settings.workers,
    )
    return named.generator(cache)
