"""Mean valid figures per variant of screen.jsonl: summary.py [VARIANT ...] (half A/B runs show both halves)."""

import json
import sys
from collections import defaultdict
from pathlib import Path

rows = [json.loads(line) for line in Path(__file__).with_name("screen.jsonl").read_text().splitlines() if line]
chosen = set(sys.argv[1:])
groups = defaultdict(list)
for row in rows:
    if not chosen or row["variant"] in chosen:
        groups[row["variant"]].append(row)
for variant, runs in groups.items():
    seeds = " ".join(str(r["seed"]) for r in runs)
    line = f"{variant:28s} seeds {seeds:20s}"
    for part in ("valid", "valid_b"):
        values = [r[part] for r in runs if part in r]
        if values:
            recall = sum(v["recall@20"] for v in values) / len(values)
            ndcg = sum(v["ndcg@20"] for v in values) / len(values)
            line += f" {'A' if part == 'valid' and 'valid_b' in runs[0] else part}: {recall:.4f} / {ndcg:.4f}"
    print(line)
