"""content_only_plain.py: the ablation's content-only row (no item IDs, no EASE, patience 15) with unit_layer0 off.

With the recipe's unit-length layer-0 vectors the content-only variant collapses (`ablation-p15/`: 0.0271 / 0.0115),
so this row shows what content alone gives without them, beside it. Seeds 0-2, one thread, this machine; the
``all`` row is the benchmark's run. Writes ``ablation-content-plain/ablation.json``. Test is read as the ablation
reads it (a report row; nothing is chosen on it).
"""

import json
import os
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
from ablation import run_variant, write_ablation  # noqa: E402
from multimodal import load_dataset  # noqa: E402

LABEL = "content only, unit_layer0 off (patience 15)"


def main():
    torch.set_num_threads(1)
    split = load_dataset(Path(os.environ["FUSIONREC_DATA"]), "tiktok")
    args = type("Args", (), {"seeds": 3, "threads": 1, "train": ["patience=15"]})()
    extra = {"item_ids": False, "ease_weight": 0.0, "unit_layer0": False}
    row = run_variant("tiktok", LABEL, split, extra, args)
    all_row = next(r for r in json.loads((HERE / "ablation" / "ablation.json").read_text()) if r["model"] == "all")
    write_ablation([all_row, row], HERE / "ablation-content-plain")
    print((HERE / "ablation-content-plain" / "ablation.md").read_text())


if __name__ == "__main__":
    main()
