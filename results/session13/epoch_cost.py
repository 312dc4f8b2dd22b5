"""Seconds per training epoch of the session-13 variants with the float32 score product: epoch_cost.py [ROUNDS].

Trains the TUNED TikTok single model as `base` and as `b2048` (curves.py's VARIANTS) for 8 epochs each, one torch
thread, `bf16_scores=False` (what a CPU without bfloat16 computes), alternating ROUNDS times (default 2), and
prints each run's seconds per epoch (epochs 2-8: the first pays for warm-up) and the ratio. Valid is not read:
stopping is off (patience above the epochs).
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
from common import one_model_params
from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.models import training
from multimodal import load_dataset

torch.set_num_threads(1)
VARIANTS = {"base": {}, "b2048": {"batch_size": 2048, "lr": 0.014, "average_decay": 0.94}}
split = load_dataset(Path(__import__("os").environ["FUSIONREC_DATA"]), "tiktok")
seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
original_epoch = training._run_epoch

for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 2):
    for name, train in VARIANTS.items():
        times: list[float] = []

        def timed_epoch(*args, **kwargs):
            started = time.perf_counter()
            loss = original_epoch(*args, **kwargs)
            times.append(time.perf_counter() - started)
            return loss

        training._run_epoch = timed_epoch
        config = {"progress": False, "threads": 1, "epochs": 8, "patience": 100, "eval_every": 100, **train}
        model = build_for_seed("fusiongraph", {**one_model_params(), "bf16_scores": False}, config, 0)
        model.fit(split)
        seconds[name].append(float(np.mean(times[1:])))
        print(
            f"{name}: {seconds[name][-1]:.3f} s/epoch (epochs 2-8: {' '.join(f'{t:.2f}' for t in times[1:])})",
            flush=True,
        )
base, b2048 = np.mean(seconds["base"]), np.mean(seconds["b2048"])
print(f"mean: base {base:.3f}, b2048 {b2048:.3f} s/epoch, ratio {b2048 / base:.3f}")
