"""stage_diagnostic.py: what the fourth question's second stage learned, on one pair (seeds 8 and 9 at epoch 26),
fitted on valid half A and read on half B; decides nothing. Prints the stage without each feature, with two
features, and the training-interaction profile of the held-out items against the first and second stages' top
20. Test is never read.
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from epochs_read import Valid, load  # noqa: E402
from rerank_read import STAGE, Pair  # noqa: E402

sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import tiktok  # noqa: E402

NAMES = ["score", "cos", "ease", "content", "diff", "position", "log_item_deg", "log_user_deg"]
BINS = [0, 1, 2, 3, 5, 10, 20, 50, 100, 1e9]


def share_by_degree(degrees):
    return (np.histogram(degrees, bins=BINS)[0] / len(degrees)).round(3).tolist()


def main():
    from sklearn.ensemble import HistGradientBoostingClassifier

    valid = Valid(tiktok())
    runs = {s: load(s) for s in (8, 9)}
    channel = runs[8][2]
    item_degree = np.asarray(valid.train.sum(0)).ravel().astype(float)
    user_degree = np.diff(valid.train.indptr).astype(float)
    members = [(runs[s][0][25], runs[s][1][25]) for s in (8, 9)]
    fit = Pair(valid, valid.halves["A"], members, channel, item_degree, user_degree)
    read = Pair(valid, valid.halves["B"], members, channel, item_degree, user_degree)

    def staged(columns):
        stage = HistGradientBoostingClassifier(**STAGE).fit(fit.features[:, columns], fit.labels.ravel())
        return stage.predict_proba(read.features[:, columns])[:, 1]

    print("first stage", read.figures().mean(1).round(4).tolist())
    print("all features", read.figures(staged(list(range(8)))).mean(1).round(4).tolist())
    for j, name in enumerate(NAMES):
        print("without", name, read.figures(staged([c for c in range(8) if c != j])).mean(1).round(4).tolist())
    for pair in ([0, 6], [0, 5], [0]):
        print("only", [NAMES[c] for c in pair], read.figures(staged(pair)).mean(1).round(4).tolist())
    features = read.features.reshape(read.shape + (8,))
    order = np.argsort(-staged(list(range(8))).reshape(read.shape), axis=1)[:, :20]
    print("degree bins", BINS[:-1])
    print("held-out items", share_by_degree(item_degree[valid.targets[valid.halves["B"]]]))
    print("first stage top 20", share_by_degree(np.expm1(features[:, :20, 6]).ravel()))
    print("second stage top 20", share_by_degree(np.expm1(np.take_along_axis(features[:, :, 6], order, 1)).ravel()))


if __name__ == "__main__":
    main()
