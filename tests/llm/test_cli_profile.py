"""``fusionrec profile items`` end to end against a scripted server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.data import write_mmrec
from tests.llm.conftest import ROWS, FakeServer, Reply, chat
from tests.llm.test_user_profiles import make_split


def test_profile_items_writes_profiles_and_a_report_and_reuses_the_cache(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    pd.DataFrame(ROWS).to_csv(tmp_path / "items.csv", index=False)
    fake_server.queue(Reply("down", status=500))  # item 1 is retried once, then profiled
    out, report, cache = tmp_path / "p.jsonl", tmp_path / "report.json", tmp_path / "cache.sqlite"
    args = ["profile", "items", str(tmp_path / "items.csv"), "--llm-url", fake_server.url, "--out", str(out)]
    args += ["--report", str(report), "--cache", str(cache), "--limit", "3", "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["item_id"] for line in lines] == ["1", "2", "3", "4"]
    assert lines[0]["profile"]["summary"] == "Heat (1995)" and "outside the requested" in lines[3]["error"]
    summary = json.loads(report.read_text())
    assert summary["n_profiled"] == 3 and summary["n_failed"] == 1 and summary["n_cached"] == 0
    asked = len(fake_server.requests)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and json.loads(report.read_text())["n_cached"] == 3
    assert len(fake_server.requests) == asked and "3 answers from cache" in again.output
    assert "profiles: 3 of 3 (" in result.output  # off a terminal, plain progress lines


def test_a_bad_option_exits_with_a_message(tmp_path: Path) -> None:
    pd.DataFrame(ROWS).to_csv(tmp_path / "items.csv", index=False)
    args = ["profile", "items", str(tmp_path / "items.csv"), "--llm-url", "http://127.0.0.1:1", "--schema-mode", "xml"]
    result = CliRunner().invoke(app, [*args, "--no-cache", "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 2 and "--schema-mode is 'xml'" in result.output


def test_profile_users_writes_a_line_per_user_fewest_history_first(fake_server: FakeServer, tmp_path: Path) -> None:
    write_mmrec(make_split(), tmp_path / "tiny")
    fake_server.default = lambda request: chat("Likes crime films.")
    out, report = tmp_path / "users.jsonl", tmp_path / "report.json"
    args = ["profile", "users", str(tmp_path / "tiny"), "--llm-url", fake_server.url, "--out", str(out)]
    args += ["--report", str(report), "--no-cache", "--fewest-first", "--limit", "2", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--max-items", "1"])
    assert result.exit_code == 0, result.output
    lines = {line["user_id"]: line for line in map(json.loads, out.read_text().splitlines())}
    assert sorted(lines) == ["a", "b", "c", "d"] and lines["c"]["profile"]["summary"] == "Likes crime films."
    assert "outside the requested" in lines["a"]["error"] and "no training interaction" in lines["d"]["error"]
    assert json.loads(report.read_text())["n_profiled"] == 2 and len(fake_server.requests) == 2
    for request in fake_server.requests:  # --max-items 1: one history line per prompt
        prompt = request["messages"][-1]["content"]
        assert len(json.loads(prompt.split("<user_history>")[1].split("</user_history>")[0])) == 1
