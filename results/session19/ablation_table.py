"""ablation_table.py: session 19's TikTok ablation of the recipe with unit-length layer-0 vectors in one table.

Every row ran on this session's machine with ``--reuse results/session19/benchmark`` (the ``all`` row is the
benchmark's own run): ``ablation/`` -audio and behaviour only, ``ablation-p15/`` -image and content only with
patience 15 (their slow start breaks patience 5, sessions 14-18), ``ablation-channels/`` no content channel and no
EASE channel, ``ablation-content-plain/`` content only with unit_layer0 off (``content_only_plain.py``). Writes
``ablation-table/``.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
from ablation import write_ablation  # noqa: E402

P15 = {"-image": "-image (patience 15)", "content only": "content only (patience 15)"}


def rows(folder, relabel=None):
    found = json.loads((HERE / folder / "ablation.json").read_text())
    return [{**r, "model": (relabel or {}).get(r["model"], r["model"])} for r in found]


table = rows("ablation")
table += [r for r in rows("ablation-p15", P15) if r["model"] != "all"]
table += [r for r in rows("ablation-channels") if r["model"] != "all"]
table += [r for r in rows("ablation-content-plain") if r["model"] != "all"]
write_ablation(table, HERE / "ablation-table")
print((HERE / "ablation-table" / "ablation.md").read_text())
