"""Valid-only: ens.py SEED -> whitened W(s), raw R(s), whitened W(s+1000), and the mean-score ensembles W+R, W+W'."""
import json, os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import torch
torch.set_num_threads(1)
from multimodal import TUNED, load_dataset
from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.evaluation.protocol import train_matrix
from fusionrec.evaluation.ranking import evaluate_scores

seed = int(sys.argv[1])
split = load_dataset(Path(os.environ["FUSIONREC_DATA"]), "tiktok")
base = TUNED[("tiktok", "fusiongraph")]["params"]
def fit(params, s):
    m = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1}, s)
    return m.fit(split)
models = {"W": fit(base, seed), "R": fit({**base, "graph_whitening": None}, seed), "W2": fit(base, seed + 1000)}
def score(names):
    return lambda users: sum(models[n].score_users(users) for n in names) / len(names)
out = {}
for names in (["W"], ["R"], ["W2"], ["W", "R"], ["W", "W2"]):
    ev = evaluate_scores(score(names), train_matrix(split), split.part("valid").to_csr(), ks=(20,), metrics=("recall", "ndcg"), candidates=split.candidates("valid"))
    out["+".join(names)] = {k: float(v) for k, v in ev.summary().items()}
row = {"seed": seed, "valid": out}
print(json.dumps(row))
with open(Path(__file__).with_name("ens.jsonl"), "a") as f:
    f.write(json.dumps(row) + "\n")
