"""Issue 12, point 1: a backtest stopped in the middle of a day keeps its account — the report,
`account balance` and `account positions` read back what the session showed just before the stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def outputs(text: str) -> dict[str, str]:
    """Each echoed command's output, by the command line (the last one wins for repeated lines)."""
    parts: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("system@mismartera> "):
            current = line.removeprefix("system@mismartera> ")
            parts[current] = ""
        elif current is not None:
            parts[current] += line + "\n"
    return parts


def test_gh12_stopped_mid_day_keeps_cash_positions_and_equity(run_cli, example_bars: Path, tmp_path: Path) -> None:
    config = json.loads((ROOT / "config" / "example_session.json").read_text())
    config["strategies"] = [{"name": "sma_crossover", "symbols": ["MSFT"],
                             "params": {"fast": 3, "slow": 8, "quantity": 50}}]
    cfg = tmp_path / "midday.json"
    cfg.write_text(json.dumps(config))
    script = tmp_path / "midday.msh"
    script.write_text(
        f"system start {cfg} --speed 1200\n"
        "system wait --timeout 1\n"          # times out (exit 5): a few minutes in, AAPL has a price
        "order buy AAPL 40\n"
        "system wait --timeout 3\n"          # part-way through the first day
        "system pause\n"
        "account balance --json\n"
        "account positions --json\n"
        "system stop\n"
        "system report --json\n"
        "account balance --json\n"
        "account positions --json\n")
    result = run_cli("run", str(script), "--keep-going")
    assert result.code == 5, result
    first = result.out.split("system@mismartera> system stop")[0]
    later = result.out.split("system@mismartera> system stop")[1]
    live_balance = json.loads(outputs(first)["account balance --json"])
    live_positions = json.loads(outputs(first)["account positions --json"])
    report = json.loads(outputs(later)["system report --json"])
    balance = json.loads(outputs(later)["account balance --json"])
    positions = json.loads(outputs(later)["account positions --json"])

    assert any(p["symbol"] == "AAPL" and p["quantity"] == 40 for p in live_positions), live_positions
    assert live_balance["equity"] != pytest.approx(live_balance["cash"])   # positions are worth something

    def cents(value: float) -> int:
        return round(value * 100)

    for key in ("cash", "equity", "realized_pnl", "unrealized_pnl", "pnl"):
        assert cents(balance[key]) == cents(live_balance[key]), key
    assert [(p["symbol"], p["quantity"], cents(p["average_price"]), cents(p["last_price"]), cents(p["market_value"]))
            for p in positions] == [
        (p["symbol"], p["quantity"], cents(p["average_price"]), cents(p["last_price"]), cents(p["market_value"]))
        for p in live_positions]
    summary = report["summary"]
    assert report["run"]["state"] == "stopped"
    assert cents(summary["final_equity"]) == cents(live_balance["equity"])
    initial = live_balance["initial_cash"]
    assert summary["total_return_pct"] == pytest.approx((live_balance["equity"] / initial - 1) * 100, abs=1e-6)
    assert summary["partial_day"] == "2024-11-25"
    assert [(d["day"], cents(d["equity"])) for d in report["equity"]] == [
        ("2024-11-25", cents(live_balance["equity"]))]
