"""A live paper session through the real `mismartera` program, against the fakes this test starts on
127.0.0.1 (REST data and paper account, the bar stream, trade updates), the way a person types it:
start, status, balance, a manual order filled by the paper account, stop within 2 s, the report.

It runs on the real wall clock, so on any day: before the open (nights, weekends, holidays) the
session waits for it, during market hours it is live with no bars to feed; the shell's view is the
same either way. Bars reaching strategies in market minutes are tested on a scripted clock in
tests/unit/test_alpaca_live_manager.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_alpaca.live import LiveFakes

from mismartera.integrations.alpaca.source import live_session_day
from mismartera.timekeeping.calendar import TimeManager
from mismartera.timekeeping.clock import WallClock

pytestmark = pytest.mark.e2e
pytest_plugins = ["fake_alpaca.fixtures"]

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "system@mismartera> "


class Shell:
    """`mismartera` reading commands from a pipe, one at a time, with its output collected as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "mismartera"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                     env=env, cwd=ROOT)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def run(self, command: str, done: Callable[[str], bool], timeout: float = 10.0) -> str:
        """Send `command`; return its output once `done(output)` holds."""
        start = len(self.lines)
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            text = "".join(self.lines[start:])
            output = text.split(PROMPT + command + "\n", 1)[1] if PROMPT + command + "\n" in text else ""
            if output and done(output):
                return output
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no answer to {command!r} within {timeout:g}s:\n{text}\n--- stderr\n"
                                     f"{self._stderr()}")
            time.sleep(0.02)

    def json(self, command: str, timeout: float = 10.0) -> Any:
        return json.loads(self.run(command, _parses, timeout))

    def close(self, timeout: float = 10.0) -> tuple[int, str]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout)
        self._reader.join(2)
        return code, self._stderr()

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def seed_history(fakes: LiveFakes) -> None:
    """Flat bars (no strategy trades on them) for the trailing day of the session `system start` will
    pick: the previous trading day of today's session, or of the next one after today's close (both
    when the close is a moment away)."""
    tm = TimeManager()
    now = WallClock().now()
    days = {tm.previous_trading_day(live_session_day(tm, at).day) for at in (now, now + timedelta(minutes=2))}
    for day in days:
        session = tm.session(day)
        assert session is not None
        start = int(session.open.timestamp())
        for symbol in ("SPY", "AAPL"):
            fakes.rest.add_bars(symbol, [(start + 60 * m, 100.0, 100.0, 100.0, 100.0, 1000.0, 5, 100.0)
                                         for m in range(20)])


@pytest.fixture
def shell(live_fakes: LiveFakes, cli_home: Path) -> Iterator[Shell]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb", **live_fakes.env(cli_home)})
    running = Shell(env)
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait(5)
    for pipe in (running.proc.stdin, running.proc.stdout, running.proc.stderr):
        if pipe is not None and not pipe.closed:
            pipe.close()


def test_a_live_paper_session_seen_from_the_shell(live_fakes: LiveFakes, shell: Shell, tmp_path: Path) -> None:
    seed_history(live_fakes)
    live_fakes.brokerage.prices["SPY"] = 100.0
    config = json.loads((ROOT / "config" / "live_paper.json").read_text())
    config["session_name"] = "e2e_live"
    config["session_data_config"]["historical"]["trailing_days"] = 1
    config["trading_config"] = {"initial_cash": 100_000, "allow_short": False}
    path = tmp_path / "live.json"
    path.write_text(json.dumps(config))

    started = shell.run(f"system start {path}", lambda out: "started" in out, timeout=20)
    assert "session e2e_live started (run 1, 1 trading day(s))" in started

    status = shell.json("system status --json")
    assert (status["state"], status["mode"], status["session_name"], status["days_total"]) == \
        ("running", "live", "e2e_live", 1)
    assert status["message"] == "live" or status["message"] == "waiting for open 09:30 ET", status["message"]
    assert [w["name"] for w in status["workers"]] == ["prefetch", "upkeep", "refetch", "orders", "coordinator"]
    assert status["account"]["cash"] == 50_000.0          # Alpaca's account, not the config's cash
    assert live_fakes.data_ws.wait_listening(1, 5) and live_fakes.data_ws.subscriptions[0]["bars"] == ["AAPL", "SPY"]

    stored = {(row["symbol"], row["interval"]): row["rows"] for row in shell.json("data list --json")}
    assert stored[("SPY", "1m")] >= 20 and stored[("AAPL", "1m")] >= 20   # the trailing day, from REST

    balance = shell.json("account balance --json")
    assert (balance["run_id"], balance["cash"], balance["equity"]) == (1, 50_000.0, 50_000.0)

    ordered = shell.run("order buy SPY 2", lambda out: "order" in out.lower())
    assert "SPY" in ordered, ordered
    deadline = time.monotonic() + 5
    positions: list[Any] = []
    while time.monotonic() < deadline and not positions:
        positions = shell.json("account positions --json")
    assert [(p["symbol"], p["quantity"]) for p in positions] == [("SPY", 2.0)]
    assert shell.json("account balance --json")["cash"] == 49_800.0

    began = time.monotonic()
    stopped = shell.run("system stop", lambda out: "stopped (run 1)" in out)
    took = time.monotonic() - began
    assert took < 2.0, f"system stop took {took:.2f}s: {stopped}"

    assert shell.json("system status --json")["state"] == "stopped"
    report = shell.json("system report --json")
    assert (report["run"]["id"], report["run"]["state"]) == (1, "stopped")
    summary = report["summary"]
    assert summary["initial_cash"] == 50_000.0 and summary["final_equity"] == pytest.approx(50_000.0)
    assert summary["days_planned"] == 1 and summary["finished"] is False
    runs = shell.json("system runs --json")
    assert [(r["id"], r["state"]) for r in runs] == [(1, "stopped")]
    code, err = shell.close()
    assert code == 0, err
    assert "Traceback" not in err
    assert [(r.method, r.path) for r in live_fakes.rest.requests if r.method == "POST"] == [("POST", "/v2/orders")]


def test_a_rejected_key_and_missing_keys_are_one_line_errors(live_fakes: LiveFakes, run_cli, cli_home: Path) -> None:
    config = ROOT / "config" / "live_paper.json"
    wrong = run_cli("system", "start", str(config), env={**live_fakes.env(cli_home), "ALPACA_SECRET_KEY": "wrong"})
    assert wrong.code == 1, wrong
    # the sample loads 2 trailing days first: the data API is the first to refuse
    assert wrong.err.strip().splitlines() == [
        f"Error: Alpaca rejected the API key (HTTP 403 on the market-data API at {live_fakes.rest.url}); "
        "check ALPACA_API_KEY and ALPACA_SECRET_KEY"], wrong
    missing = run_cli("system", "start", str(config))
    assert missing.code == 4, missing
    assert "set ALPACA_API_KEY and ALPACA_SECRET_KEY" in missing.err


@pytest.mark.parametrize(("refusal", "feed", "line"), [
    ("402", "iex", "Alpaca rejected the API key on the data stream"),
    ("409", "sip", 'your Alpaca plan has no access to the sip feed (use "data_feed": "iex")'),
])
def test_a_refused_data_stream_is_one_line(live_fakes: LiveFakes, run_cli, cli_home: Path, tmp_path: Path,
                                           refusal: str, feed: str, line: str) -> None:
    """Issue 20, point 6: a key the data stream rejects (402), or a plan without the feed (409), is
    one line on the screen: no alpaca-py log lines, no worker line, no repeat."""
    if refusal == "402":
        live_fakes.data_ws.valid_keys = {("someone", "else")}
    else:
        live_fakes.data_ws.refuse_auth(409, "insufficient subscription", times=5)
    config = json.loads((ROOT / "config" / "live_paper.json").read_text())
    config["session_data_config"]["historical"]["trailing_days"] = 0
    config["api_config"]["data_feed"] = feed
    path = tmp_path / "live.json"
    path.write_text(json.dumps(config))
    result = run_cli("system", "start", str(path), "--wait", "--timeout", "30", env=live_fakes.env(cli_home))
    assert result.code == 1, result
    assert result.err.strip().splitlines() == [f"Error: session failed in coordinator: {line} (run 1)"], result
