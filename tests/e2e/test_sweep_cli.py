"""`mismartera sweep …` driven as a user would (issue 17): one-shot runs with JSON and CSV, the best
point against `system start` of the same config with its params, every error of point 7 as one line
with its exit code, and Ctrl-C followed by `--resume`."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sweep_support import FIRST_DAY, SYMBOLS, config_tree, write_config

from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.demo import seed_demo
from mismartera.data.schema import sweep_points
from mismartera.timekeeping.calendar import TimeManager

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(cli_home: Path) -> Path:
    """cli_home with four days of demo bars for AAPL and MSFT."""
    (cli_home / "data").mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{cli_home / 'data' / 'mismartera.db'}")
    try:
        seed_demo(BarStore(db), TimeManager(), SYMBOLS, FIRST_DAY, 4, 11)
    finally:
        db.dispose()
    return cli_home


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "sweep.json", config_tree())


def test_sweep_run_report_csv_and_a_points_run(home: Path, config: Path, tmp_path: Path, run_cli) -> None:
    done = run_cli("sweep", "run", str(config), "--param", "fast=5,10", "--param", "slow=20,30", "--workers", "2",
                   "--json")
    assert done.code == 0, done
    data = json.loads(done.out)
    assert data["run"]["finished"] == 4 and data["run"]["failed"] == 0
    board = data["leaderboard"]
    sharpes = [row["sharpe"] for row in board]
    assert sharpes == sorted(sharpes, reverse=True) and len(board) == 4
    assert len(data["heat_map"]["cells"]) == 2 and len(data["heat_map"]["cells"][0]) == 2

    best = board[0]
    tree = config_tree()
    tree["strategies"][0]["params"].update(best["params"])
    alone = run_cli("system", "start", "--config", str(write_config(tmp_path / "best.json", tree)), "--wait", "--json")
    assert alone.code == 0, alone
    assert round(json.loads(alone.out)["summary"]["final_equity"], 2) == round(best["final_equity"], 2)

    points_csv = tmp_path / "points.csv"
    shown = run_cli("sweep", "report", "1", "--csv", str(points_csv))
    assert shown.code == 0, shown
    assert "Sharpe by fast and slow" in shown.out and "wrote 4 point(s)" in shown.out
    with points_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((int(r["fast"]), int(r["slow"])) for r in rows) == [(5, 20), (5, 30), (10, 20), (10, 30)]

    report = run_cli("system", "report", str(best["run_id"]), "--json")
    assert report.code == 0, report
    assert json.loads(report.out)["summary"]["final_equity"] == best["final_equity"]
    listed = run_cli("sweep", "list", "--json")
    assert [s["id"] for s in json.loads(listed.out)] == [1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("args", "code", "line"), [
    (["--param", "fsat=5,10"], 2, "Error: --param fsat: unknown parameter — did you mean 'fast'?"),
    (["--param", "slow=90:30:10"], 2, "Error: --param slow=90:30:10: empty range (END 30 is below START 90)"),
    (["--param", "fast=five"], 2, "Error: --param fast: 'five' is not a whole number (strategies.0.params.fast is 10)"),
    (["--param", "fast=1:101", "--param", "slow=200:300"], 2,
     "Error: the sweep has 10,201 points, more than 10,000; narrow the grid, sample it with --random K, or "
     "confirm with --yes"),
    (["--param", "fast=5", "--metric", "sharp"], 2,
     "Error: --metric sharp: unknown metric — did you mean 'sharpe'? (expected one of: sharpe, return, drawdown, "
     "win_rate, trades, equity, exposure)"),
    (["--param", "fast=5", "--engine", "ray", "--address", "ray://127.0.0.1:PORT"], 1,
     "Error: cannot reach the Ray cluster at ray://127.0.0.1:PORT: Connection refused (is it running? expected "
     "ray://HOST:10001 or auto)"),
])
def test_bad_sweeps_fail_in_one_line_with_their_exit_code(home: Path, config: Path, run_cli, args: list[str],
                                                          code: int, line: str) -> None:
    port = str(_closed_port())
    args = [a.replace("PORT", port) for a in args]
    began = time.monotonic()
    result = run_cli("sweep", "run", str(config), *args, timeout=60)
    assert time.monotonic() - began < 30
    assert result.code == code, result
    assert result.err.strip().splitlines() == [line.replace("PORT", port)]
    assert "Traceback" not in result.out + result.err


def test_missing_config_and_unknown_sweep(home: Path, run_cli) -> None:
    result = run_cli("sweep", "run", "--param", "fast=5")
    assert result.code == 2 and "missing CONFIG" in result.err
    result = run_cli("sweep", "report", "7")
    assert result.code == 1 and result.err.strip() == "Error: no sweep 7 (see: sweep list)"


def _finished_points(home: Path) -> int:
    engine = create_engine(f"sqlite:///{home / 'data' / 'mismartera.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(sweep_points).where(
                sweep_points.c.state == "finished")).scalar_one()
    except Exception:
        return 0   # the tables are not there yet
    finally:
        engine.dispose()


def test_ctrl_c_keeps_finished_points_and_resume_runs_only_the_rest(home: Path, config: Path, run_cli) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
    proc = subprocess.Popen([sys.executable, "-m", "mismartera", "sweep", "run", str(config), "--param",
                             "fast=3,4,5,6,7,8,9,11", "--param", "slow=20", "--workers", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _finished_points(home) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    kept = _finished_points(home)
    assert 1 <= kept < 8
    assert err.strip().splitlines()[-1] == (f"Error: interrupted: sweep 1 stopped with {kept} of 8 point(s) "
                                            "finished; run the rest with: sweep run --resume 1")
    before = json.loads(run_cli("sweep", "report", "1", "--top", "0", "--json").out)["leaderboard"]
    runs_before = {row["point"]: row["run_id"] for row in before if row["state"] == "finished"}

    resumed = run_cli("sweep", "run", "--resume", "1", "--workers", "2", "--json")
    assert resumed.code == 0, resumed
    data = json.loads(resumed.out)
    assert data["run"]["ran"] == 8 - kept and data["sweep"]["finished"] == 8
    after = {row["point"]: row["run_id"] for row in data["leaderboard"]} if len(data["leaderboard"]) == 8 else \
        {row["point"]: row["run_id"] for row in json.loads(
            run_cli("sweep", "report", "1", "--top", "0", "--json").out)["leaderboard"]}
    assert all(after[point] == run_id for point, run_id in runs_before.items())
