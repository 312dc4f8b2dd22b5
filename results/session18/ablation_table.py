"""ablation_table.py: session 18's TikTok ablation rows in one table, every row from this session's machine.

``ablation/`` ran content only, no content channel and no EASE channel with ``--reuse`` of session 17's run, which
was made on a float32 machine; ``ablation-all/`` is the recipe itself trained here (bfloat16 product), and
``ablation-p15/`` content only again with patience 15. This joins the rows trained here into ``ablation-table/``.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
from ablation import write_ablation  # noqa: E402


def rows(folder, relabel=None):
    found = json.loads((HERE / folder / "ablation.json").read_text())
    return [{**r, "model": (relabel or {}).get(r["model"], r["model"])} for r in found]


table = rows("ablation-all")
table += [r for r in rows("ablation") if r["model"] != "all"]
table += [r for r in rows("ablation-p15", {"content only": "content only (patience 15)"}) if r["model"] != "all"]
write_ablation(table, HERE / "ablation-table")
print((HERE / "ablation-table" / "ablation.md").read_text())
