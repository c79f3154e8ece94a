"""The web dashboard's server side (issue 19): the public page and files, the live-updates stream
behind the token, the equity feed, the dashboard URL (token in the fragment, masked in history and
log), and `mismartera dashboard` / `system status` from another process.

The page itself is tested in headless Chromium: tests/e2e/test_dashboard_browser.py."""

from __future__ import annotations

import http.client
import json
import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from mismartera.api.host import SessionHost
from mismartera.cli.browser import FORWARD_FILE, has_browser
from mismartera.cli.logs import RedactSecrets
from mismartera.cli.redact import Redactor
from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.demo import seed_demo
from mismartera.system import discovery
from mismartera.system.dashboard_link import dashboard_url, find_dashboard
from mismartera.system.state import SystemState

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["AAPL", "MSFT"]
CONFIG = {
    "session_name": "gh19-session",
    "backtest_config": {"start_date": "2024-11-04", "end_date": "2024-11-06", "speed_multiplier": 120},
    "session_data_config": {"symbols": SYMBOLS, "streams": ["1m"]},
    "strategies": [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}],
    "trading_config": {"initial_cash": 100_000},
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    ctx.settings.ensure_dirs()
    seed_demo(ctx.bars, ctx.time, SYMBOLS, date(2024, 11, 4), 3, seed=3)
    yield ctx
    if ctx.has_system() and ctx.system.state.active:
        ctx.system.stop(5)
    ctx.close()


@pytest.fixture
def hosted(app: AppContext) -> Iterator[SessionHost]:
    """A paced session of `app`, owned by this process and served on a real socket."""
    host = SessionHost(app, app.system, "shell").attach()
    app.system.start(parse_session_config(CONFIG))
    yield host
    if app.system.state.active:
        app.system.stop(5)
    host.close()


def get(host: SessionHost, path: str, token: str | None = None) -> tuple[int, str, str]:
    assert host.record is not None
    connection = http.client.HTTPConnection(host.record.api_host, host.record.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read().decode()
    finally:
        connection.close()


def read_events(host: SessionHost, token: str, count: int) -> list[tuple[float, str, dict]]:
    """The first `count` events of /dashboard/events: (arrival time, name, data)."""
    assert host.record is not None
    connection = http.client.HTTPConnection(host.record.api_host, host.record.port, timeout=30)
    events: list[tuple[float, str, dict]] = []
    try:
        connection.request("GET", "/dashboard/events", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("content-type", "").startswith("text/event-stream")
        name = None
        while len(events) < count:
            line = response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                assert name is not None
                events.append((time.monotonic(), name, json.loads(line[6:])))
                name = None
    finally:
        connection.close()
    return events


def test_gh19_the_page_and_its_files_are_public_and_hold_no_session_data(app: AppContext, hosted: SessionHost) -> None:
    code, kind, page = get(hosted, "/")
    assert code == 200 and kind.startswith("text/html")
    assert "/dashboard/static/dashboard.js" in page and "/dashboard/static/dashboard.css" in page
    assert "gh19-session" not in page and "http://" not in page   # nothing from the session, nothing fetched
    for name, mime in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        code, kind, text = get(hosted, f"/dashboard/static/{name}")
        assert code == 200 and kind.startswith(mime) and len(text) > 1000
    assert "http://" not in get(hosted, "/dashboard/static/dashboard.js")[2].replace("http://www.w3.org", "")
    code, _kind, body = get(hosted, "/dashboard/static/secrets.txt")
    assert code != 200 and "no dashboard file named 'secrets.txt'" in body
    # The live data needs the token, as every other route does.
    token = discovery.read_token(app.settings.state_dir)
    assert get(hosted, "/dashboard/events")[0] == 401
    assert get(hosted, "/dashboard/events", "not-the-token")[0] == 401
    assert get(hosted, "/system/status", token)[0] == 200


def test_gh19_the_stream_pushes_the_status_at_most_twice_a_second(app: AppContext, hosted: SessionHost) -> None:
    token = discovery.read_token(app.settings.state_dir)
    assert token is not None
    events = read_events(hosted, token, 6)
    assert events[0][1] == "hello"
    statuses = [(at, data) for at, name, data in events if name == "status"]
    assert len(statuses) >= 4
    for _at, data in statuses:
        assert data["run_id"] == app.system.run_id and data["session_name"] == "gh19-session"
        assert set(data) >= {"state", "clock", "day_index", "days_total", "progress", "account", "workers"}
    gaps = [b[0] - a[0] for a, b in pairwise(statuses)]
    assert min(gaps) >= 0.4, gaps
    clocks = [data["clock"] for _at, data in statuses]
    assert clocks == sorted(clocks) and clocks[0] != clocks[-1]   # a paced session: the clock moves


@dataclass
class FakeDay:
    day: date
    equity: float


class FakeHistory:
    def __init__(self) -> None:
        self.days: dict[int, list[FakeDay]] = {}
        self.asked = 0

    def daily(self, run_id: int) -> list[FakeDay]:
        self.asked += 1
        return list(self.days.get(run_id, []))


class FakeSystem:
    def __init__(self) -> None:
        self.store = FakeHistory()

    def history(self) -> FakeHistory:
        return self.store


@dataclass
class FakeStatus:
    run_id: int | None
    state: SystemState
    day_index: int
    days_total: int = 3
    mode: str = "backtest"
    clock: object = None
    account: object = None


def test_gh19_equity_points_are_sent_once_as_days_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    from mismartera.api import dashboard

    monkeypatch.setattr(dashboard, "DAYS_INTERVAL", 0.0)
    system = FakeSystem()
    feed = dashboard.EquityFeed(system)
    running = SystemState.RUNNING
    assert feed.daily(FakeStatus(1, running, 1)) is None and system.store.asked == 0   # no day finished yet
    system.store.days[1] = [FakeDay(date(2024, 11, 4), 100_100.0)]
    assert feed.daily(FakeStatus(1, running, 2)) == [{"t": "2024-11-04", "equity": 100_100.0, "kind": "day"}]
    assert feed.daily(FakeStatus(1, running, 2)) is None and system.store.asked == 1   # nothing asked again
    # The row of the day just closed can land after the day count moved: asked again until it is there.
    assert feed.daily(FakeStatus(1, running, 3)) == [] and feed.daily(FakeStatus(1, running, 3)) == []
    system.store.days[1].append(FakeDay(date(2024, 11, 5), 99_900.0))
    assert feed.daily(FakeStatus(1, running, 3)) == [{"t": "2024-11-05", "equity": 99_900.0, "kind": "day"}]
    system.store.days[1].append(FakeDay(date(2024, 11, 6), 100_500.0))
    assert feed.daily(FakeStatus(1, SystemState.STOPPED, 3)) == [
        {"t": "2024-11-06", "equity": 100_500.0, "kind": "day"}]
    asked = system.store.asked
    assert feed.daily(FakeStatus(1, SystemState.STOPPED, 3)) is None and system.store.asked == asked
    # A new run starts its curve afresh.
    system.store.days[2] = [FakeDay(date(2024, 11, 4), 1.0)]
    assert feed.daily(FakeStatus(2, running, 2)) == [{"t": "2024-11-04", "equity": 1.0, "kind": "day"}]


def test_gh19_a_live_session_gets_one_equity_point_a_minute() -> None:
    from mismartera.api.dashboard import EquityFeed

    feed = EquityFeed(FakeSystem())

    @dataclass
    class Account:
        equity: float

    def live(clock: datetime, equity: float) -> FakeStatus:
        return FakeStatus(5, SystemState.RUNNING, 1, mode="live", clock=clock, account=Account(equity))

    at = datetime(2024, 11, 4, 15, 31, 5, tzinfo=UTC)
    assert feed.minutely(live(at, 100.0)) == [{"t": "2024-11-04T10:31", "equity": 100.0, "kind": "minute"}]
    assert feed.minutely(live(at + timedelta(seconds=30), 101.0)) == []
    assert feed.minutely(live(at + timedelta(seconds=60), 102.0)) == [
        {"t": "2024-11-04T10:32", "equity": 102.0, "kind": "minute"}]
    assert feed.minutely(FakeStatus(5, SystemState.RUNNING, 1, clock=at, account=Account(1.0))) == []   # backtest


def test_gh19_the_dashboard_url_carries_the_token_in_its_fragment_and_is_masked(tmp_path: Path) -> None:
    url = dashboard_url("http://127.0.0.1:8765", "a/b+c_-token")
    assert url == "http://127.0.0.1:8765/#token=a%2Fb%2Bc_-token"
    masked = Redactor()(f"dashboard: {url} (open it)")
    assert "a%2Fb" not in masked and masked == "dashboard: http://127.0.0.1:8765/#token=*** (open it)"
    record = logging.LogRecord("mismartera", logging.INFO, __file__, 1, "serving %s", (url,), None)
    RedactSecrets().filter(record)
    assert "a%2Fb" not in record.getMessage() and "#token=***" in record.getMessage()
    assert find_dashboard(tmp_path) is None                       # no host, no token file


def test_gh19_a_browser_is_used_only_where_one_can_be_shown() -> None:
    assert not has_browser({}, "linux")
    assert not has_browser({"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, "linux")
    assert has_browser({"DISPLAY": ":0"}, "linux") and has_browser({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert has_browser({"BROWSER": "firefox"}, "linux")
    assert has_browser({}, "darwin") and has_browser({}, "win32")


def cli(app: AppContext, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("ALPACA_", "MISMARTERA_")) and k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    full.update({"MISMARTERA_HOME": str(app.settings.home), "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "mismartera", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.e2e
def test_gh19_dashboard_and_status_from_another_process(app: AppContext, hosted: SessionHost,
                                                       tmp_path: Path) -> None:
    token = discovery.read_token(app.settings.state_dir)
    assert token is not None and hosted.api_url is not None
    url = dashboard_url(hosted.api_url, token)
    # No browser (no display, as over SSH): the URL is printed.
    shown = cli(app, "dashboard")
    assert shown.returncode == 0 and shown.stdout.strip() == f"dashboard: {url}", shown
    printed = cli(app, "dashboard", "--print", env={"BROWSER": "false"})
    assert printed.returncode == 0 and printed.stdout.strip() == f"dashboard: {url}", printed
    # A browser: it gets a private forwarding page, never the token on its command line.
    seen = tmp_path / "browser-argv.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$@" > {seen}\n')
    browser.chmod(0o755)
    opened = cli(app, "dashboard", env={"BROWSER": str(browser)})
    assert opened.returncode == 0 and opened.stdout.strip() == \
        f"opened the dashboard ({hosted.api_url}/) in your browser", opened
    assert token not in opened.stdout
    argv = seen.read_text().strip()
    forward = app.settings.state_dir / FORWARD_FILE
    assert argv == forward.as_uri() and token not in argv
    assert stat.S_IMODE(forward.stat().st_mode) == 0o600 and json.dumps(url) in forward.read_text()
    # system status shows the link; its --json (the API's answer) never holds the token.
    status = cli(app, "system", "status")
    assert status.returncode == 0 and f"dashboard: {url}" in status.stdout, status
    as_json = cli(app, "system", "status", "--json")
    assert as_json.returncode == 0 and token not in as_json.stdout
    assert json.loads(as_json.stdout)["api_url"] == hosted.api_url
    assert token not in app.settings.log_file.read_text() if app.settings.log_file.exists() else True


def test_gh19_dashboard_without_a_session_host_is_a_state_error(app: AppContext) -> None:
    result = cli(app, "dashboard")
    assert result.returncode == 3
    assert result.stderr.strip() == ("Error: no session host is running for this data home (start one with: "
                                     "mismartera serve CONFIG, or system start in a shell)")
