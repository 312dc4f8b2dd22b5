"""A small synthetic movie catalog, generated on the fly, for demos, docs and quick tests.

Users have a latent taste over a few genres; each film belongs to a main
genre (sometimes a second one). Which films a user watches, and how they
rate them, follows that taste and the film's popularity. The "text" and
"image" feature arrays are noisy functions of the genres, so content
genuinely explains preference: a content-aware model can beat an ID-only
one on items with little history. Titles ("The Quiet Harbour") and
overviews are built from word lists so the catalog reads like one.

Nothing is read from disk; the same seed gives the identical catalog.

Example:
    >>> dataset = make_demo_catalog(seed=0)
    >>> dataset.n_users, dataset.n_items
    (600, 400)
    >>> dataset.item_titles([0])[0].startswith("The ")
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fusionrec.data.dataset import Dataset, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.splits import random_split
from fusionrec.data.vocabulary import Vocabulary

START_TIME = 1_577_836_800  # 2020-01-01 UTC
YEAR_SECONDS = 365 * 24 * 3600
TEXT_DIM, IMAGE_DIM = 32, 16

# fmt: off
ADJECTIVES = (
    "Quiet", "Silent", "Hidden", "Broken", "Golden", "Distant", "Last", "Lost", "Crimson", "Burning", "Frozen",
    "Endless", "Secret", "Wild", "Hollow", "Restless", "Northern", "Velvet", "Iron", "Paper", "Midnight", "Bright",
    "Fading", "Shattered", "Gentle", "Savage", "Electric", "Forgotten", "Painted", "Lonely", "Silver", "Sunken",
    "Winter", "Summer", "Wandering", "Bitter", "Brave", "Little", "Strange", "Narrow"
)
NOUNS = (
    "Harbour", "Garden", "River", "Mountain", "Promise", "Signal", "Kingdom", "Letter", "Mirror", "Orchard",
    "Station", "Lantern", "Horizon", "Voyage", "Island", "Bridge", "Forest", "Machine", "Ocean", "Archive",
    "Carnival", "Compass", "Cathedral", "Frontier", "Meadow", "Engine", "Festival", "Lighthouse", "Desert", "Tower",
    "Canyon", "Empire", "Reunion", "Circuit", "Passage", "Village", "Comet", "Shadow", "Season", "Crown"
)
# fmt: on

GENRES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Drama": (
        ("a grieving father", "two estranged sisters", "a young teacher", "an ageing boxer"),
        ("must face the choices that tore the family apart", "tries to hold on to a fading dream"),
        ("in a small industrial town.", "over one long, hard winter.", "after the factory closes."),
    ),
    "Comedy": (
        ("a hopeless wedding planner", "two rival food-truck owners", "an accident-prone substitute teacher"),
        ("stumbles from one ridiculous disaster to the next", "fakes a whole career to impress the in-laws"),
        ("during the worst holiday weekend ever.", "at a chaotic family reunion.", "in a very small village."),
    ),
    "Sci-Fi": (
        ("a stranded engineer", "an android with a secret", "the crew of a deep-space freighter"),
        ("races to repair a failing starship", "discovers a signal from a dead civilisation"),
        ("on a distant colony.", "at the edge of the galaxy.", "in a city run by machines."),
    ),
    "Horror": (
        ("a family of five", "a group of college friends", "a night-shift nurse"),
        ("is hunted by something that lives in the walls", "uncovers a curse buried under the house"),
        ("in an abandoned asylum.", "deep in the haunted woods.", "on the longest night of the year."),
    ),
    "Romance": (
        ("a shy bookseller", "two former sweethearts", "a travelling violinist"),
        ("fall in love against every odd", "find each other again after twenty years"),
        ("in a sunlit seaside town.", "during one magical summer in Paris.", "at a winter wedding."),
    ),
    "Documentary": (
        ("a team of marine biologists", "veteran climbers", "the people of a remote valley"),
        ("record the true story of a changing world", "follow the migration of whales"),
        ("across three continents.", "over a decade of filming.", "through rare archive footage."),
    ),
    "Animation": (
        ("a brave little fox", "a toy robot", "a curious young dragon"),
        ("sets out on a colourful quest to find home", "learns the true meaning of friendship"),
        ("in an enchanted forest.", "in a kingdom of talking animals.", "beyond the rainbow mountains."),
    ),
    "Thriller": (
        ("a disgraced detective", "an undercover agent", "a witness on the run"),
        ("must stop a conspiracy before time runs out", "is framed for a murder he did not commit"),
        ("in the neon streets of the city.", "aboard a speeding night train.", "inside a corrupt police force."),
    ),
}
GENRE_NAMES = tuple(GENRES)


def make_demo_catalog(
    seed: int = 0, n_users: int = 600, n_items: int = 400, mean_interactions: float = 25.0, image_missing: float = 0.03
) -> Dataset:
    """Generate the demo catalog: users, films with text and features, ratings and times.

    Args:
        seed: random seed; the same seed gives the identical dataset.
        n_users: number of users (raw ids ``u001``...).
        n_items: number of films (raw ids ``m001``...).
        mean_interactions: average interactions per user (at least 5 each).
        image_missing: share of films without a usable image (masked, zero rows).

    Returns:
        A Dataset with ``item_table`` (item_id, title, genres, year,
        overview), ``"text"`` float32 (n_items, 32) and ``"image"`` float32
        (n_items, 16) features, ratings 1-5 and Unix timestamps.

    Example:
        >>> make_demo_catalog(seed=1, n_users=50, n_items=40).modalities
        ['image', 'text']
    """
    rng = np.random.default_rng(seed)
    main, second = _item_genres(rng, n_items)
    taste = rng.dirichlet(np.full(len(GENRE_NAMES), 0.3), size=n_users)  # (n_users, n_genres)
    affinity = _affinity(taste, main, second)  # (n_users, n_items)
    popularity = rng.lognormal(0.0, 0.7, size=n_items)
    interactions = _sample_interactions(rng, affinity, popularity, mean_interactions)
    dataset = Dataset(
        name="demo",
        users=Vocabulary.from_ids(_ids("u", n_users), kind="user"),
        items=Vocabulary.from_ids(_ids("m", n_items), kind="item"),
        interactions=interactions,
        item_table=_item_table(rng, main, second),
        text_columns=["title", "genres", "overview"],
    )
    genre_mix = _genre_mix(main, second)  # (n_items, n_genres)
    dataset.add_feature("text", _noisy_projection(rng, genre_mix, TEXT_DIM, noise=0.6), source="demo text")
    image = _noisy_projection(rng, genre_mix, IMAGE_DIM, noise=0.9)
    usable = rng.random(n_items) >= image_missing
    image[~usable] = 0.0
    dataset.add_feature("image", image, usable, source="demo image")
    return dataset


def demo_split(seed: int = 0) -> Split:
    """The demo catalog split per user at random 8:1:1 (same seed for catalog and split).

    Example:
        >>> split = demo_split()
        >>> split.protocol
        'warm'
    """
    return random_split(make_demo_catalog(seed=seed), ratios=(0.8, 0.1, 0.1), seed=seed)


def _ids(prefix: str, n: int) -> list[str]:
    width = len(str(n))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def _item_genres(rng: np.random.Generator, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 (n_items,) main genre and (n_items,) second genre, -1 where there is none."""
    n_genres = len(GENRE_NAMES)
    main = rng.integers(0, n_genres, size=n_items)
    offset = rng.integers(1, n_genres, size=n_items)  # never the main genre
    second = np.where(rng.random(n_items) < 0.3, (main + offset) % n_genres, -1)
    return main, second


def _genre_mix(main: np.ndarray, second: np.ndarray) -> np.ndarray:
    """float64 (n_items, n_genres): weight 1 on the main genre, 0.5 on the second."""
    mix = np.zeros((len(main), len(GENRE_NAMES)))
    mix[np.arange(len(main)), main] = 1.0
    has_second = second >= 0
    mix[np.flatnonzero(has_second), second[has_second]] = 0.5
    return mix


def _affinity(taste: np.ndarray, main: np.ndarray, second: np.ndarray) -> np.ndarray:
    """float64 (n_users, n_items) in [0, 1]: how much each user's taste covers each film's genres."""
    score = taste @ _genre_mix(main, second).T  # (n_users, n_items)
    best = score.max(axis=1, keepdims=True)
    affinity: np.ndarray = score / np.maximum(best, 1e-12)
    return affinity


def _sample_interactions(
    rng: np.random.Generator, affinity: np.ndarray, popularity: np.ndarray, mean_interactions: float
) -> Interactions:
    """Per user, films drawn without replacement with odds ~ (affinity^2 + 0.01) x popularity."""
    n_users, n_items = affinity.shape
    sizes = np.clip(rng.lognormal(np.log(mean_interactions) - 0.125, 0.5, size=n_users), 5, n_items // 2)
    users, items, ratings, times = [], [], [], []
    for user in range(n_users):
        odds = (affinity[user] ** 2 + 0.01) * popularity
        chosen = rng.choice(n_items, size=int(sizes[user]), replace=False, p=odds / odds.sum())
        noise = rng.normal(0.0, 0.7, size=len(chosen))
        users.append(np.full(len(chosen), user))
        items.append(chosen)
        ratings.append(np.clip(np.rint(1.5 + 3.5 * affinity[user, chosen] + noise), 1, 5))
        times.append(START_TIME + np.sort(rng.integers(0, YEAR_SECONDS, size=len(chosen))))
    return Interactions(
        np.concatenate(users).astype(np.int64),
        np.concatenate(items).astype(np.int64),
        n_users,
        n_items,
        rating=np.concatenate(ratings).astype(np.float32),
        timestamp=np.concatenate(times).astype(np.int64),
    )


def _noisy_projection(rng: np.random.Generator, genre_mix: np.ndarray, dim: int, noise: float) -> np.ndarray:
    """float32 (n_items, dim): a random linear map of the genre mix plus Gaussian noise."""
    centroids = rng.normal(size=(genre_mix.shape[1], dim))  # (n_genres, dim)
    values = genre_mix @ centroids + noise * rng.normal(size=(genre_mix.shape[0], dim))
    return values.astype(np.float32)


def _item_table(rng: np.random.Generator, main: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    n_items = len(main)
    return pd.DataFrame(
        {
            "item_id": _ids("m", n_items),
            "title": _titles(rng, n_items),
            "genres": [_genre_text(m, s) for m, s in zip(main, second, strict=True)],
            "year": rng.integers(1970, 2025, size=n_items).astype(str),
            "overview": [_overview(rng, GENRE_NAMES[m]) for m in main],
        }
    )


def _titles(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct titles such as "The Quiet Harbour" (a sequel number once combinations run out)."""
    n_pairs = len(ADJECTIVES) * len(NOUNS)
    picks = np.concatenate([rng.permutation(n_pairs) for _ in range(n // n_pairs + 1)])[:n]
    titles = []
    for position, pick in enumerate(picks):
        title = f"The {ADJECTIVES[pick // len(NOUNS)]} {NOUNS[pick % len(NOUNS)]}"
        sequel = position // n_pairs
        titles.append(f"{title} {sequel + 1}" if sequel else title)
    return titles


def _genre_text(main: int, second: int) -> str:
    return GENRE_NAMES[main] if second < 0 else f"{GENRE_NAMES[main]}|{GENRE_NAMES[second]}"


def _overview(rng: np.random.Generator, genre: str) -> str:
    who, what, where = GENRES[genre]
    sentence = f"{rng.choice(who)} {rng.choice(what)} {rng.choice(where)}"
    return sentence[0].upper() + sentence[1:]
