"""Experiment commands: ``train``, ``evaluate``, ``benchmark`` and ``recipes``.

Settings come from a recipe shipped with fusionrec (``--recipe``), an
experiment file (``-c``), then ``--set key=value`` and explicit flags
(defaults < recipe < file < --set < flags). With no model, recipe or
model in a file, the flagship's recipe is used when the data set's files are
the ones it was tuned on (matched by content, not by folder name), and
otherwise the model and its settings are chosen on valid (``auto``;
``--auto`` asks for that even where a recipe exists). ``train`` and
``benchmark`` prepare the data the same way (content encoded, cached) and
report the same table. The resolved config is saved beside every result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fusionrec import evaluation  # its names load on first use (lazy_loader): --help stays light
from fusionrec.cli.app import app
from fusionrec.cli.output import console, fail_on_library_errors, print_rows
from fusionrec.cli.ray_options import (
    RayAddressOption,
    RaySplitOption,
    RayWorkersOption,
    check_ray_split,
    training_on_ray,
)
from fusionrec.config import AUTO, dump_config, load_config, read_config_file
from fusionrec.errors import ConfigError, DataError, FusionrecError
from fusionrec.models import DEFAULT_MODEL, MODEL_REGISTRY
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.recipes import recipe_for_data, recipe_info, recipe_names

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig
    from fusionrec.data.dataset import Split
    from fusionrec.evaluation.ranking import Evaluation
    from fusionrec.models.base import Recommender

MODEL_NAMES = ", ".join([AUTO, *MODEL_REGISTRY])
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Experiment TOML file.")]
RecipeOption = Annotated[
    str | None, typer.Option(help="A recipe shipped with fusionrec (see `fusionrec recipes`), e.g. tiktok.")
]
AutoOption = Annotated[
    bool, typer.Option("--auto", help="Choose the model and its settings on valid, even where a recipe exists.")
]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="Override a setting, e.g. --set train.lr=0.01 (repeatable).")
]
DataDirOption = Annotated[Path | None, typer.Option(help="Folder of datasets (default: $FUSIONREC_DATA).")]
ProtocolOption = Annotated[str | None, typer.Option(help="warm or cold (default: the split's own).")]
ColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        help="Raw catalog column name, KEY=NAME with KEY one of user, item, rating, timestamp, item_id "
        "(repeatable), e.g. --column user=uid --column item=movie.",
    ),
]
SUMMARY_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
EXPLAINED = (
    "Each row: test metrics at the epoch valid chose (mean ± std over seeds). Recall@K is the share of a user's "
    "held-out items found in the top K; NDCG@K also rewards finding them near the top (1 = perfect)."
)


@app.command()
@fail_on_library_errors
def train(
    config: ConfigOption = None,
    recipe: RecipeOption = None,
    auto: AutoOption = False,
    data_dir: DataDirOption = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset folder or .inter stem under the data dir.")] = None,
    interactions: Annotated[Path | None, typer.Option(help="Raw interactions file (instead of --dataset).")] = None,
    items: Annotated[Path | None, typer.Option(help="Raw item table (text and media columns).")] = None,
    column: ColumnOption = None,
    min_rating: Annotated[float | None, typer.Option(help="Keep ratings >= this as positives.")] = None,
    unknown_items: Annotated[
        str | None, typer.Option(help="Interactions with items missing from the item table: error or drop.")
    ] = None,
    model: Annotated[str | None, typer.Option(help=f"Model: {MODEL_NAMES}.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    protocol: ProtocolOption = None,
    set_: SetOption = None,
    save: Annotated[Path | None, typer.Option(help="Save the trained model as an artifact folder here.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing artifact folder.")] = False,
    out_dir: Annotated[Path | None, typer.Option(help="Folder for per-user values and configs.")] = None,
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = 2,
    ray_split: RaySplitOption = "batch",
) -> None:
    """Train one model (early stopping on valid), report valid and test, optionally save an artifact."""
    check_ray_split(ray_split)
    flags = {
        "data_dir": data_dir,
        "dataset": dataset,
        "interactions": interactions,
        "items": items,
        "min_rating": min_rating,
        "unknown_items": unknown_items,
        "model": model,
        "protocol": protocol,
        "output_dir": out_dir,
    }
    resolved = resolve_config(config, set_, recipe=recipe, auto=auto, columns=column, **flags)
    if "dir" not in resolved.output.model_fields_set:
        name = resolved.data.dataset or (resolved.data.interactions.stem if resolved.data.interactions else "data")
        resolved.output.dir = Path("runs") / "train" / name / (resolved.recipe or resolved.model.name)
    chosen_seed = resolved.seeds[0] if seed is None else seed
    split, resolved = evaluation.prepare_split(resolved)
    resolved, choice = evaluation.choose_for_experiment(split, resolved)
    console.print(f"training {resolved.model.name} on {split.dataset.name} ({split.protocol}), seed {chosen_seed}")
    with training_on_ray(ray_address, ray_workers, ray_split):
        recommender, run = evaluation.fit_and_evaluate(
            split,
            resolved.model.name,
            resolved.model.params,
            resolved.train,
            chosen_seed,
            resolved.evaluation.ks,
            resolved.evaluation.metrics,
            fitted=choice.first_fit(chosen_seed) if choice is not None else None,
        )
    result = evaluation.summarise(
        split.dataset.name, resolved.model.name, split.protocol, [run], _config_record(resolved)
    )
    print_report([result], f"{resolved.model.name} on {split.dataset.name} ({split.protocol})")
    evaluation.write_outputs(resolved.output.dir, split.dataset.name, resolved.model.name, [run], result)
    dump_config(resolved, resolved.output.dir / "experiment.json")
    console.print(f"wrote {resolved.output.dir / 'result.json'}")
    if save is not None:
        _save(recommender, resolved, save, overwrite)


@app.command()
@fail_on_library_errors
def evaluate(
    artifact: Annotated[Path, typer.Argument(help="Artifact folder written by `fusionrec train --save`.")],
    dataset: Annotated[str, typer.Option(help="Dataset folder or .inter stem the model was trained on.")],
    data_dir: DataDirOption = None,
    protocol: ProtocolOption = None,
) -> None:
    """Evaluate a saved artifact on the valid and test parts of a dataset's split."""
    loaded = load_artifact(artifact)
    split = evaluation.load_split(data_dir, dataset, protocol)  # type: ignore[arg-type]
    check_same_training_data(loaded.split, split, artifact)
    loaded.model.split_ = split
    print_evaluations(loaded.model, split, load_config(None, None))


@app.command()
@fail_on_library_errors
def benchmark(
    dataset: Annotated[list[str] | None, typer.Option(help="Dataset(s) under the data dir (repeatable).")] = None,
    model: Annotated[list[str] | None, typer.Option(help=f"Model(s) (repeatable): {MODEL_NAMES}.")] = None,
    recipe: Annotated[list[str] | None, typer.Option(help="Recipe(s) to run (repeatable); see `recipes`.")] = None,
    auto: AutoOption = False,
    data_dir: DataDirOption = None,
    seeds: Annotated[int | None, typer.Option(help="Number of seeds (0 .. N-1); default: the recipe's or 3.")] = None,
    protocol: ProtocolOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result(s) as JSON here.")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Folder for per-user values and configs.")] = None,
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = 2,
    ray_split: RaySplitOption = "batch",
) -> None:
    """Run models x datasets (or recipes) x seeds; print a table; write JSON (one object, or a list)."""
    check_ray_split(ray_split)
    target = out_dir or (json_path.with_suffix("") if json_path else Path("runs") / "benchmark")
    results = []
    for job in benchmark_jobs(config, dataset, model, recipe, auto):
        flags: dict[str, Any] = {"data_dir": data_dir, "protocol": protocol, "dataset": job.get("dataset")}
        flags["model"] = job.get("model")
        resolved = resolve_config(config, set_, recipe=job.get("recipe"), auto=auto, **flags)
        if seeds is not None:
            resolved = resolved.model_copy(update={"seeds": list(range(seeds))})
        elif "seeds" not in resolved.model_fields_set:
            resolved = resolved.model_copy(update={"seeds": [0, 1, 2]})
        name = resolved.data.dataset or "data"
        folder = target / name / (job.get("recipe") or resolved.model.name)
        resolved.output.dir = folder
        with training_on_ray(ray_address, ray_workers, ray_split):
            results.append(evaluation.run_experiment(resolved))
    print_report(results, "benchmark (test at the valid-chosen point, mean ± std over seeds)")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results[0] if len(results) == 1 else results, indent=2, default=str))
        console.print(f"wrote {json_path}")


@app.command()
def recipes() -> None:
    """List the recipes shipped with fusionrec: tuned settings behind the published figures."""
    rows = [
        {"recipe": info.name, "dataset": info.dataset, "model": info.model, "what": info.description}
        for info in map(recipe_info, recipe_names())
    ]
    print_rows("recipes (run one with `fusionrec train --recipe NAME` or `fusionrec benchmark --recipe NAME`)", rows)


def benchmark_jobs(
    config: Path | None, datasets: list[str] | None, models: list[str] | None, recipes: list[str] | None, auto: bool
) -> list[dict[str, str | None]]:
    """What ``benchmark`` runs: each recipe, or each dataset x model (a file's dataset and model fill gaps)."""
    if recipes:
        if datasets or models or auto:
            raise ConfigError("--recipe names its own dataset and model; leave out --dataset, --model and --auto")
        return [{"recipe": name} for name in recipes]
    if auto and models:
        raise ConfigError("--auto chooses the model; leave out --model")
    file_data = read_config_file(config).get("data", {}) if config is not None else {}
    dataset_list: list[str | None] = list(datasets or [])
    if not dataset_list:
        if not (file_data.get("dataset") or file_data.get("interactions")):
            raise ConfigError("no dataset: pass --dataset NAME (repeatable), a recipe, or a -c file with [data]")
        dataset_list = [None]
    model_list: list[str | None] = [*models] if models else [None]
    return [{"dataset": d, "model": m} for d in dataset_list for m in model_list]


def resolve_config(
    path: Path | None,
    assignments: list[str] | None,
    *,
    recipe: str | None = None,
    auto: bool = False,
    columns: list[str] | None = None,
    **flags: Any,
) -> ExperimentConfig:
    """Defaults < recipe < file < ``--set`` < explicit flags (None flags are not set).

    Without a recipe, a model flag or a model in the file, the flagship's recipe is used when the data
    set's files are the ones it was tuned on (:func:`tuned_recipe`), and ``auto`` otherwise.
    """
    overrides = dict(parse_assignment(text) for text in assignments or [])
    keys = {
        "data_dir": "data.dir",
        "dataset": "data.dataset",
        "interactions": "data.interactions",
        "items": "data.items",
        "min_rating": "data.min_rating",
        "unknown_items": "data.unknown_items",
        "model": "model.name",
        "protocol": "data.protocol",
        "output_dir": "output.dir",
    }
    for flag, value in flags.items():
        if value is not None:
            overrides[keys.get(flag, flag)] = json.dumps(value if not isinstance(value, Path) else str(value))
    for text in columns or []:
        key, value = parse_assignment(text)
        overrides[f"data.columns.{key}"] = json.dumps(value)
    file_tables = read_config_file(path) if path is not None else {}
    model_chosen = "model.name" in overrides or "name" in file_tables.get("model", {})
    if auto:
        if recipe is not None or model_chosen:
            raise ConfigError("--auto chooses the model and its settings; leave out --recipe and --model")
        overrides["model.name"] = json.dumps(AUTO)
    elif recipe is None and not model_chosen:
        recipe = tuned_recipe(path, overrides)
        if recipe is None:
            overrides["model.name"] = json.dumps(AUTO)
    return load_config(path, overrides, recipe=recipe)


def tuned_recipe(path: Path | None, overrides: dict[str, str]) -> str | None:
    """The flagship's recipe for the configured data set when its files are the ones the recipe was tuned on.

    A folder is matched by its files (:func:`~fusionrec.recipes.recipe_for_data`), never by its name alone;
    what was decided is printed.
    """
    try:
        data = load_config(path, overrides).data
        if data.dataset is None:
            return None
        folder, stem = evaluation.resolve_dataset(data.resolved_dir(), data.dataset)
    except FusionrecError:  # a missing or unreadable data set is reported where it is read
        return None
    recipe, why = recipe_for_data(folder, stem, DEFAULT_MODEL)
    if recipe is not None:
        console.print(f"using {why} (--auto chooses from the data instead)", highlight=False)
    else:
        console.print(f"{why}: choosing the model and its settings on valid (auto)", highlight=False)
    return recipe


def parse_assignment(text: str) -> tuple[str, str]:
    """``"train.lr=0.01"`` -> ``("train.lr", "0.01")``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise typer.BadParameter(f"{text!r} must look like key=value, e.g. train.lr=0.01")
    return key.strip(), value.strip()


def print_evaluations(model: Recommender, split: Split, config: ExperimentConfig) -> dict[str, Evaluation]:
    """Evaluate valid and test once and print one row per part."""
    ks, metrics = config.evaluation.ks, config.evaluation.metrics
    evaluations = {part: evaluation.evaluate_model(model, split, part, ks, metrics) for part in ("valid", "test")}  # type: ignore[arg-type]
    rows = [{"part": part, **e.summary()} for part, e in evaluations.items()]
    print_rows(f"{model.name} on {split.dataset.name} ({split.protocol})", rows)
    return evaluations


def print_report(results: list[dict[str, Any]], title: str) -> None:
    """The table both ``train`` and ``benchmark`` print, then what it means."""
    print_rows(title, [summary_row(r) for r in results])
    console.print(EXPLAINED, highlight=False)
    for result in results:
        for text in result.get("warnings", []):
            console.print(f"[bold yellow]warning[/bold yellow] ({result['model']} on {result['dataset']}): {text}")


def summary_row(result: dict[str, Any]) -> dict[str, Any]:
    """One table row: test metrics mean ± std, valid recall@20, best epoch, stop reason, timing, memory."""
    row: dict[str, Any] = {"dataset": result["dataset"], "model": result["model"], "protocol": result["protocol"]}
    for metric in SUMMARY_METRICS:
        cell = result["metrics"].get(metric)
        if cell is not None:
            row[metric] = f"{cell['mean']:.4f} ± {cell['std']:.4f}"
    valid = result["valid"].get("recall@20")
    if valid is not None:
        row["valid recall@20"] = f"{valid['mean']:.4f}"
    timing = result["timing"]
    row["best epoch"] = f"{timing.get('epochs', 0):g}"
    row["stop"] = str(timing.get("stop_reason", "-"))
    row["s/epoch"] = f"{timing.get('seconds_per_epoch', 0.0):.2f}"
    row["train s"] = f"{timing.get('train_seconds', 0.0):.1f}"
    row["eval s"] = f"{timing.get('eval_seconds', 0.0):.2f}"
    row["peak MB"] = f"{timing.get('peak_rss_mb', 0.0):.0f}"
    return row


def check_same_training_data(saved: Split, split: Split, artifact: Path) -> None:
    """Refuse to evaluate an artifact on a split with other users or items than it was trained on."""
    if saved.dataset.users.ids != split.dataset.users.ids or saved.dataset.items.ids != split.dataset.items.ids:
        raise DataError(
            f"{artifact} was trained on {saved.n_users:,} users x {saved.n_items:,} items, but this split has "
            f"{split.n_users:,} x {split.n_items:,} with other ids; evaluate it on the dataset it was trained on"
        )


def _config_record(config: ExperimentConfig) -> dict[str, Any]:
    return {"experiment": config.model_dump(mode="json")}


def _save(recommender: Recommender, config: ExperimentConfig, save: Path, overwrite: bool) -> None:
    experiment = json.dumps(config.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    path = save_artifact(
        recommender,
        save,
        overwrite=overwrite,
        extra_files={"experiment.json": experiment},
        encoders=config.encoders or None,
    )
    console.print(f"saved artifact to [bold]{path}[/bold]")
