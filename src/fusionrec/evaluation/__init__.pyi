from .benchmark import run_benchmark, run_benchmark_grid, run_experiment
from .metrics import METRICS, compute_metrics
from .protocol import evaluate_model
from .ranking import DEFAULT_KS, Evaluation, evaluate_scores
from .report import load_results, markdown_table, plot_results, results_to_json
from .significance import PairedTest, compare, compare_files, paired_test

__all__ = [
    "DEFAULT_KS",
    "METRICS",
    "Evaluation",
    "PairedTest",
    "compare",
    "compare_files",
    "compute_metrics",
    "evaluate_model",
    "evaluate_scores",
    "load_results",
    "markdown_table",
    "paired_test",
    "plot_results",
    "results_to_json",
    "run_benchmark",
    "run_benchmark_grid",
    "run_experiment",
]
