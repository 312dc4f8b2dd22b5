"""How far apart are the old and new TikTok schedules on test? old_vs_new.py OUT (reads test; chooses nothing).

Runs the TikTok recipe with session 12's training settings (batch 1,024, lr 0.01, weight average 0.97, patience
15: the model's defaults) for seeds 0-2 into OUT/old (skipped when already there), then the paired t-test and
Wilcoxon of the per-user test Recall/NDCG@20, averaged over seeds, against the adopted schedule's run in
results/session13/benchmark. Written after the adopted schedule's test figures were seen, to say whether their
drop is noise; the recipe was fixed by the rule in README.md and this does not change it.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import multimodal  # noqa: E402

from fusionrec.evaluation.significance import compare_files  # noqa: E402

out = Path(sys.argv[1]) / "old"
new = Path(__file__).with_name("benchmark")
files = [out / "tiktok" / "fusiongraph" / f"tiktok_fusiongraph_seed{s}_test.npz" for s in range(3)]
if not all(f.exists() for f in files):
    multimodal.TUNED[("tiktok", "fusiongraph")].pop("train")
    multimodal.run_one(Path(os.environ["FUSIONREC_DATA"]), "tiktok", "fusiongraph", 3, out, 1, {})
new_files = [new / "tiktok" / "fusiongraph" / f"tiktok_fusiongraph_seed{s}_test.npz" for s in range(3)]
for t in compare_files(new_files, files, ["recall@20", "ndcg@20"]):
    print(f"{t.metric}: new {t.mean_a:.4f} vs old {t.mean_b:.4f} (diff {t.mean_diff:+.4f}, {t.n_users} users); "
          f"paired t p = {t.t_pvalue:.2g}, Wilcoxon p = {t.wilcoxon_pvalue:.2g}")
