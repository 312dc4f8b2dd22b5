"""Cold-start items with a behaviour-tuned text encoder against frozen MiniLM and content-kNN (ml100k-mm-cold).

Every run uses public APIs only: the ``ml100k-mm-cold`` recipe with its text
encoder either frozen (all-MiniLM-L6-v2) or tuned on the training
interactions (``behaviour_tuning``), the flagship and content-kNN, seeds
0..N-1, test read once at the valid-chosen point; paired tests over users.

Usage::

    FUSIONREC_DATA=../shared/data python experiments/behaviour_tuned_text.py --out runs/behaviour-text --seeds 3
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from fusionrec.config import load_config
from fusionrec.encoders.config import EncoderSpec
from fusionrec.evaluation import run_experiment
from fusionrec.evaluation.significance import compare_results

TEXT: dict[str, Any] = {
    "modality": "text",
    "name": "minilm",
    "template": "{title} | {genres} | {overview}",
    "required": ["overview"],
}
POSTER: dict[str, Any] = {"modality": "image", "name": "efficientnet-lite0", "column": "poster"}
TUNING: dict[str, Any] = {"max_pairs": 4000, "epochs": 1}


def run(out: Path, seeds: int, model: str, tuned: bool) -> dict[str, Any]:
    """One arm: the cold recipe's settings for the flagship, or content-kNN, with a frozen or tuned text encoder."""
    text = {**TEXT, "behaviour_tuning": TUNING} if tuned else TEXT
    overrides = {
        "seeds": json.dumps(list(range(seeds))),
        "output.dir": json.dumps(str(out / f"{model}-{'tuned' if tuned else 'frozen'}")),
    }
    if model != "fusiongraph":
        overrides |= {"model.name": json.dumps(model), "model.params": "{}"}
    config = load_config(None, overrides, recipe="ml100k-mm-cold")
    return run_experiment(config.model_copy(update={"encoders": [EncoderSpec(**text), EncoderSpec(**POSTER)]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/behaviour-text"))
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")  # progress
    rows = []
    for model in ("fusiongraph", "content-knn"):
        for tuned in (False, True):
            result = run(args.out, args.seeds, model, tuned)
            rows.append((model, tuned, result["metrics"]["recall@20"], result["metrics"]["ndcg@20"]))
    for model, tuned, recall, ndcg in rows:
        label = f"{model} ({'tuned' if tuned else 'frozen'} text)"
        print(f"{label}: recall@20 {recall['mean']:.4f} ± {recall['std']:.4f}, ndcg@20 {ndcg['mean']:.4f}")
    pairs = [("fusiongraph-tuned", "fusiongraph-frozen"), ("content-knn-tuned", "content-knn-frozen"),
             ("fusiongraph-tuned", "content-knn-frozen")]  # fmt: skip
    for a, b in pairs:
        for test in compare_results(args.out / a, args.out / b):
            if test.metric in ("recall@20", "ndcg@20"):
                print(f"{a} vs {b} {test.metric}: {test.mean_diff:+.4f} (t p {test.t_pvalue:.2g}, "
                      f"Wilcoxon p {test.wilcoxon_pvalue:.2g}, {test.n_users} users)")  # fmt: skip


if __name__ == "__main__":
    main()
