"""Issue 12, point 6: the demo is sized so that almost no order is rejected; the report counts
rejected orders and names their main reason; the log has one line per reason per day, with a count."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_gh12_demo_rejects_almost_nothing(run_cli) -> None:
    result = run_cli("demo", timeout=180)
    assert result.code == 0, result
    assert re.search(r"Rejected orders\s+0\b", result.out), result.out
    report = json.loads(run_cli("system", "report", "--json").out)["summary"]
    orders = json.loads(run_cli("account", "orders", "--json").out)
    assert len(orders) > 500 and report["trades"] > 200
    assert report["rejected_orders"] <= len(orders) // 100
    assert report["rejected_orders"] == sum(1 for o in orders if o["status"] == "rejected")


def test_gh12_rejections_counted_in_the_report_and_summarised_in_the_log(run_cli, example_bars: Path,
                                                                       tmp_path: Path) -> None:
    config = json.loads((ROOT / "config" / "example_session.json").read_text())
    config["trading_config"]["initial_cash"] = 30_000   # 100 MSFT (~410) never fits; 100 AAPL (~225) does
    config["trading_config"].pop("max_per_trade")
    cfg = tmp_path / "short_of_cash.json"
    cfg.write_text(json.dumps(config))
    result = run_cli("system", "start", str(cfg), "--wait")
    assert result.code == 0, result
    summary = json.loads(run_cli("system", "report", "--json").out)["summary"]
    rejected = json.loads(run_cli("account", "orders", "--status", "rejected", "--json").out)
    assert summary["rejected_orders"] == len(rejected) > 10
    main, count = next(iter(summary["rejection_reasons"].items()))
    assert main == "insufficient buying power" and count == sum(
        1 for o in rejected if "insufficient buying power" in o["reason"])
    assert re.search(rf"Rejected orders\s+{len(rejected):,} \(main reason: insufficient buying power, {count:,}\)",
                     result.out), result.out
    log = (example_bars / "state" / "mismartera.log").read_text()
    lines = [line for line in log.splitlines() if "rejected" in line]
    summarised = [line for line in lines if "order(s) rejected: insufficient buying power" in line]
    days = {re.search(r"(2024-11-\d\d): \d+ order\(s\) rejected", line).group(1) for line in summarised}
    assert len(summarised) == len(days) >= 2       # one line per reason per day
    assert sum(int(re.search(r": (\d+) order\(s\) rejected", line).group(1)) for line in summarised) == count
    assert len(lines) == len(summarised), lines    # and no line per order
