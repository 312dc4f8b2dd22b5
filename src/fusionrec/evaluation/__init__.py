"""Evaluation: pure metric functions, the full-ranking protocol, significance tests, reports, benchmarks.

* :mod:`~fusionrec.evaluation.metrics` - recall, ndcg, precision, map, hr, mrr over hit lists.
* :mod:`~fusionrec.evaluation.beyond` - coverage, Gini of exposure, popularity, novelty, intra-list diversity.
* :mod:`~fusionrec.evaluation.ranking` - :func:`evaluate_scores`, chunked full ranking; :class:`Evaluation`.
* :mod:`~fusionrec.evaluation.protocol` - :func:`evaluate_model` on a split's valid or test part.
* :mod:`~fusionrec.evaluation.significance` - paired t-test and Wilcoxon between two evaluations.
* :mod:`~fusionrec.evaluation.report` - JSON, Markdown tables and PNG plot of benchmark results.
* :mod:`~fusionrec.evaluation.benchmark` - :func:`run_benchmark` over seeds, models and datasets.
"""

from fusionrec.evaluation.benchmark import run_benchmark, run_benchmark_grid, run_experiment
from fusionrec.evaluation.beyond import BEYOND_METRICS, ItemStatistics, beyond_metrics
from fusionrec.evaluation.metrics import METRICS, compute_metrics
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.evaluation.ranking import DEFAULT_KS, Evaluation, evaluate_scores
from fusionrec.evaluation.report import beyond_table, load_results, markdown_table, plot_results, results_to_json
from fusionrec.evaluation.significance import PairedTest, compare, compare_files, paired_test

__all__ = [
    "BEYOND_METRICS",
    "DEFAULT_KS",
    "METRICS",
    "Evaluation",
    "ItemStatistics",
    "PairedTest",
    "beyond_metrics",
    "beyond_table",
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
