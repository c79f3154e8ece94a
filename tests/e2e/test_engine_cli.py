"""The session engine through the real `mismartera` program: demo, start --wait, report, account,
illegal moves and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def seed(home: Path, symbols: list[str], start: date, days: int) -> None:
    """Seed demo bars into the database the CLI will use (same MISMARTERA_HOME)."""
    from mismartera.commands.context import AppContext
    from mismartera.config.settings import load_settings
    from mismartera.data.demo import seed_demo

    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(home)}))
    try:
        seed_demo(ctx.bars, ctx.time, symbols, start, days, seed=7)
    finally:
        ctx.close()


def test_demo_runs_and_prints_the_report_then_account_and_report_read_it(run_cli, cli_home: Path) -> None:
    began = time.monotonic()
    result = run_cli("demo", timeout=120)
    assert result.code == 0, result
    assert time.monotonic() - began < 60
    assert "seeded 38,100 demo bars over 20 trading days" in result.out  # 5 × (19 × 390 + 210, Black Friday)
    for text in ("Backtest report", "Total return", "Max drawdown", "Sharpe", "Win rate", "Exposure",
                 "P&L by symbol", "Equity, run 1"):
        assert text in result.out, text
    report = run_cli("system", "report", "--json")
    assert report.code == 0, report
    data = json.loads(report.out)
    assert data["run"]["state"] == "finished" and data["summary"]["days"] == 20
    assert len(data["equity"]) == 20
    balance = json.loads(run_cli("account", "balance", "--json").out)
    assert balance["run_id"] == 1
    assert balance["equity"] == pytest.approx(data["summary"]["final_equity"])
    fills = run_cli("account", "fills", "--json")
    assert fills.code == 0 and len(json.loads(fills.out)) > 0
    # From any folder: the demo config ships inside the package.
    again = run_cli("demo", timeout=120, cwd=cli_home)
    assert again.code == 0, again
    assert "using the demo bars already in the database" in again.out and "Equity, run 2" in again.out


def test_system_start_example_config_wait(run_cli, cli_home: Path, tmp_path: Path) -> None:
    seed(cli_home, ["AAPL", "MSFT"], date(2024, 11, 25), 4)
    csv_file = tmp_path / "equity.csv"
    result = run_cli("system", "start", "config/example_session.json", "--wait")
    assert result.code == 0, result
    assert "Backtest report" in result.out and "2024-11-25 to 2024-11-29" in result.out
    exported = run_cli("system", "report", "1", "--csv", str(csv_file))
    assert exported.code == 0, exported
    lines = csv_file.read_text().splitlines()
    assert lines[0].startswith("run_id,day,equity") and len(lines) == 5
    orders = run_cli("account", "orders", "--status", "filled", "--json")
    assert orders.code == 0 and {o["status"] for o in json.loads(orders.out)} == {"filled"}
    again = run_cli("system", "start", "--config", "config/example_session.json", "--wait", "--json")
    assert again.code == 0, again
    report = json.loads(again.out)
    assert report["run"]["id"] == 2 and report["summary"]["trades"] > 0
    assert [d["day"] for d in report["equity"]] == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29"]
    missing = run_cli("system", "report", "99")
    assert missing.code == 1 and "run 99 not found (the latest run is 2)" in missing.err
    listed = json.loads(run_cli("system", "runs", "--json").out)
    assert [(r["id"], r["state"], r["days"]) for r in listed] == [(2, "finished", "4/4"), (1, "finished", "4/4")]


def test_wrong_state_and_bad_config_exit_codes(run_cli, tmp_path: Path) -> None:
    paused = run_cli("system", "pause")
    assert paused.code == 3 and "cannot pause: system is stopped (start it first)" in paused.err
    missing = run_cli("system", "start", str(tmp_path / "nope.json"), "--wait")
    assert missing.code == 4 and "config file not found" in missing.err
    no_runs = run_cli("account", "balance")
    assert no_runs.code == 1 and "no runs yet" in no_runs.err
    assert "Traceback" not in paused.err + missing.err + no_runs.err


def test_sigterm_stops_a_waiting_session_gracefully(cli_home: Path, tmp_path: Path) -> None:
    seed(cli_home, ["AAPL", "MSFT"], date(2024, 11, 25), 4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(cli_home), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
    proc = subprocess.Popen([sys.executable, "-m", "mismartera", "system", "start", "config/example_session.json",
                             "--speed", "60", "--wait"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    from mismartera.commands.context import AppContext
    from mismartera.config.settings import load_settings
    from mismartera.errors import NotFound
    from mismartera.system.runs import RunHistory

    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(cli_home)}))
    try:
        deadline = time.monotonic() + 30
        while True:   # signal only once the session runs (not while the program is still starting)
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            try:
                if RunHistory(ctx.db).run().state == "running":
                    break
            except NotFound:
                pass
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, (out, err)
        assert "interrupted: session stopped at" in err
        # exchange time like everything else (issue 12), not a raw UTC timestamp
        assert re.search(r"session stopped at 2024-11-2\d \d\d:\d\d E[SD]T \(run 1, day \d of 4\)", err), err
        assert "+00:00" not in err
        run = RunHistory(ctx.db).run()
        assert run.state == "stopped" and run.summary is not None and run.summary["finished"] is False
    finally:
        ctx.close()
