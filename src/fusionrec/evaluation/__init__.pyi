from .ablation import run_ablation
from .auto import choose_settings
from .benchmark import (
    choose_for_experiment,
    fit_and_evaluate,
    load_split,
    prepare_split,
    resolve_auto,
    resolve_dataset,
    run_benchmark,
    run_benchmark_grid,
    run_experiment,
    summarise,
    write_outputs,
)
from .beyond import BEYOND_METRICS, ItemStatistics, beyond_metrics
from .check import run_check
from .metrics import METRICS, compute_metrics
from .protocol import evaluate_model
from .ranking import DEFAULT_KS, Evaluation, evaluate_scores
from .report import beyond_table, load_results, markdown_table, plot_comparison, plot_results, results_to_json
from .significance import PairedTest, compare, compare_files, compare_results, paired_test
from .tuning import tune, write_experiment

__all__ = [
    "BEYOND_METRICS",
    "DEFAULT_KS",
    "METRICS",
    "Evaluation",
    "ItemStatistics",
    "PairedTest",
    "beyond_metrics",
    "beyond_table",
    "choose_for_experiment",
    "choose_settings",
    "compare",
    "compare_files",
    "compare_results",
    "compute_metrics",
    "evaluate_model",
    "evaluate_scores",
    "fit_and_evaluate",
    "load_results",
    "load_split",
    "markdown_table",
    "paired_test",
    "plot_comparison",
    "plot_results",
    "prepare_split",
    "resolve_auto",
    "resolve_dataset",
    "results_to_json",
    "run_ablation",
    "run_benchmark",
    "run_benchmark_grid",
    "run_check",
    "run_experiment",
    "summarise",
    "tune",
    "write_experiment",
    "write_outputs",
]
