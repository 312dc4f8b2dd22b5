"""Analysis commands: ``compare`` (paired tests of two results) and ``ablation`` (the flagship taken apart)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from fusionrec import evaluation  # its names load on first use (lazy_loader): --help stays light
from fusionrec.cli.app import app
from fusionrec.cli.experiment import (
    ConfigOption,
    DataDirOption,
    RecipeOption,
    SetOption,
    parse_assignment,
    print_report,
    resolve_config,
)
from fusionrec.cli.output import console, fail_on_library_errors, print_rows
from fusionrec.config import load_config
from fusionrec.models import DEFAULT_MODEL


@app.command()
@fail_on_library_errors
def compare(
    result_a: Annotated[Path, typer.Argument(help="Result folder A (written by train or benchmark --out-dir).")],
    result_b: Annotated[Path, typer.Argument(help="Result folder B, evaluated on the same users.")],
    part: Annotated[str, typer.Option(help="valid or test.")] = "test",
    plot: Annotated[Path | None, typer.Option(help="PNG of the differences (default: beside A).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the tests as JSON here.")] = None,
) -> None:
    """Paired t-test and Wilcoxon signed-rank test of A against B on per-user values (seeds averaged per user)."""
    try:
        tests = evaluation.compare_results(result_a, result_b, part)
    except ValueError as error:  # folders without per-user values, or of other users
        console.print(f"[bold red]error:[/bold red] {error}", highlight=False)
        raise typer.Exit(code=2) from None
    rows = [
        {
            "metric": t.metric,
            "users": t.n_users,
            "A": t.mean_a,
            "B": t.mean_b,
            "A - B": t.mean_diff,
            "t-test p": f"{t.t_pvalue:.2g}",
            "Wilcoxon p": f"{t.wilcoxon_pvalue:.2g}",
        }
        for t in tests
    ]
    print_rows(f"{result_a} (A) against {result_b} (B), {part}, paired over users", rows)
    console.print("p < 0.05: the difference is unlikely to be chance over these users.", highlight=False)
    target = plot or result_a / f"compare-{result_b.name}.png"
    evaluation.plot_comparison(tests, target, result_a.name, result_b.name)
    console.print(f"plot: {target}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps([t.to_dict() for t in tests], indent=2))


@app.command()
@fail_on_library_errors
def ablation(
    recipe: RecipeOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset under the data dir (its recipe if it has one).")] = None,
    seeds: Annotated[int | None, typer.Option(help="Number of seeds (0 .. N-1); default: the experiment's.")] = None,
    variant: Annotated[list[str] | None, typer.Option(help="Only these variants (repeatable; 'all' always).")] = None,
    set_: SetOption = None,
    out_dir: Annotated[Path, typer.Option(help="Folder for the variants' results, table and plot.")] = Path(
        "runs/ablation"
    ),
) -> None:
    """Take the flagship apart: each modality, the item IDs and each add-on removed, same seeds and settings."""
    flags: dict[str, Any] = {"data_dir": data_dir, "dataset": dataset, "output_dir": out_dir}
    resolved = resolve_config(config, set_, recipe=recipe, **flags)
    if resolved.model.name != DEFAULT_MODEL:
        resolved = resolved.model_copy(update={"model": resolved.model.model_copy(update={"name": DEFAULT_MODEL})})
    if seeds is not None:
        resolved = resolved.model_copy(update={"seeds": list(range(seeds))})
    results = evaluation.run_ablation(resolved, variant)
    print_report(results, "ablation (test at the valid-chosen point, mean ± std over seeds)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ablation.json").write_text(json.dumps(results, indent=2, default=str))
    (out_dir / "ablation.md").write_text(evaluation.markdown_table(results) + "\n")
    evaluation.plot_results(results, out_dir / "ablation.png", title="ablation of the flagship")
    console.print(f"wrote {out_dir / 'ablation.md'}, ablation.json and ablation.png")


@app.command()
@fail_on_library_errors
def tune(
    model: Annotated[str, typer.Option(help="The model to tune (any registered model).")],
    dataset: Annotated[str | None, typer.Option(help="Dataset under the data dir.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    trials: Annotated[int, typer.Option(help="Finished trials the study should hold in all.", min=1)] = 20,
    timeout: Annotated[float | None, typer.Option(help="Seconds this run may take (per worker).")] = None,
    workers: Annotated[int, typer.Option(help="Processes sharing the study (one torch thread each).", min=1)] = 1,
    seed: Annotated[int, typer.Option(help="Seed of every trial's fit and of the sampler.")] = 0,
    out_dir: Annotated[Path | None, typer.Option(help="Study folder (resumed when it holds one).")] = None,
) -> None:
    """Tune a model on valid with Optuna (test is never read); resumable; writes best.toml for `train -c`."""
    resolved = resolve_config(config, set_, data_dir=data_dir, dataset=dataset, model=model)
    folder = out_dir or Path("runs") / "tune" / (resolved.data.dataset or "data") / model
    helpers = [_tuning_worker(folder, trials, timeout, seed, resolved) for _ in range(workers - 1)]
    split, resolved = evaluation.prepare_split(resolved)
    train = resolved.train.model_dump(exclude_unset=True, exclude={"seed"})
    result = evaluation.tune(
        split,
        model,
        trials=trials,
        timeout=timeout,
        folder=folder,
        seed=seed,
        metric=resolved.evaluation.valid_metric,
        base_params=resolved.model.params,
        base_train={**train, "threads": 1} if workers > 1 else train,
    )
    for helper in helpers:
        helper.wait()
    data = {"dir": resolved.data.dir, "dataset": resolved.data.dataset}
    best = evaluation.write_experiment(result, data, folder / "best.toml")
    rows = [{"best valid " + result.metric: result.best_value, **result.best_params, **result.best_train}]
    print_rows(f"tuned {model} on valid ({len(result.trials)} trials in {folder})", rows)
    console.print(f"run it: fusionrec train -c {best}   (or fusionrec benchmark -c {best})")


def _tuning_worker(folder: Path, trials: int, timeout: float | None, seed: int, config: Any) -> Any:
    """Another process adding trials to the same study (Optuna's journal file is shared)."""
    experiment = Path(tempfile.mkdtemp()) / "experiment.json"
    experiment.write_text(json.dumps(config.model_dump(mode="json", exclude_unset=True)))  # defaults stay defaults
    command = [sys.executable, "-m", "fusionrec", "-q", "tune", "--model", config.model.name, "-c", str(experiment),
               "--trials", str(trials), "--seed", str(seed), "--out-dir", str(folder),
               "--set", "train.threads=1"]  # fmt: skip
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    return subprocess.Popen(command)


@app.command()
@fail_on_library_errors
def check(
    folder: Annotated[Path, typer.Argument(help="A dataset folder: MMRec layout (<name>.inter), items.csv optional.")],
    name: Annotated[str | None, typer.Option(help="Stem of the .inter file (default: the folder's name).")] = None,
    seeds: Annotated[int, typer.Option(help="Number of seeds (0 .. N-1).", min=1)] = 3,
    protocol: Annotated[str | None, typer.Option(help="warm or cold (default: the split's own).")] = None,
    trials: Annotated[int, typer.Option(help="Valid trials per baseline.", min=1)] = 15,
    timeout: Annotated[float | None, typer.Option(help="Seconds each baseline's tuning may take.")] = None,
    baseline: Annotated[
        list[str] | None, typer.Option(help="Baselines (repeatable; default ease, lightgcn, itemknn, pop).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Report folder.")] = None,
    set_: SetOption = None,
) -> None:
    """Automatic settings against EASE, LightGCN, ItemKNN and popularity tuned on valid, with paired tests."""
    target = out_dir or Path("runs") / "check" / (name or folder.name)
    overrides = {"data.dir": json.dumps(str(folder.parent)), "data.dataset": json.dumps(name or folder.name)}
    if protocol is not None:
        overrides["data.protocol"] = json.dumps(protocol)
    overrides |= {"seeds": json.dumps(list(range(seeds))), "output.dir": json.dumps(str(target))}
    overrides |= dict(parse_assignment(text) for text in set_ or [])
    chosen = tuple(baseline) if baseline else None
    report = evaluation.run_check(load_config(None, overrides), trials=trials, timeout=timeout, baselines=chosen)
    print_report(report.results, f"check of {folder} (test at the valid-chosen point, mean ± std over seeds)")
    console.print(report.verdict, highlight=False)
    console.print(f"report: {target / 'report.md'}")
