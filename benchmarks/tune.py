"""Tune the flagship's (or LightGCN's) settings on **valid** with Optuna; test is never read.

A trial trains the model once (one seed) with early stopping on valid
Recall@20 and scores the valid Recall@20 of its best epoch. Several worker
processes share one study through an Optuna journal file, so a machine with
many cores runs many trials at once (one torch thread each) and a later run
adds to the same study. The current defaults (plus any settings already in
the data set's recipe, ``fusionrec recipes``) are the study's first trial, so
every figure is compared with them on the same machine.

One seed's valid figure is noisy and the best of hundreds of trials is
optimistic, so ``confirm`` re-trains the top trials with more seeds (valid
again) and ranks them by the mean: that ranking, not the single best
trial, chooses the settings to benchmark.

Usage::

    python benchmarks/tune.py search  --dataset tiktok --out runs/tuning --trials 200 --workers 14
    python benchmarks/tune.py confirm --dataset tiktok --out runs/tuning --top 6 --seeds 1 2 --workers 12
    python benchmarks/tune.py summary --dataset tiktok --out runs/tuning
    python benchmarks/tune.py export  --dataset ml100k-mm --to prepared/   # features as .npy (no encoders needed)

``--data-dir`` (default ``$FUSIONREC_DATA``) is the benchmark data folder; a
folder made by ``export`` works too. Writes ``study.journal``, ``confirm/``,
``confirm.json``, ``summary.md`` and ``trials.png`` under ``<out>/<dataset>/<model>/``.
A trial that fails is kept in the study as failed, with its error, and counted
in the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from multimodal import FLAGSHIP, load_dataset, tuned
from startup import add_common_arguments, start

VALID_METRIC = "recall@20"


def search_space(model: str) -> dict[str, Any]:
    """The distributions searched for ``model``: its parameters, then the train settings in :data:`TRAIN_KEYS`."""
    from optuna.distributions import CategoricalDistribution as Choice
    from optuna.distributions import FloatDistribution as Float
    from optuna.distributions import IntDistribution as Int

    if model == "lightgcn":  # the strongest ID-only baseline gets a search too, weight averaging included
        return {
            "embedding_dim": Choice([64, 128]),
            "n_layers": Int(1, 4),
            "reg_weight": Float(0.01, 3.0, log=True),
            "lr": Float(1e-3, 2e-2, log=True),
            "batch_size": Choice([1024, 2048, 4096]),
            "weight_decay": Choice([0.0]),
            "average_decay": Choice([0.0, 0.9, 0.97, 0.99]),
        }
    # a region around the defaults: a first, wide search (cost-blind dims, content channel, weight decay)
    # found only worse settings in 26 random trials, several of them several times slower per epoch
    return {
        "core.embedding_dim": Choice([64, 128]),
        "core.n_layers": Int(1, 3),
        "item_graph.k": Choice([5, 10, 20]),
        "item_graph.weight": Float(0.25, 2.0, log=True),
        "item_graph.n_layers": Int(1, 2),
        "content.fusion": Choice(["weighted", "gated"]),
        "content.dropout": Float(0.2, 0.7),
        "loss.temperature": Float(0.1, 0.35, log=True),
        "core.id_dropout": Float(0.0, 0.3),
        "content.align_weight": Float(0.0, 0.5),
        "core.init_std": Float(0.03, 0.3, log=True),
        "content_channel.weight": Float(0.0, 0.5),
        "content_channel.prior": Choice([0.0, 3.0, 10.0, 30.0]),
        "core.embedding_noise": Float(0.0, 0.3),
        "core.edge_dropout": Float(0.0, 0.5),
        "loss.negatives": Choice(["train", "all"]),
        "lr": Float(3e-3, 3e-2, log=True),
        "batch_size": Choice([1024, 2048]),
        "weight_decay": Choice([0.0, 1e-6]),
        "average_decay": Choice([0.9, 0.94, 0.97, 0.99]),
        "patience": Choice([5, 15]),  # TikTok's recipe (batch 2,048) stops after 5
    }


TRAIN_KEYS = ("lr", "batch_size", "weight_decay", "average_decay", "patience")
"""Keys of :func:`search_space` that are training settings; average_decay 0 means no averaging."""


def defaults_trial(dataset: str, model: str) -> dict[str, Any]:
    """The current defaults (with the recipe's settings for ``dataset``) as a point of :func:`search_space`."""
    from fusionrec.models import build_model, dotted

    chosen = tuned(dataset, model)
    built = build_model(model, **chosen.get("params", {}), train_config=chosen.get("train"))
    flat = {**dotted(built.params), **built.train_config.model_dump()}  # type: ignore[attr-defined]
    flat["average_decay"] = flat["average_decay"] or 0.0
    return {key: flat[key] for key in search_space(model)}


def split_trial(flat: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A point of :func:`search_space` -> ``(model params, train settings)``."""
    from fusionrec.models import with_dotted

    params = with_dotted({}, {k: v for k, v in flat.items() if k not in TRAIN_KEYS})
    train = {k: flat[k] for k in TRAIN_KEYS if k in flat}
    train["average_decay"] = train["average_decay"] or None
    return params, train


def fit_valid(args: argparse.Namespace, split: Any, flat: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train once with the settings of a trial; the valid figure at the chosen epoch, with its cost."""
    from fusionrec.models import build_model

    params, train = split_trial(flat)
    config = {"progress": False, "threads": 1, "seed": seed, "max_seconds": args.max_seconds, **train}
    if args.epochs:
        config["epochs"] = args.epochs
    started = time.perf_counter()
    model = build_model(args.model, **params, train_config=config)
    model.fit(split)
    history = model.history_  # type: ignore[attr-defined]
    return {
        "valid": float(history.best_valid),
        "best_epoch": history.best_epoch,
        "epochs_run": history.epochs_run,
        "seconds_per_epoch": history.seconds_per_epoch,
        "fit_seconds": time.perf_counter() - started,
        "stop_reason": history.stop_reason,
    }


def study_folder(args: argparse.Namespace) -> Path:
    return Path(args.out) / args.dataset / args.model


def open_study(args: argparse.Namespace, seed: int) -> Any:
    """The study in ``<out>/<dataset>/<model>/study.journal`` (created, with the defaults queued, if new)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder = study_folder(args)
    folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(folder / "study.journal")))
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, n_startup_trials=12)
    name = f"{args.model}-{args.dataset}"
    study = optuna.create_study(
        study_name=name, storage=storage, direction="maximize", sampler=sampler, load_if_exists=True
    )
    if not study.trials and seed == 0:
        study.enqueue_trial(defaults_trial(args.dataset, args.model), user_attrs={"defaults": True})
    return study


def search_worker(args: argparse.Namespace, worker: int) -> None:
    """One worker: ask for trials until the study holds ``--trials`` or ``--timeout`` has passed."""
    import optuna

    split = read_split(args)
    if worker:
        time.sleep(2.0)  # let worker 0 create the study and queue the defaults
    study = open_study(args, worker)
    space, started = search_space(args.model), time.monotonic()
    while len(study.trials) < args.trials and (args.timeout is None or time.monotonic() - started < args.timeout):
        trial = study.ask(space)
        try:
            result = fit_valid(args, split, trial.params, seed=0)
        except (RuntimeError, ValueError) as error:  # a setting the model rejects, or a diverged run
            trial.set_user_attr("error", f"{type(error).__name__}: {error}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            print(f"trial {trial.number} failed: {type(error).__name__}: {error}", flush=True)
            continue
        for key, value in result.items():
            trial.set_user_attr(key, value)
        study.tell(trial, result["valid"])
        print(f"trial {trial.number}: valid {result['valid']:.4f}", flush=True)


def run_workers(args: argparse.Namespace, action: str) -> None:
    """Start ``--workers`` copies of this script's ``action`` and wait for them all."""
    command = [sys.executable, __file__, action, *sys.argv[2:]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    workers = [subprocess.Popen([*command, "--worker", str(i)], env=env) for i in range(args.workers)]
    failed = [i for i, process in enumerate(workers) if process.wait() != 0]
    if failed:
        raise SystemExit(f"workers {failed} failed; see their output above")


def confirm_worker(args: argparse.Namespace, worker: int) -> None:
    """Re-train the top trials with more seeds; jobs are dealt out round-robin over the workers."""
    split = read_split(args)
    study = open_study(args, seed=1 + worker)
    jobs = [(trial, seed) for trial in top_trials(study, args.top) for seed in args.seeds]
    folder = study_folder(args) / "confirm"
    folder.mkdir(exist_ok=True)
    for trial, seed in jobs[worker :: args.workers]:
        result = fit_valid(args, split, trial.params, seed=seed)
        result.update({"trial": trial.number, "seed": seed})
        (folder / f"trial{trial.number}_seed{seed}.json").write_text(json.dumps(result) + "\n")
        print(f"trial {trial.number} seed {seed}: valid {result['valid']:.4f}", flush=True)


def top_trials(study: Any, n: int) -> list[Any]:
    """The ``n`` best complete trials, plus the defaults trial (the reference)."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    ranked = sorted(complete, key=lambda t: t.value, reverse=True)[:n]
    defaults = [t for t in complete if t.user_attrs.get("defaults")]
    return ranked + [t for t in defaults if t not in ranked]


def summary(args: argparse.Namespace) -> str:
    """summary.md and trials.png: the trials, the best ones, and the confirmed ranking."""
    import optuna

    folder = study_folder(args)
    study = open_study(args, seed=99)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise SystemExit(f"no complete trials in {folder / 'study.journal'}: run `search` first")
    confirmed = confirmed_means(folder, complete)
    (folder / "confirm.json").write_text(json.dumps(confirmed, indent=2) + "\n")
    plot_trials(complete, folder / "trials.png", f"{args.model} on {args.dataset}")
    text = summary_markdown(f"{args.model} on {args.dataset}", study, complete, confirmed)
    (folder / "summary.md").write_text(text, encoding="utf-8")
    return text


def confirmed_means(folder: Path, complete: list[Any]) -> list[dict[str, Any]]:
    """Per confirmed trial: valid at every seed (seed 0 from the search) and their mean, best first."""
    by_trial: dict[int, dict[int, float]] = {}
    for path in sorted((folder / "confirm").glob("trial*_seed*.json")):
        row = json.loads(path.read_text())
        by_trial.setdefault(row["trial"], {})[row["seed"]] = row["valid"]
    trials = {t.number: t for t in complete}
    rows = []
    for number, seeds in by_trial.items():
        values = {0: float(trials[number].value), **seeds}
        mean = sum(values.values()) / len(values)
        rows.append({"trial": number, "valid": values, "mean": mean, "params": trials[number].params})
        rows[-1]["defaults"] = bool(trials[number].user_attrs.get("defaults"))
    return sorted(rows, key=lambda r: r["mean"], reverse=True)


def summary_markdown(title: str, study: Any, complete: list[Any], confirmed: list[dict[str, Any]]) -> str:
    defaults = next((t for t in complete if t.user_attrs.get("defaults")), None)
    best = sorted(complete, key=lambda t: t.value, reverse=True)[:10]
    lines = [f"# Tuning {title} (valid {VALID_METRIC}; test never read)", ""]
    lines += [f"{len(study.trials)} trials, {len(complete)} complete (one seed each, seed 0)."]
    if defaults is not None:
        lines += [f"Defaults (trial {defaults.number}): valid {defaults.value:.4f}.", ""]
    lines += ["## Ten best single-seed trials", "", "| trial | valid | s/epoch | best/run epochs | settings |"]
    lines += ["|---|---|---|---|---|"]
    for t in best:
        a = t.user_attrs
        cost = f"{a.get('seconds_per_epoch', 0):.2f} | {a.get('best_epoch', 0)}/{a.get('epochs_run', 0)}"
        lines.append(f"| {t.number} | {t.value:.4f} | {cost} | `{json.dumps(t.params)}` |")
    if confirmed:
        lines += ["", "## Confirmed: more seeds on valid, ranked by the mean", "", "| trial | valid per seed | mean |"]
        lines += ["|---|---|---|"]
        for row in confirmed:
            per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in sorted(row["valid"].items()))
            label = f"{row['trial']} (defaults)" if row["defaults"] else str(row["trial"])
            lines.append(f"| {label} | {per_seed} | {row['mean']:.4f} |")
    return "\n".join(lines) + "\n"


def plot_trials(complete: list[Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(complete, key=lambda t: t.number)
    numbers, values = [t.number for t in ordered], [t.value for t in ordered]
    running = [max(values[: i + 1]) for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(numbers, values, s=10, alpha=0.6, label="trial (seed 0)")
    ax.plot(numbers, running, color="black", label="best so far")
    defaults = [t for t in ordered if t.user_attrs.get("defaults")]
    if defaults:
        ax.axhline(defaults[0].value, color="red", linestyle="--", label="defaults")
    ax.set(xlabel="trial", ylabel=f"valid {VALID_METRIC}", title=f"tuning {title}")
    ax.set_ylim(bottom=max(0.0, sorted(values)[len(values) // 4]))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def read_split(args: argparse.Namespace) -> Any:
    """The dataset from ``--data-dir`` (the benchmark data, or a folder made by ``export``)."""
    return load_dataset(Path(args.data_dir), args.dataset)


def export(args: argparse.Namespace) -> None:
    """Write the dataset with its encoded features as ``<to>/<dataset>/`` (MMRec layout)."""
    from fusionrec.data.mmrec import write_mmrec

    split = read_split(args)
    print(write_mmrec(split, Path(args.to) / args.dataset, name=args.dataset))


def main() -> int:
    args = _parser().parse_args()
    args.data_dir = str(start(args))
    _quiet_optuna()
    if args.action == "export":
        export(args)
    elif args.action == "summary":
        print(summary(args))
    elif args.worker is None:
        run_workers(args, args.action)
        print(summary(args))
    else:
        import torch

        torch.set_num_threads(1)
        (search_worker if args.action == "search" else confirm_worker)(args, args.worker)
    return 0


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["search", "confirm", "summary", "export"])
    parser.add_argument("--dataset", required=True, choices=["tiktok", "ml100k-mm", "ml100k-mm-cold"])
    parser.add_argument("--model", default=FLAGSHIP, choices=[FLAGSHIP, "lightgcn"])
    parser.add_argument("--out", default="runs/tuning", help="study folder (journal, summary, plot)")
    parser.add_argument("--to", help="export: folder to write the dataset into")
    parser.add_argument("--trials", type=int, default=100, help="search: stop when the study holds this many")
    parser.add_argument("--timeout", type=float, default=None, help="search: start no trial after this many seconds")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="processes")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="training time limit of one fit")
    parser.add_argument("--epochs", type=int, help="cap on epochs per fit (default: the model's own)")
    parser.add_argument("--top", type=int, default=6, help="confirm: how many of the best trials")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="confirm: the extra seeds")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    add_common_arguments(parser, threads=None)
    return parser


if __name__ == "__main__":
    sys.exit(main())
