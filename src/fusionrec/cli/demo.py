"""``fusionrec demo``: the main job in one command.

With ``$FUSIONREC_DATA`` pointing at the shared benchmark data it uses the
real MovieLens catalog there (``ml100k-mm``: ratings, plot overviews and
posters, encoded into text and image features); without it, a small
deterministic demo catalog generated on the fly. It trains the default
model next to a popularity baseline, prints the metrics table, and shows a
few users' histories and top-10 lists with item titles.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors, print_rows

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.base import Recommender

REAL_DATASET = "ml100k-mm"
HISTORY_SHOWN = 5


@app.command()
@fail_on_library_errors
def demo(
    data_dir: Annotated[
        Path | None, typer.Option(help="Shared data folder (default $FUSIONREC_DATA; unset: built-in demo catalog).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model to train (default: fusionrec's default model).")] = None,
    users: Annotated[int, typer.Option(help="How many users' top-10 lists to show.", min=1)] = 3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    max_train_seconds: Annotated[
        float, typer.Option(help="Training time budget; the best valid epoch so far is kept when it runs out.")
    ] = 180.0,
) -> None:
    """Train and evaluate a model, print the metrics table and a few users' top-10 lists with titles."""
    from fusionrec.evaluation.benchmark import build_for_seed
    from fusionrec.evaluation.protocol import evaluate_model
    from fusionrec.models import DEFAULT_MODEL

    split = load_demo_split(data_dir)
    console.print(
        f"[bold]data[/bold]: {split.dataset.name}, {split.description}; modalities {split.dataset.modalities}"
    )
    rows = []
    chosen: Recommender | None = None
    for name in ("pop", model or DEFAULT_MODEL):
        recommender = build_for_seed(name, {}, {"seed": seed, "max_seconds": max_train_seconds}, seed)
        recommender.fit(split)
        for part in ("valid", "test"):
            summary = evaluate_model(recommender, split, part).summary()  # type: ignore[arg-type]
            rows.append(
                {"model": name, "part": part, **{k: v for k, v in summary.items() if k.endswith(("@10", "@20"))}}
            )
        chosen = recommender
    print_rows("metrics (full ranking, training items excluded; valid chose the epoch)", rows)
    assert chosen is not None
    show_top_lists(chosen, split, users, seed)


def load_demo_split(data_dir: Path | None) -> Split:
    """ml100k-mm with encoded text and poster features when the data is there, else the demo catalog."""
    folder = data_dir or (Path(os.environ["FUSIONREC_DATA"]) if os.environ.get("FUSIONREC_DATA") else None)
    if folder is None or not (folder / REAL_DATASET).is_dir():
        from fusionrec.data import demo_split

        if folder is not None:
            console.print(f"{folder / REAL_DATASET} not found; using the built-in demo catalog")
        return demo_split()
    from fusionrec.encoders.loading import read_encoded

    split, report = read_encoded(folder / REAL_DATASET)
    console.print(report.to_text(), highlight=False)
    return split


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
