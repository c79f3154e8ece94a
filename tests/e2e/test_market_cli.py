"""Trades, quotes and the market queries through the real program: one-shot, a piped script, the
shell; `delay` and its interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.e2e

TRADES = ("timestamp,price,size,exchange,conditions\n"
          "2024-11-29T09:30:00.000001-05:00,216.5,100,V,@ T\n2024-11-29T09:30:00.000001-05:00,216.51,5,,\n"
          "2024-11-29T10:00:00.5-05:00,216.6,7,Q,@\n")
QUOTES = ("timestamp,bid_price,bid_size,ask_price,ask_size\n"
          "2024-11-29T09:30:00.1-05:00,216.4,3,216.6,4\n2024-11-29T09:31:00-05:00,216.45,1,216.55,2\n")


def test_trades_quotes_and_queries_one_shot(run_cli, example_bars: Path, tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TRADES)
    (tmp_path / "q.csv").write_text(QUOTES + "2024-11-29T09:32:00-05:00,x,1,2,3\n")
    done = run_cli("data", "import-file", str(tmp_path / "t.csv"), "AAPL", "--type", "trades", "--json")
    assert done.code == 0, done
    assert json.loads(done.out)["new"] == 3
    again = run_cli("data", "import-file", str(tmp_path / "t.csv"), "AAPL", "--type", "trades", "--json")
    assert json.loads(again.out)["new"] == 0
    strict = run_cli("data", "import-file", str(tmp_path / "q.csv"), "AAPL", "--type", "quotes", "--strict")
    assert strict.code == 1 and "line 4: bid_price 'x' is not a number" in strict.err, strict
    lenient = run_cli("data", "import-file", str(tmp_path / "q.csv"), "AAPL", "--type", "quotes")
    assert lenient.code == 0 and "1 bad row(s) skipped" in lenient.out, lenient
    trades = run_cli("data", "trades", "AAPL", "2024-11-29", "--limit", "2", "--json")
    assert trades.code == 0, trades
    assert [t["price"] for t in json.loads(trades.out)] == [216.5, 216.51]
    latest = json.loads(run_cli("data", "latest-quote", "AAPL", "--json").out)
    assert latest["bid_price"] == 216.45 and latest["time"].startswith("2024-11-29T09:31:00")
    assert json.loads(run_cli("data", "latest-trade", "AAPL", "--json").out)["size"] == 7
    high_low = json.loads(run_cli("data", "high-low", "AAPL", "3", "--json").out)
    assert set(high_low) == {"symbol", "days", "start", "end", "high", "high_at", "low", "low_at"}
    assert (high_low["start"], high_low["end"]) == ("2024-11-26", "2024-11-29")  # Thanksgiving skipped
    volume = json.loads(run_cli("data", "avg-volume", "AAPL", "4", "--json").out)
    assert set(volume) == {"symbol", "days", "days_with_data", "start", "end", "average_volume"}
    stats = json.loads(run_cli("data", "session-stats", "AAPL", "--json").out)
    assert stats["date"] == "2024-11-29" and stats["bars"] == 210 and stats["missing"] == 0
    out = tmp_path / "back.csv"
    exported = run_cli("data", "export-csv", "AAPL", "2024-11-29", "2024-11-29", "-o", str(out), "--type", "trades")
    assert exported.code == 0 and out.read_text().count("\n") == 4, exported
    missing = run_cli("data", "high-low", "TSLA", "5")
    assert missing.code == 1 and missing.err.strip() == ("Error: no 1m bars stored for 'TSLA' (try 'data import-file' "
                                                         "or 'data import-api')"), missing
    nothing = run_cli("data", "quotes", "MSFT", "2024-11-29")
    assert nothing.code == 1 and "no quotes stored for 'MSFT'" in nothing.err


def test_queries_and_delay_in_a_script(run_cli, example_bars: Path) -> None:
    script = "data high-low AAPL 2 --json\ndelay 0.3\ndata session-stats MSFT 2024-11-27 --json\n"
    started = time.monotonic()
    done = run_cli(stdin=script)
    assert done.code == 0, done
    assert time.monotonic() - started >= 0.3
    assert '"high_at"' in done.out and '"vwap"' in done.out
    bad = run_cli(stdin="delay -2\ndata list\n")
    assert bad.code == 2 and "delay -2 is out of range (expected 0 to 86400 seconds)" in bad.err, bad


def test_delay_is_interrupted_by_ctrl_c(cli_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env["MISMARTERA_HOME"] = str(cli_home)
    proc = subprocess.Popen([sys.executable, "-m", "mismartera", "delay", "60"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    time.sleep(3)  # let it start waiting
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)


def test_delay_in_a_script_is_interrupted_and_the_rest_is_not_run(cli_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "wait.msh"
    script.write_text("delay 60\ntime market\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env["MISMARTERA_HOME"] = str(cli_home)
    proc = subprocess.Popen([sys.executable, "-m", "mismartera", "run", str(script)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    time.sleep(3)  # let it start waiting
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert time.monotonic() - started < 5 and "interrupted" in err and "Market" not in out, (out, err)


def test_delay_in_the_shell_is_interrupted(cli_home: Path, example_bars: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(cli_home), "PROMPT_TOOLKIT_NO_CPR": "1", "LINES": "40", "COLUMNS": "120"})
    child = pexpect.spawn(sys.executable, ["-m", "mismartera"], env=env, encoding="utf-8", timeout=60,
                          dimensions=(40, 120), cwd=str(Path(__file__).resolve().parents[2]))
    try:
        child.expect_exact("system@mismartera")
        child.sendline("delay 60")
        time.sleep(2)
        child.sendintr()
        child.expect_exact("interrupted")
        child.sendline("data high-low AAPL 1")
        child.expect_exact("1-day high and low")
    finally:
        child.terminate(force=True)


def test_import_api_trades_one_shot(run_cli, tmp_path: Path) -> None:
    from fake_alpaca.server import FakeAlpaca
    from fake_alpaca.tick_routes import add_trades

    open_us = 1732890600 * 1_000_000  # 2024-11-29 09:30 EST
    with FakeAlpaca(page_size=100) as server:
        add_trades(server, "AAPL", [(open_us + i, 0, 216.0, 1.0, "V", None, i) for i in range(250)])
        done = run_cli("data", "import-api", "AAPL", "2024-11-29", "2024-11-29", "--type", "trades", "--json",
                       env=server.env())
        assert done.code == 0, done
        assert json.loads(done.out)[0]["rows"] == 250 and json.loads(done.out)[0]["new"] == 250
        assert len(server.requests) == 3
        bad = run_cli("data", "import-api", "AAPL", "2024-11-29", "2024-11-29", "--type", "quotes",
                      env=server.env())
        assert bad.code == 1 and "Alpaca has no quotes for AAPL" in bad.err, bad
        wrong = run_cli("data", "import-api", "AAPL", "2024-11-29", "2024-11-29", "--type", "trades",
                        env=server.env() | {"ALPACA_SECRET_KEY": "nope"})
        assert wrong.code == 1 and len(wrong.err.strip().splitlines()) == 1, wrong


def test_snapshot_from_the_database_and_from_alpaca(run_cli, example_bars: Path, tmp_path: Path) -> None:
    from fake_alpaca.server import FakeAlpaca
    from fake_alpaca.tick_routes import set_snapshot

    (tmp_path / "t.csv").write_text(TRADES)
    assert run_cli("data", "import-file", str(tmp_path / "t.csv"), "AAPL", "--type", "trades").code == 0
    stored = run_cli("data", "snapshot", "AAPL", "--json")
    assert stored.code == 0, stored
    data = json.loads(stored.out)
    assert data["source"] == "database" and data["latest_trade"]["price"] == 216.6 and data["latest_quote"] is None
    assert data["minute_bar"]["time"].startswith("2024-11-29T12:59:00")
    stats = json.loads(run_cli("data", "session-stats", "AAPL", "2024-11-27", "--json").out)
    assert data["previous_daily_bar"]["high"] == stats["high"] and data["daily_bar"]["close"] > 0
    assert run_cli("data", "snapshot", "NVDA").code == 1
    with FakeAlpaca() as server:
        set_snapshot(server, "AAPL", {
            "latestTrade": {"t": "2024-12-02T15:00:00.123456789Z", "p": 237.1, "s": 50, "x": "V", "c": ["@"],
                            "i": 9},
            "latestQuote": {"t": "2024-12-02T15:00:01Z", "bp": 237.0, "bs": 2, "ap": 237.2, "as": 3, "bx": "V",
                            "ax": "Q", "c": ["R"]},
            "minuteBar": {"t": "2024-12-02T14:59:00Z", "o": 237, "h": 237.3, "l": 236.9, "c": 237.1, "v": 900},
            "dailyBar": {"t": "2024-12-02T05:00:00Z", "o": 236, "h": 238, "l": 235, "c": 237.1, "v": 9e5},
            "prevDailyBar": {"t": "2024-11-29T05:00:00Z", "o": 235, "h": 237, "l": 234, "c": 236, "v": 8e5}})
        live = run_cli("data", "snapshot", "AAPL", "--json", env=server.env())
        assert live.code == 0, live
        data = json.loads(live.out)
        assert data["source"] == "alpaca" and data["latest_trade"]["price"] == 237.1
        assert data["latest_quote"]["ask_price"] == 237.2 and data["previous_daily_bar"]["close"] == 236
        assert server.requests[-1].path == "/v2/stocks/snapshots"
        unknown = run_cli("data", "snapshot", "ZZZZ", env=server.env())
        assert unknown.code == 1 and "Alpaca has no snapshot for 'ZZZZ'" in unknown.err


def test_one_shot_market_queries_read_sqlite_without_sqlalchemy(run_cli, example_bars: Path) -> None:
    """A one-shot `data high-low` reads the SQLite file with the standard library (issue 18's figure:
    the program's start-up is most of it), and answers exactly what the `Database` path answers."""
    from mismartera.data import analytics
    from mismartera.data.database import Database
    from mismartera.timekeeping.calendar import TimeManager

    assert run_cli("data", "high-low", "AAPL", "3").code == 0   # the first run caches the calendar's sessions
    done = run_cli("data", "high-low", "AAPL", "3", "--json", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert done.code == 0, done
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.err.splitlines() if "|" in line}
    assert "sqlite3" in imported and not imported & {"sqlalchemy", "alembic", "typer", "pandas"}
    db = Database(f"sqlite:///{example_bars / 'data' / 'mismartera.db'}")
    try:
        expected = analytics.high_low(db, TimeManager(), "AAPL", 3)
    finally:
        db.dispose()
    got, tm = json.loads(done.out), TimeManager()
    assert (got["high"], got["low"], got["high_at"], got["low_at"]) == (
        expected.high, expected.low, tm.to_exchange(expected.high_at).isoformat(),
        tm.to_exchange(expected.low_at).isoformat())
