"""The experiment step that gives a dataset its item profiles: profile each item, embed the profiles.

What ``fusionrec train`` and ``benchmark`` run before fitting when the config
has an ``[item_profiles]`` table (:class:`~fusionrec.llm.user_settings.ItemProfileSettings`):
each item's metadata is described by the language model (answers come from the
generation cache when the same model, prompt and metadata were asked before),
or the profiles are read from a ``fusionrec profile items`` file; the profile
texts are embedded by the text encoder through the feature cache and added as
the item modality ``"profile"``, masked with the reason for every item without
a profile. Profiles are written from metadata alone, so items nobody has taken
(the cold protocol) get theirs like any other.

Example:
    >>> settings = ItemProfileSettings(profiles=Path("profiles.jsonl"))  # doctest: +SKIP
    >>> report, modality = attach_item_profiles(split, settings)  # doctest: +SKIP
    >>> split.dataset.feature_mask("profile").mean()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fusionrec.encoders.cache import default_cache_dir
from fusionrec.llm.profiles import ProfileReport, attach_profiles, profile_items, read_profiles
from fusionrec.llm.user_step import generation_cache, generator_for

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.encoders.pipeline import ModalityReport
    from fusionrec.llm.user_settings import ItemProfileSettings

logger = logging.getLogger(__name__)


def attach_item_profiles(split: Split, settings: ItemProfileSettings) -> tuple[ProfileReport, ModalityReport]:
    """Profile ``split``'s items and add modality ``"profile"`` to its dataset; returns both reports.

    Raises:
        LLMError: no item got a profile (the most common failure is named).
    """
    dataset = split.dataset
    report = read_profiles(settings.profiles, dataset) if settings.profiles else _generated(split, settings)
    for line in report.lines():
        logger.info("%s", line)
    modality = attach_profiles(dataset, report, encoder=settings.encoder, cache_dir=default_cache_dir() / "features")
    return report, modality


def _generated(split: Split, settings: ItemProfileSettings) -> ProfileReport:
    store = generation_cache(settings)
    try:
        with generator_for(settings, store) as generator:
            return profile_items(
                split.dataset,
                generator,
                max_tokens=settings.max_tokens,
                progress=lambda done, total: logger.info("item profiles: %d of %d", done, total),
            )
    finally:
        store.close()


__all__ = ["attach_item_profiles"]
