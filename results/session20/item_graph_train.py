"""item_graph_train.py KIND SEED: README.md's third question. The recipe's member with a behaviour item graph
(KIND: cooc or ease) added to its content graph, trained as epochs_train.py trains (45 epochs, valid never read,
vectors kept after every epoch as $SCREEN_VECTORS/s20-KIND-SEED.npz). Test is never read.
"""

import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import epochs_train  # noqa: E402

from fusionrec.models.ease import ease_weights  # noqa: E402
from fusionrec.models.fusion_graph import FusionGraph  # noqa: E402
from fusionrec.models.graph import symmetric_normalize  # noqa: E402

K, WEIGHT, EASE_L2 = 10, 1.0, 200.0


def behaviour_similarity(train, kind):
    """float (n_items, n_items) item-item similarity of the training matrix, the diagonal left out."""
    binary = train.astype(bool).astype(np.float64)
    if kind == "cooc":
        gram = np.asarray((binary.T @ binary).todense())
        norms = np.sqrt(np.diag(gram))
        similarity = gram / np.where(norms > 0, norms, 1.0)[:, None] / np.where(norms > 0, norms, 1.0)[None, :]
    else:
        similarity = ease_weights(train, EASE_L2).astype(np.float64)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def behaviour_graph(train, kind):
    """D^-1/2 A D^-1/2 of each item's top-K positive-similarity neighbours (binary A)."""
    similarity = behaviour_similarity(train, kind)
    top = np.argpartition(-similarity, K, axis=1)[:, :K]
    rows = np.repeat(np.arange(len(similarity)), K)
    cols = top.ravel()
    keep = similarity[rows, cols] > 0
    shape = similarity.shape
    adjacency = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], cols[keep])), shape=shape)
    return symmetric_normalize(adjacency)


def main(kind, seed):
    original = FusionGraph._catalog_graph

    def with_behaviour(self, split):
        content = original(self, split)
        graph = behaviour_graph(split.train.to_csr(), kind)
        print(f"{kind}: {graph.nnz} behaviour edges, {np.diff(graph.indptr).astype(bool).sum()} items with some",
              flush=True)
        return (content + WEIGHT * graph).tocsr().astype(np.float32)

    FusionGraph._catalog_graph = with_behaviour
    epochs_train.main(seed, name=f"s20-{kind}-{seed}", log_extra={"kind": kind})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
