"""Modality ablation of the FusionGraph flagship: what each modality, the item IDs and the content contribute.

Variants, each fitted for every seed with early stopping on valid and
evaluated on test at the valid-chosen point:

* ``all``: every modality the dataset has, plus item IDs (the flagship);
* ``-<modality>``: that modality removed (the model never sees it);
* ``content only``: no item ID embeddings, items are known only by their
  features (users keep theirs), and no EASE channel (it reads item identities);
* ``behaviour only``: no content at all (LightGCN with the flagship's
  softmax training);
* ``no content channel``: every modality in the learned tower, but without
  the fixed content-similarity channel (where the flagship's settings use it);
* ``no EASE channel``: the flagship without EASE's item-item scores (where its
  settings add them).

Settings are the flagship's recipe for the data set (``fusionrec recipes``).

Usage::

    python benchmarks/ablation.py --out runs/ablation --datasets tiktok ml100k-mm --seeds 3
    python benchmarks/ablation.py --out runs/ablation --reuse runs/multimodal  # 'all' = the benchmark's runs
    python benchmarks/ablation.py --out runs/ablation --datasets tiktok  # replaces tiktok's rows, keeps the rest
    python benchmarks/ablation.py --out runs/ablation-p15 --datasets tiktok --train patience=15  # every row

Writes ``<out>/ablation.md``, ``<out>/ablation.json`` and ``<out>/ablation.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from multimodal import FLAGSHIP, load_dataset, machine_lines, tuned
from startup import add_common_arguments, settings, start


def main() -> int:
    args = _parser().parse_args()
    data_dir = start(args)
    import torch

    torch.set_num_threads(args.threads)
    results = []
    for dataset in args.datasets:
        split = load_dataset(data_dir, dataset)
        uses = _uses_channel(dataset), _uses_ease(dataset), _uses_second_stage(dataset)
        for label, variant, params in variants(split, *uses):
            if args.variants and label not in args.variants and label != "all":
                continue
            reused = reused_full_run(args.reuse, dataset, args.seeds) if label == "all" else None
            if reused is not None:
                print(f"ablation {dataset}: all (read from {args.reuse})", flush=True)
                results.append({**reused, "model": "all", "modalities": split.dataset.modalities})
                continue
            print(f"ablation {dataset}: {label}", flush=True)
            results.append(run_variant(dataset, label, variant, params, args))
    write_ablation(kept_rows(Path(args.out), args.datasets) + results, Path(args.out))
    print((Path(args.out) / "ablation.md").read_text(encoding="utf-8"))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="results folder")
    parser.add_argument("--datasets", nargs="+", default=["tiktok", "ml100k-mm"])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument(
        "--variant",
        dest="variants",
        action="append",
        help="run only this variant (repeatable: --variant=-image --variant='content only'); 'all' is always in",
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        help="results folder of benchmarks/multimodal.py: its flagship runs (same settings, same seeds) are the "
        "'all' rows instead of being trained again",
    )
    parser.add_argument(
        "--train",
        action="append",
        default=[],
        help="training setting name=value for every variant, over the tuned ones (e.g. patience=15)",
    )
    add_common_arguments(parser)
    return parser


def training_settings(dataset: str, threads: int, overrides: list[str]) -> dict[str, Any]:
    """The variants' training settings: the flagship's tuned ones for ``dataset``, then ``name=value`` overrides."""
    schedule = tuned(dataset, FLAGSHIP).get("train", {})
    return {"progress": False, "threads": threads, **schedule, **settings(overrides)}


def reused_full_run(
    folder: Path | None, dataset: str, n_seeds: int, machine: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The flagship's result on ``dataset`` from a multimodal benchmark folder, if it ran the same seeds on a
    machine of this kind (same CPU, score product and torch: ``machine``, default this one's), else None (the
    ``all`` row is then trained here, so that every row of the table comes from one kind of machine)."""
    from fusionrec.evaluation.machine import machine_differences, machine_info

    if folder is None:
        return None
    path = folder / dataset / FLAGSHIP / "result.json"
    if not path.is_file():
        return None
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if result.get("seeds") != list(range(n_seeds)):
        return None
    differences = machine_differences(result.get("machine"), machine or machine_info())
    if differences:
        print(f"ablation {dataset}: not reusing {path} ({'; '.join(differences)}): 'all' is trained here", flush=True)
        return None
    return result


def variants(
    split: Any, channel: bool = False, ease: bool = False, stage: bool = False
) -> list[tuple[str, Any, dict[str, Any]]]:
    """``(label, split, extra params)``: all, each modality removed, content only, behaviour only, no content
    channel when ``channel``, no EASE channel when ``ease`` and no second stage when ``stage`` (the flagship's
    settings use them)."""
    modalities = split.dataset.modalities
    chosen = [("all", split, {})]
    for modality in modalities:
        chosen.append((f"-{modality}", without(split, [modality]), {}))
    content_only = {"core": {"item_ids": False, "unit_layer0": False}, "ease_channel": {"weight": 0.0}}
    chosen.append(("content only", split, content_only))  # unit_layer0 is refused without item IDs
    chosen.append(("behaviour only", without(split, modalities), {}))
    if channel and modalities:
        chosen.append(("no content channel", split, {"content_channel": {"weight": 0.0}}))
    if ease:
        chosen.append(("no EASE channel", split, {"ease_channel": {"weight": 0.0}}))
    if stage:
        chosen.append(("no second stage", split, {"second_stage": False}))
    return chosen


def _uses_channel(dataset: str) -> bool:
    """Whether the flagship's settings for ``dataset`` weigh the fixed content channel."""
    return bool(_flagship_config(dataset).content_channel.weight)


def _uses_ease(dataset: str) -> bool:
    """Whether the flagship's settings for ``dataset`` add the EASE channel."""
    return bool(_flagship_config(dataset).ease_channel.weight)


def _uses_second_stage(dataset: str) -> bool:
    """Whether the flagship's settings for ``dataset`` rerank with a second stage."""
    return _flagship_config(dataset).second_stage


def _flagship_config(dataset: str) -> Any:
    """The flagship's config with its tuned settings for ``dataset``."""
    from fusionrec.models.fusion_graph_config import fusion_graph_config

    return fusion_graph_config(tuned(dataset, FLAGSHIP).get("params", {}))


def without(split: Any, modalities: list[str]) -> Any:
    """A copy of ``split`` whose dataset lacks ``modalities`` (features and masks)."""
    return split.with_modalities([m for m in split.dataset.modalities if m not in modalities])


def run_variant(
    dataset: str, label: str, split: Any, extra: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    from fusionrec.evaluation.benchmark import run_benchmark
    from fusionrec.models.fusion_graph_config import merge_params

    chosen = tuned(dataset, FLAGSHIP)
    result = run_benchmark(
        None,
        dataset,
        FLAGSHIP,
        list(range(args.seeds)),
        params=merge_params(chosen.get("params", {}), extra),
        train=training_settings(dataset, args.threads, args.train),
        ks=(10, 20),
        metrics=("recall", "ndcg"),
        split=split,
    )
    result["model"] = label
    result["modalities"] = split.dataset.modalities
    return result


def kept_rows(out: Path, datasets: list[str]) -> list[dict[str, Any]]:
    """The rows of ``out/ablation.json`` for data sets other than ``datasets``: a run over some data sets
    replaces their rows and keeps the others' (a data set's rows are always all from one run)."""
    from fusionrec.evaluation.report import load_results

    path = out / "ablation.json"
    return [row for row in load_results(path) if row["dataset"] not in datasets] if path.is_file() else []


def write_ablation(results: list[dict[str, Any]], out: Path) -> None:
    from fusionrec.evaluation.report import results_to_json

    results_to_json(results, out / "ablation.json")
    plot_deltas(results, out / "ablation.png")
    lines = ["# FusionGraph modality ablation", "", "Test at the valid-chosen epoch; mean ± std over seeds.", ""]
    lines += machine_lines(results)
    lines += ["| dataset | variant | modalities | test R@20 | test N@20 | valid R@20 | delta R@20 | delta N@20 |"]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for r in results:
        deltas = [f"{_delta(results, r, metric):+.4f}" for metric in ("recall@20", "ndcg@20")]
        cells = [r["dataset"], r["model"], "+".join(r["modalities"]) or "none", _ms(r["metrics"]["recall@20"])]
        cells += [_ms(r["metrics"]["ndcg@20"]), _ms(r["valid"]["recall@20"]), *deltas]
        lines.append("| " + " | ".join(cells) + " |")
    (out / "ablation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _delta(results: list[dict[str, Any]], row: dict[str, Any], metric: str) -> float:
    """``row``'s test ``metric`` minus that of its dataset's "all" row."""
    full = next(x for x in results if x["dataset"] == row["dataset"] and x["model"] == "all")
    return float(row["metrics"][metric]["mean"] - full["metrics"][metric]["mean"])


def plot_deltas(results: list[dict[str, Any]], path: Path) -> None:
    """One panel per dataset: each variant's change in test Recall@20 and NDCG@20 against "all" (± its std)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        rows = [r for r in results if r["dataset"] == dataset and r["model"] != "all"]
        positions = np.arange(len(rows))
        for offset, metric in ((-0.2, "recall@20"), (0.2, "ndcg@20")):
            deltas = [_delta(results, r, metric) for r in rows]
            errors = [r["metrics"][metric]["std"] for r in rows]
            ax.barh(positions + offset, deltas, height=0.4, xerr=errors, capsize=3, label=metric)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(positions, [r["model"] for r in rows])
        ax.invert_yaxis()
        ax.set(title=f"{dataset}: change against all modalities", xlabel="test metric - all (mean over seeds)")
        ax.legend(loc="lower left", fontsize=8)
    fig.suptitle(f"{FLAGSHIP} ablation (test at the valid-chosen epoch; bars: ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _ms(value: dict[str, float]) -> str:
    return f"{value['mean']:.4f} ± {value['std']:.4f}"


if __name__ == "__main__":
    sys.exit(main())
