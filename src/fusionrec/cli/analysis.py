"""Analysis commands: ``compare`` (paired tests of two results) and ``ablation`` (the flagship taken apart)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fusionrec.cli.app import app
from fusionrec.cli.experiment import ConfigOption, DataDirOption, RecipeOption, SetOption, print_report, resolve_config
from fusionrec.cli.output import console, fail_on_library_errors, print_rows


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
    from fusionrec.evaluation.report import plot_comparison
    from fusionrec.evaluation.significance import compare_results

    try:
        tests = compare_results(result_a, result_b, part)
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
    plot_comparison(tests, target, result_a.name, result_b.name)
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
    from fusionrec.evaluation.ablation import FLAGSHIP, run_ablation
    from fusionrec.evaluation.report import markdown_table, plot_results

    flags: dict[str, Any] = {"data_dir": data_dir, "dataset": dataset, "output_dir": out_dir}
    resolved = resolve_config(config, set_, recipe=recipe, **flags)
    if resolved.model.name != FLAGSHIP:
        resolved = resolved.model_copy(update={"model": resolved.model.model_copy(update={"name": FLAGSHIP})})
    if seeds is not None:
        resolved = resolved.model_copy(update={"seeds": list(range(seeds))})
    results = run_ablation(resolved, variant)
    print_report(results, "ablation (test at the valid-chosen point, mean ± std over seeds)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ablation.json").write_text(json.dumps(results, indent=2, default=str))
    (out_dir / "ablation.md").write_text(markdown_table(results) + "\n")
    plot_results(results, out_dir / "ablation.png", title="ablation of the flagship")
    console.print(f"wrote {out_dir / 'ablation.md'}, ablation.json and ablation.png")
