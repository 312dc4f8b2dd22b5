"""The template profile: what a user likes, from the same history a language model would read."""

from __future__ import annotations

from fusionrec.llm.user_profiles import MAX_SUMMARY_CHARS
from fusionrec.llm.user_template import merged_history, template_user_profile


def test_the_template_names_liked_titles_in_order_and_the_commonest_genres() -> None:
    history = [
        {"title": "Alien (1979)", "genres": "Horror|Sci-Fi"},
        {"title": "Heat (1995)", "genres": "Crime", "rating": 5.0},
        {"title": "Jaws (1975)", "genres": "Horror", "rating": 1.0},  # not liked: left out
        {"item": "i9"},
    ]
    profile = template_user_profile(history)
    assert profile is not None
    assert profile.summary == "Likes Alien (1979), Heat (1995), item i9; mostly Horror, Sci-Fi, Crime."


def test_a_long_history_drops_the_least_telling_titles_and_keeps_the_genres() -> None:
    history = [{"title": f"A rather long film title number {i}", "genres": "Drama"} for i in range(20)]
    profile = template_user_profile(history)
    assert profile is not None and len(profile.summary) <= MAX_SUMMARY_CHARS
    assert profile.summary.startswith("Likes A rather long film title number 0,")
    assert profile.summary.endswith("; mostly Drama.")


def test_only_disliked_items_still_give_a_profile_and_no_history_gives_none() -> None:
    assert template_user_profile([{"title": "Jaws (1975)", "rating": 1.0}]) is not None
    assert template_user_profile([]) is None


def test_events_come_first_and_an_item_is_described_once() -> None:
    events = [{"key": "2", "title": "Alien"}, {"key": "7", "title": "Brazil"}]
    training = [{"key": "1", "title": "Heat", "rating": 5.0}, {"key": "2", "title": "Alien", "rating": 3.0}]
    assert merged_history(events, training, max_items=10) == [
        {"title": "Alien"},
        {"title": "Brazil"},
        {"title": "Heat", "rating": 5.0},
    ]
    assert len(merged_history(events, training, max_items=2)) == 2
