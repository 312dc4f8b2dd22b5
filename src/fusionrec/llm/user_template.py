"""A user's profile without a language model: a template sentence over the same history a model would read.

:func:`template_user_profile` writes what :func:`~fusionrec.llm.user_profiles.profile_users`
would ask a model for, deterministically: the titles of the history (in its
order, the most telling first) and the genres that come up most. The service
uses it to rebuild a user's profile when no generator is configured, so a
profile is never empty while the user has a history.

:func:`merged_history` puts a user's events since training in front of their
training history, in the entry format of
:func:`~fusionrec.llm.user_profiles.training_histories`, so one prompt (or
one template) describes both.

Example:
    >>> template_user_profile([{"title": "Heat (1995)", "genres": "Crime|Thriller"}]).summary
    'Likes Heat (1995); mostly Crime, Thriller.'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from fusionrec.llm.user_profiles import MAX_SUMMARY_CHARS, UserProfile

#: Most genres named in a template profile.
TEMPLATE_GENRES = 3


def template_user_profile(history: Sequence[dict[str, Any]]) -> UserProfile | None:
    """``"Likes <titles>; mostly <genres>."`` cut to the longest kept summary; None for an empty history.

    Args:
        history: entries ``{"title", "genres", "rating", "item"}`` (as :func:`merged_history` gives), the most
            telling first; entries rated below 3 are left out of the titles (the user did not like them).
    """
    liked = [entry for entry in history if entry.get("rating", 5.0) >= 3.0] or list(history)
    if not liked:
        return None
    titles = [str(entry.get("title") or f"item {entry.get('item', '?')}") for entry in liked]
    genres = Counter(
        genre.strip() for entry in liked for genre in str(entry.get("genres", "")).split("|") if genre.strip()
    )
    tail = f"; mostly {', '.join(g for g, _ in genres.most_common(TEMPLATE_GENRES))}." if genres else "."
    text = "Likes " + ", ".join(titles)
    while len(text) + len(tail) > MAX_SUMMARY_CHARS and ", " in text:
        text = text.rsplit(", ", 1)[0]  # drop the least telling titles first
    return UserProfile(summary=(text + tail)[:MAX_SUMMARY_CHARS])


def merged_history(
    events: Sequence[dict[str, Any]], training: Sequence[dict[str, Any]], max_items: int
) -> list[dict[str, Any]]:
    """The user's events since training (newest first) then their training history, one entry per item.

    Args:
        events: event entries, newest first, each with ``"key"`` (the item id) and the item's fields; a
            rating event carries its ``"rating"``.
        training: the training entries (:func:`~fusionrec.llm.user_profiles.training_histories`), with ``"key"``.
        max_items: most entries kept.

    Returns:
        Entries without ``"key"``: an item named by an event is not repeated from training.
    """
    seen: set[str] = set()
    merged: list[dict[str, Any]] = []
    for entry in [*events, *training]:
        key = str(entry.get("key"))
        if key in seen:
            continue
        seen.add(key)
        merged.append({name: value for name, value in entry.items() if name != "key"})
        if len(merged) == max_items:
            break
    return merged


__all__ = ["TEMPLATE_GENRES", "merged_history", "template_user_profile"]
