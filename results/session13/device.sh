#!/usr/bin/env bash
# The session-13 screen on a lent many-core machine: curves.py for base, lr15 and b2048, seeds 0-9, one torch thread
# per run, RUNS at a time; then rules.py. Needs .whl (pydantic for Python 3.12) and .devdata/tiktok beside the repo.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src FUSIONREC_DATA=$PWD/.devdata SCREEN_VECTORS=/tmp/vec SCREEN_LOG=$OUT/curves.jsonl
export MIN_EPOCHS=${MIN_EPOCHS:-50} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1 PYTHONHASHSEED=0
lscpu | grep -E "Model name|^CPU\(s\)" ; lscpu | grep -o "amx_bf16\|avx512_bf16" | sort -u
python3 -c "import torch; print('torch', torch.__version__, torch.ops.mkldnn._is_mkldnn_bf16_supported())"
mkdir -p /tmp/logs
for name in base lr15 b2048; do for seed in 0 1 2 3 4 5 6 7 8 9; do echo "$seed $name"; done; done |
  timeout "${BUDGET:-400}" xargs -P "${RUNS:-16}" -L 1 sh -c \
  'python3 results/session13/curves.py $0 $1 > /tmp/logs/$1-$0.txt 2>&1; echo "done $1 $0 rc=$?"'
WORKERS=16 RULES_JSON=$OUT/rules.json timeout 150 python3 results/session13/rules.py base lr15 b2048 2>&1 | tee $OUT/rules.txt
for f in /tmp/logs/*.txt; do echo "== $f"; tail -5 "$f"; done > $OUT/logs.txt
