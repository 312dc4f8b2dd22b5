"""Evaluation: pure metric functions, the full-ranking protocol, significance tests, reports, benchmarks.

* :mod:`~fusionrec.evaluation.metrics` - recall, ndcg, precision, map, hr, mrr over hit lists.
* :mod:`~fusionrec.evaluation.beyond` - coverage, Gini of exposure, popularity, novelty, intra-list diversity.
* :mod:`~fusionrec.evaluation.ranking` - :func:`evaluate_scores`, chunked full ranking; :class:`Evaluation`.
* :mod:`~fusionrec.evaluation.protocol` - :func:`evaluate_model` on a split's valid or test part.
* :mod:`~fusionrec.evaluation.significance` - paired t-test and Wilcoxon between two evaluations.
* :mod:`~fusionrec.evaluation.report` - JSON, Markdown tables and PNG plot of benchmark results.
* :mod:`~fusionrec.evaluation.benchmark` - :func:`run_benchmark` over seeds, models and datasets.

The names listed in ``__init__.pyi`` load their module on first use (``lazy_loader``), so reading a
metric does not import the benchmark runner, the plots or the models.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
