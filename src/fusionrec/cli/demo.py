"""``fusionrec demo``: the main job in one command.

With ``$FUSIONREC_DATA`` pointing at the shared benchmark data it runs the
``ml100k-mm`` recipe (MovieLens ratings, plot overviews and posters, encoded
into text and image features, cached); without it, a small deterministic
demo catalog generated on the fly. It trains the model to convergence
(early stopping on valid, by epochs: the same seed gives the same figures)
next to a popularity baseline, prints the metrics table with what it means,
and shows a few users' histories and top-10 lists with item titles.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from fusionrec import evaluation  # its names load on first use (lazy_loader): --help stays light
from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors, print_rows
from fusionrec.config import load_config
from fusionrec.data import demo_split

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig
    from fusionrec.data.dataset import Split
    from fusionrec.models.base import Recommender

REAL_DATASET = "ml100k-mm"
HISTORY_SHOWN = 5
MEANING = """What the table says:
  * valid picked the training epoch; test was read once, at that point, on items each user never showed in training.
  * recall@K: the share of a user's held-out items found in the top K; ndcg@K also rewards finding them higher up.
  * pop recommends the most-watched items to everyone: the model must beat it to have learned anything personal."""


@app.command()
@fail_on_library_errors
def demo(
    data_dir: Annotated[
        Path | None, typer.Option(help="Shared data folder (default $FUSIONREC_DATA; unset: built-in demo catalog).")
    ] = None,
    users: Annotated[int, typer.Option(help="How many users' top-10 lists to show.", min=1)] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (the same seed gives the same figures).")] = 0,
) -> None:
    """Train and evaluate a model, print the metrics table and a few users' top-10 lists with titles."""
    console.print("fusionrec demo: preparing the data (content is encoded once, then read from the cache)")
    split, config = load_demo(data_dir)
    console.print(
        f"[bold]data[/bold]: {split.dataset.name}, {split.description}; modalities {split.dataset.modalities}"
    )
    rows = []
    chosen: Recommender | None = None
    for name, params in (("pop", {}), (config.model.name, config.model.params)):
        console.print(f"training {name} (seed {seed}; progress below)")
        train: Any = config.train if name == config.model.name else None
        recommender, run = evaluation.fit_and_evaluate(split, name, params, train, seed, (10, 20), ("recall", "ndcg"))
        for part, figures in (("valid", run.valid), ("test", run.test)):
            rows.append({"model": name, "part": part, **figures.summary()})
        chosen = recommender
    print_rows("metrics (full ranking, training items excluded)", rows)
    console.print(MEANING, highlight=False)
    assert chosen is not None
    show_top_lists(chosen, split, users, seed)


def load_demo(data_dir: Path | None) -> tuple[Split, ExperimentConfig]:
    """The ml100k-mm recipe's data (encoded) and settings when the data is there, else the demo catalog."""
    folder = data_dir or (Path(os.environ["FUSIONREC_DATA"]) if os.environ.get("FUSIONREC_DATA") else None)
    if folder is None or not (folder / REAL_DATASET).is_dir():
        if folder is not None:
            console.print(f"{folder / REAL_DATASET} not found; using the built-in demo catalog")
        return demo_split(), load_config(None, {"model.name": "fusiongraph"})
    config = load_config(None, {"data.dir": str(folder)}, recipe=REAL_DATASET)
    return evaluation.prepare_split(config)


def show_top_lists(model: Recommender, split: Split, n_users: int, seed: int) -> None:
    """Print the history and top-10 titles of ``n_users`` users who have test items."""
    dataset = split.dataset
    candidates = split.test.users()
    picked = np.random.default_rng(seed).choice(candidates, size=min(n_users, len(candidates)), replace=False)
    user_ids = dataset.users.id(np.sort(picked))
    lists = model.recommend(user_ids, k=10)
    test_items = split.test.to_csr()
    train_items = split.train.to_csr()
    for user_id, ranked in zip(user_ids, lists, strict=True):
        index = int(dataset.users.index([user_id])[0])
        history = dataset.item_titles(train_items[index].indices[:HISTORY_SHOWN])
        held_out = set(test_items[index].indices.tolist())
        console.print(f"\n[bold]user {user_id}[/bold] liked e.g.: {'; '.join(history)}")
        for rank, (item_id, score) in enumerate(ranked, start=1):
            item_index = int(dataset.items.index([item_id])[0])
            mark = "  [green]<- in the user's test set[/green]" if item_index in held_out else ""
            console.print(f"  {rank:2d}. {dataset.item_titles([item_index])[0]}  ({score:.3f}){mark}")
