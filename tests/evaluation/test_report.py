"""Reports: JSON round trip, Markdown table with the best bolded, PNG plot."""

from __future__ import annotations

import pytest

from fusionrec.evaluation.report import beyond_table, load_results, markdown_table, plot_results, results_to_json


def result(dataset: str, model: str, recall: float, ndcg: float, std: float = 0.001) -> dict:
    return {
        "dataset": dataset,
        "model": model,
        "metrics": {"recall@20": {"mean": recall, "std": std}, "ndcg@20": {"mean": ndcg, "std": std}},
    }


@pytest.fixture
def results() -> list[dict]:
    return [
        result("baby", "pop", 0.0120, 0.0060),
        result("baby", "bpr", 0.0400, 0.0150),
        result("tiktok", "pop", 0.0100, 0.0200),
        result("tiktok", "bpr", 0.0300, 0.0100),
    ]


def test_table_rows_cells_and_best_per_dataset(results):
    table = markdown_table(results, ["recall@20", "ndcg@20"])
    lines = table.splitlines()
    assert lines[0] == "| dataset | model | recall@20 | ndcg@20 |"
    assert lines[1] == "|---|---|---|---|"
    assert lines[2] == "| baby | pop | 0.0120 ± 0.0010 | 0.0060 ± 0.0010 |"
    assert lines[3] == "| baby | bpr | **0.0400 ± 0.0010** | **0.0150 ± 0.0010** |"
    assert lines[4] == "| tiktok | pop | 0.0100 ± 0.0010 | **0.0200 ± 0.0010** |"  # best is chosen per dataset
    assert lines[5] == "| tiktok | bpr | **0.0300 ± 0.0010** | 0.0100 ± 0.0010 |"


def test_missing_metrics_and_ties(results):
    results.append({"dataset": "baby", "model": "lightgcn", "metrics": {"recall@20": {"mean": 0.04, "std": 0.0}}})
    table = markdown_table(results, ["recall@20", "ndcg@20"], digits=2).splitlines()
    assert table[-1] == "| baby | lightgcn | **0.04 ± 0.00** | – |"
    assert table[3] == "| baby | bpr | **0.04 ± 0.00** | **0.01 ± 0.00** |"  # equal when shown: both bold


def test_json_round_trip(results, tmp_path):
    path = results_to_json(results, tmp_path / "nested" / "results.json")
    assert load_results(path) == results


def test_plot_is_written_as_png(results, tmp_path):
    path = plot_results(results, tmp_path / "plot.png", title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


def test_beyond_table_rows_cells_and_results_without_beyond_values(results):
    values = {"coverage@20": {"mean": 0.41234, "std": 0.002}, "ild@20": {"mean": 0.9, "std": 0.0}}
    with_beyond = {**results[0], "beyond": {"metrics": values, "item_vectors": "content: image"}}
    lines = beyond_table([with_beyond, results[1]], ["coverage@20", "ild@20"]).splitlines()
    assert lines[0] == "| dataset | model | coverage@20 | ild@20 | ILD from |"
    assert lines[2] == "| baby | pop | 0.412 ± 0.002 | 0.900 ± 0.000 | content: image |"
    assert lines[3] == "| baby | bpr | – | – | – |"  # a result written before beyond values existed
