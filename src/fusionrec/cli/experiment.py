"""Experiment commands: ``train``, ``evaluate`` and ``benchmark``.

Settings come from an optional TOML experiment file; flags and ``--set
key=value`` override it (defaults < file < flags). The resolved config is
saved beside every result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors, print_rows

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig
    from fusionrec.data.dataset import Split
    from fusionrec.evaluation.ranking import Evaluation
    from fusionrec.models.base import Recommender

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Experiment TOML file.")]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="Override a setting, e.g. --set train.lr=0.01 (repeatable).")
]
DataDirOption = Annotated[Path | None, typer.Option(help="Folder of datasets (default: $FUSIONREC_DATA).")]
ProtocolOption = Annotated[str | None, typer.Option(help="warm or cold (default: the split's own).")]
SUMMARY_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


@app.command()
@fail_on_library_errors
def train(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset folder or .inter stem under the data dir.")] = None,
    model: Annotated[str | None, typer.Option(help="Registered model name.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    protocol: ProtocolOption = None,
    set_: SetOption = None,
    save: Annotated[Path | None, typer.Option(help="Save the trained model as an artifact folder here.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing artifact folder.")] = False,
) -> None:
    """Train one model (early stopping on valid), report valid and test, optionally save an artifact."""
    from fusionrec.evaluation.benchmark import attach_encoded_features, build_for_seed, split_from_settings

    resolved = resolve_config(config, set_, data_dir=data_dir, dataset=dataset, model=model, protocol=protocol)
    chosen_seed = resolved.seeds[0] if seed is None else seed
    split = split_from_settings(resolved.data)
    encoders = attach_encoded_features(split, resolved)
    resolved = resolved.model_copy(update={"encoders": encoders})
    recommender = build_for_seed(resolved.model.name, resolved.model.params, resolved.train, chosen_seed)
    recommender.fit(split)
    print_evaluations(recommender, split, resolved)
    if save is not None:
        from fusionrec.models.artifact import save_artifact

        experiment = json.dumps(resolved.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        path = save_artifact(
            recommender,
            save,
            overwrite=overwrite,
            extra_files={"experiment.json": experiment},
            encoders=encoders or None,
        )
        console.print(f"saved artifact to [bold]{path}[/bold]")


@app.command()
@fail_on_library_errors
def evaluate(
    artifact: Annotated[Path, typer.Argument(help="Artifact folder written by `fusionrec train --save`.")],
    dataset: Annotated[str, typer.Option(help="Dataset folder or .inter stem the model was trained on.")],
    data_dir: DataDirOption = None,
    protocol: ProtocolOption = None,
) -> None:
    """Evaluate a saved artifact on the valid and test parts of a dataset's split."""
    from fusionrec.evaluation.benchmark import load_split
    from fusionrec.models.artifact import load_artifact

    loaded = load_artifact(artifact)
    split = load_split(data_dir, dataset, protocol)  # type: ignore[arg-type]
    check_same_training_data(loaded.split, split, artifact)
    loaded.model.split_ = split
    resolved = resolve_config(None, None)
    print_evaluations(loaded.model, split, resolved)


@app.command()
@fail_on_library_errors
def benchmark(
    dataset: Annotated[list[str], typer.Option(help="Dataset(s) under the data dir (repeatable).")],
    model: Annotated[list[str], typer.Option(help="Model name(s) (repeatable).")],
    data_dir: DataDirOption = None,
    seeds: Annotated[int, typer.Option(help="Number of seeds (0 .. N-1).", min=1)] = 3,
    protocol: ProtocolOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result(s) as JSON here.")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Folder for per-user values and configs.")] = None,
) -> None:
    """Run models x datasets x seeds; print a table; write JSON (one object, or a list for a grid)."""
    from fusionrec.config import dump_config
    from fusionrec.evaluation.benchmark import run_benchmark

    resolved = resolve_config(config, set_, data_dir=data_dir, protocol=protocol, seeds=list(range(seeds)))
    target = out_dir or (json_path.with_suffix("") if json_path else Path("runs") / "benchmark")
    results = []
    for name in dataset:
        for model_name in model:
            params = resolved.model.params if model_name == resolved.model.name else {}
            folder = target / name / model_name
            result = run_benchmark(
                resolved.data.dir, name, model_name, resolved.seeds, resolved.data.protocol, params,
                resolved.train, resolved.evaluation.ks, folder, metrics=resolved.evaluation.metrics,
            )  # fmt: skip
            dump_config(resolved, folder / "experiment.json")
            results.append(result)
    print_rows("benchmark (test at the valid-chosen point, mean ± std over seeds)", [summary_row(r) for r in results])
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        console.print(f"wrote {json_path}")


def resolve_config(path: Path | None, assignments: list[str] | None, **flags: Any) -> ExperimentConfig:
    """Defaults < file < ``--set`` < explicit flags (None flags are not set)."""
    from fusionrec.config import load_config

    overrides = dict(parse_assignment(text) for text in assignments or [])
    keys = {"data_dir": "data.dir", "dataset": "data.dataset", "model": "model.name", "protocol": "data.protocol"}
    for flag, value in flags.items():
        if value is not None:
            overrides[keys.get(flag, flag)] = json.dumps(value if not isinstance(value, Path) else str(value))
    return load_config(path, overrides)


def parse_assignment(text: str) -> tuple[str, str]:
    """``"train.lr=0.01"`` -> ``("train.lr", "0.01")``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise typer.BadParameter(f"--set {text!r} must look like key=value, e.g. train.lr=0.01")
    return key.strip(), value.strip()


def print_evaluations(model: Recommender, split: Split, config: ExperimentConfig) -> dict[str, Evaluation]:
    """Evaluate valid and test once and print one row per part."""
    from fusionrec.evaluation.protocol import evaluate_model

    ks, metrics = config.evaluation.ks, config.evaluation.metrics
    evaluations = {part: evaluate_model(model, split, part, ks, metrics) for part in ("valid", "test")}  # type: ignore[arg-type]
    rows = [{"part": part, **e.summary()} for part, e in evaluations.items()]
    print_rows(f"{model.name} on {split.dataset.name} ({split.protocol})", rows)
    return evaluations


def summary_row(result: dict[str, Any]) -> dict[str, Any]:
    """One table row of a benchmark result: test metrics mean ± std, valid recall@20, timing."""
    row: dict[str, Any] = {"dataset": result["dataset"], "model": result["model"], "protocol": result["protocol"]}
    for metric in SUMMARY_METRICS:
        cell = result["metrics"].get(metric)
        if cell is not None:
            row[metric] = f"{cell['mean']:.4f} ± {cell['std']:.4f}"
    valid = result["valid"].get("recall@20")
    if valid is not None:
        row["valid recall@20"] = f"{valid['mean']:.4f}"
    timing = result["timing"]
    row["s/epoch"] = f"{timing.get('seconds_per_epoch', 0.0):.2f}"
    row["epochs"] = str(timing.get("epochs", 0))
    row["train s"] = f"{timing.get('train_seconds', 0.0):.1f}"
    row["eval s"] = f"{timing.get('eval_seconds', 0.0):.2f}"
    row["peak MB"] = f"{timing.get('peak_rss_mb', 0.0):.0f}"
    return row


def check_same_training_data(saved: Split, split: Split, artifact: Path) -> None:
    """Refuse to evaluate an artifact on a split with other users or items than it was trained on."""
    from fusionrec.errors import DataError

    if saved.dataset.users.ids != split.dataset.users.ids or saved.dataset.items.ids != split.dataset.items.ids:
        raise DataError(
            f"{artifact} was trained on {saved.n_users:,} users x {saved.n_items:,} items, but this split has "
            f"{split.n_users:,} x {split.n_items:,} with other ids; evaluate it on the dataset it was trained on"
        )
