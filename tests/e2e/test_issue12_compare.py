"""Issue 12, point 10: `system compare RUN RUN [RUN…]` puts the report metrics of runs side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_gh12_compare_two_runs_side_by_side_and_as_json(run_cli, example_bars: Path) -> None:
    first = run_cli("system", "start", "config/example_session.json", "--wait", "--json")
    second = run_cli("system", "start", "config/example_session.json", "--symbols", "MSFT", "--end", "2024-11-27",
                     "--wait", "--json")
    assert first.code == 0 and second.code == 0, (first, second)
    reports = [json.loads(first.out), json.loads(second.out)]

    compared = run_cli("system", "compare", "1", "2", "--json")
    assert compared.code == 0, compared
    runs = json.loads(compared.out)
    assert [r["run"]["id"] for r in runs] == [1, 2]
    assert runs[0]["run"]["period"] == ["2024-11-25", "2024-11-29"]
    assert runs[1]["run"]["period"] == ["2024-11-25", "2024-11-27"]
    for run, report in zip(runs, reports, strict=True):
        for key in ("final_equity", "total_return_pct", "max_drawdown_pct", "sharpe", "trades", "win_rate_pct",
                    "exposure_pct", "total_commission", "days"):
            assert run["summary"][key] == report["summary"][key], key

    table = run_cli("system", "compare", "2", "1")
    assert table.code == 0, table
    lines = table.out.splitlines()
    assert lines[0].startswith("Runs 2, 1 compared")
    header = next(line for line in lines if "Metric" in line)
    assert header.index("Run 2") < header.index("Run 1")
    final = next(line for line in lines if line.strip().startswith("Final equity"))
    assert final.split()[-2:] == [f"{reports[1]['summary']['final_equity']:,.2f}",
                                  f"{reports[0]['summary']['final_equity']:,.2f}"]
    period = next(line for line in lines if line.strip().startswith("Period"))
    assert "2024-11-25 to 2024-11-27" in period and "2024-11-25 to 2024-11-29" in period

    assert run_cli("system", "compare", "1").code == 2
    assert run_cli("system", "compare", "1", "1").code == 2
    assert run_cli("system", "compare", "1", "x").code == 2
    missing = run_cli("system", "compare", "1", "9")
    assert missing.code == 1 and "run 9 not found" in missing.err
