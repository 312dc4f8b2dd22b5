"""Valid-only, post hoc: chan.py SEED -> the TUNED model of SEED, valid with its channel and with a whitened-space channel."""
import json, os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import torch
torch.set_num_threads(1)
from multimodal import TUNED, load_dataset
from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.evaluation import evaluate_model
from fusionrec.models.content_channel import ContentChannel
from fusionrec.models.knn_graph import Whitening

seed = int(sys.argv[1])
split = load_dataset(Path(os.environ["FUSIONREC_DATA"]), "tiktok")
m = build_for_seed("fusiongraph", TUNED[("tiktok", "fusiongraph")]["params"], {"progress": False, "threads": 1}, seed).fit(split)
def valid():
    s = evaluate_model(m, split, "valid", (20,), ("recall", "ndcg")).summary()
    return (round(float(s["recall@20"]), 4), round(float(s["ndcg@20"]), 4))
out = {"standardised": valid()}
ds = split.dataset
raw = dict(ds.features)
white = {n: Whitening.fit(v, ds.feature_mask(n))(v) for n, v in raw.items()}
for w in (0.2, 0.3):
    ds.features.update(white)
    m._content_channel = ContentChannel.build(split, w, 10.0)
    ds.features.update(raw)
    m.refresh_vectors()
    out[f"whitened w={w}"] = valid()
m._content_channel = ContentChannel.build(split, 0.3, 10.0)
m.refresh_vectors()
out["standardised w=0.3"] = valid()
print(json.dumps({"seed": seed, "valid": out}))
with open(Path(__file__).with_name("chan.jsonl"), "a") as f:
    f.write(json.dumps({"seed": seed, "valid": out}) + "\n")
