"""Valid-only screen of a FusionGraph variant on TikTok: screen.py SEED PARAMS_JSON TAG [GRAPH_VARIANT]."""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import numpy as np, torch
torch.set_num_threads(1)
from multimodal import TUNED, load_dataset
from fusionrec.models import fusion_graph as fg
from fusionrec.models.knn_graph import knn_graph, Whitening, normalized_weights
from fusionrec.models.graph import symmetric_normalize

seed, extra, tag = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
variant = sys.argv[4] if len(sys.argv) > 4 else ""

GRAPH_VARIANTS = ("mix", "sym", "v99", "v999")


def kept_variance(whitening, fraction):
    """The whitening restricted to its highest-variance directions that hold ``fraction`` of the variance."""
    variance = 1.0 / (whitening.projection ** 2).sum(axis=0)  # each column is an eigenvector / sqrt(its variance)
    order = np.argsort(-variance)
    cumulative = np.cumsum(variance[order]) / variance.sum()
    keep = order[: int((cumulative < fraction).sum()) + 1]
    return Whitening(mean=whitening.mean, projection=whitening.projection[:, keep])


def variant_graph(self, split):
    """FusionGraph._catalog_graph for the graph variants: per modality, a graph built as ``variant`` says."""
    ds = split.dataset; masks = ds.all_feature_masks(); p = self.params
    share = normalized_weights(list(ds.features), p["modality_weights"])
    total = None
    for name, values in ds.features.items():
        mask = masks.get(name)
        whitening = Whitening.fit(values, mask)
        if variant == "mix":
            raw_graph = symmetric_normalize(knn_graph(values, p["knn_k"], mask))
            g = 0.5 * raw_graph + 0.5 * symmetric_normalize(knn_graph(whitening(values), p["knn_k"], mask))
        elif variant == "sym":
            a = knn_graph(whitening(values), p["knn_k"], mask)
            g = symmetric_normalize(a.maximum(a.T).tocsr())
        else:  # v99, v999: whitening kept to 0.99 / 0.999 of the variance
            kept = kept_variance(whitening, float("0." + variant[1:]))
            print(name, "keeps", kept.projection.shape[1], "of", whitening.projection.shape[1], file=sys.stderr)
            g = symmetric_normalize(knn_graph(kept(values), p["knn_k"], mask))
        g = g * share[name]
        total = g if total is None else total + g
    return total.tocsr().astype(np.float32)


if variant in GRAPH_VARIANTS:
    fg.FusionGraph._catalog_graph = variant_graph
elif variant not in ("", "whiteinput"):
    raise SystemExit(f"unknown variant {variant!r}: one of {GRAPH_VARIANTS + ('whiteinput',)} or none")

from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.evaluation import evaluate_model
split = load_dataset(Path(os.environ["FUSIONREC_DATA"]), "tiktok")
if variant == "whiteinput":
    ds = split.dataset
    for name in list(ds.features):
        mask = ds.feature_mask(name)
        ds.add_feature(name, Whitening.fit(ds.features[name], mask)(ds.features[name]), mask)
params = {**TUNED[("tiktok", "fusiongraph")]["params"], **extra}
t = time.time()
model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1}, seed)
model.fit(split)
res = evaluate_model(model, split, "valid", (20,), ("recall", "ndcg"))
row = {"tag": tag, "seed": seed, "extra": extra, "variant": variant, "valid": {k: float(v) for k, v in res.summary().items()}, "s": round(time.time() - t)}
print(json.dumps(row))
with open(Path(__file__).with_name("screen.jsonl"), "a") as f:
    f.write(json.dumps(row) + "\n")
