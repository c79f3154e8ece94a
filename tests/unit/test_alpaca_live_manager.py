"""Live sessions through `SystemManager` on a scripted wall clock inside a real session's minutes
(2024-11-29), against the fakes: pause keeps collecting bars and resume catches the strategy up in
order; the simulated broker fills a strategy's market order at the next bar's open (as in a
backtest), a manual one at the first bar after it was placed; the configured feed reaches the
stream and REST; a live run stopped mid-day has a report."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fake_alpaca.live import STRATEGY_FILE, LiveFakes
from fake_alpaca.waiting import wait_until
from rich.console import Console

from mismartera.cli.dashboard import dashboard
from mismartera.cli.toolbar import summary_line
from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.errors import ConfigError, WaitTimeout
from mismartera.system.manager import SystemManager
from mismartera.system.state import SystemState
from mismartera.system.status import SystemStatus
from mismartera.timekeeping.calendar import TimeManager

pytest_plugins = ["fake_alpaca.fixtures"]

SYMBOLS = ["AAPL", "MSFT"]
SESSION = TimeManager().session(date(2024, 11, 29))   # 09:30-13:00 ET
assert SESSION is not None
OPEN = int(SESSION.open.timestamp())


@dataclass
class ScriptedClock:
    t: float = OPEN + 61

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


def config(trade_api: str = "simulated", feed: str = "iex", quantity: int = 0, trailing_days: int = 0) -> Any:
    return parse_session_config({
        "session_name": "live_test", "mode": "live",
        "session_data_config": {"symbols": SYMBOLS, "historical": {"trailing_days": trailing_days}},
        "strategies": [{"path": str(STRATEGY_FILE), "params": {"quantity": quantity}}],
        "trading_config": {"initial_cash": 10_000},
        "api_config": {"data_api": "alpaca", "data_feed": feed, "trade_api": trade_api},
    }, "live_test.json")


def price(minute: int) -> float:
    return 100.0 + minute


@dataclass
class Session:
    fakes: LiveFakes
    clock: ScriptedClock
    manager: SystemManager

    @property
    def strategy(self) -> Any:
        coordinator = self.manager.coordinator
        assert coordinator is not None
        return coordinator.slots[0].strategy

    def seen(self) -> list[tuple[str, int]]:
        """(symbol, minute of the session) of every bar the strategy was given."""
        return [(symbol, (ts - OPEN) // 60) for symbol, ts in list(getattr(self.strategy, "seen", []))]

    def push(self, minute: int) -> None:
        """Minute `minute`'s bars (open = 100 + minute, close = open + 0.5) on the stream, one second
        after the minute's end (within the feed's grace: a bar still on its way is waited for)."""
        self.clock.t = max(self.clock.t, OPEN + 60 * (minute + 1) + 1)
        for symbol in SYMBOLS:
            self.fakes.data_ws.push_bar(symbol, OPEN + 60 * minute, price(minute), price(minute) + 1,
                                        price(minute) - 1, price(minute) + 0.5, 100.0)


@pytest.fixture
def session(live_fakes: LiveFakes, tmp_path: Path) -> Iterator[Session]:
    clock = ScriptedClock()
    manager = SystemManager(AppContext(load_settings(live_fakes.env(tmp_path))), live_now=clock.now)
    yield Session(live_fakes, clock, manager)
    if manager.state.active:
        manager.stop(5)



def test_pause_collects_bars_and_resume_catches_up_in_order(session: Session) -> None:
    history = TimeManager().session(date(2024, 11, 27))
    assert history is not None
    start = int(history.open.timestamp())
    for symbol in SYMBOLS:
        session.fakes.rest.add_bars(symbol, [(start + 60 * m, 99.0, 99.0, 99.0, 99.0, 10.0, 1, 99.0)
                                             for m in range(30)])
    status = session.manager.start(config(feed="sip", trailing_days=1))
    assert (status.state, status.message) == (SystemState.RUNNING, "live")
    assert session.fakes.data_ws.wait_listening(1, 5)
    # the configured feed: the stream's path and the history request
    assert session.fakes.data_ws.paths == ["/v2/sip"]
    assert {r.query.get("feed") for r in session.fakes.rest.requests if r.path.endswith("/bars")} == {"sip"}
    assert session.manager.app.bars.count("AAPL", "1m") == 30
    session.push(0)
    assert wait_until(lambda: session.seen() == [("AAPL", 0), ("MSFT", 0)]), session.seen()

    paused = session.manager.pause()
    assert paused.state is SystemState.PAUSED
    coordinator = session.manager.coordinator
    assert coordinator is not None and coordinator.status().state == "paused"
    session.push(1)
    session.push(2)
    assert wait_until(lambda: coordinator.stream.bars_received == 6)
    time.sleep(0.3)                                   # time enough for a wrongly fed bar to show
    assert session.seen() == [("AAPL", 0), ("MSFT", 0)]
    assert coordinator.stream.bars.qsize() == 4       # collected while paused

    resumed = session.manager.resume()
    assert (resumed.state, resumed.message) == (SystemState.RUNNING, "live")
    expected = [(s, m) for m in range(3) for s in SYMBOLS]
    assert wait_until(lambda: session.seen() == expected), session.seen()
    session.push(3)
    assert wait_until(lambda: session.seen() == [*expected, ("AAPL", 3), ("MSFT", 3)]), session.seen()
    # MSFT's minute 4 never comes: after the grace the feed asks REST for it (on the configured feed)
    session.fakes.data_ws.push_bar("AAPL", OPEN + 240, 104.0, 104.0, 104.0, 104.0, 10.0)
    session.clock.t = OPEN + 300 + 6
    assert wait_until(lambda: session.seen()[-1] == ("AAPL", 4)), session.seen()
    backfills = [r for r in session.fakes.rest.requests if r.path.endswith("/bars")
                 and r.query.get("start", "").startswith("2024-11-29")]
    assert [(r.path, r.query["feed"]) for r in backfills] == [("/v2/stocks/bars", "sip")]
    status = session.manager.status()
    assert status.bars_done == 9
    # the shell's views of it: the toolbar line and the watch panels
    parts = summary_line(status).split(" │ ")
    assert parts[:4] == ["running", "live live_test", "2024-11-29 09:35:06 ET", "day 1/1"]
    assert parts[-2:] == ["equity 10,000.00 (+0.00)", "live"]
    console = Console(width=180, record=True, file=io.StringIO())   # five worker panels side by side
    console.print(dashboard(status))
    panels = console.export_text()
    assert "day 1/1 (2024-11-29)" in panels and "9 bars" in panels
    assert "day 1 of 1, stream streaming," in panels, panels


def test_simulated_broker_fills_at_the_next_bars_open_like_a_backtest(session: Session) -> None:
    session.manager.start(config(quantity=2))
    assert session.fakes.data_ws.wait_listening(1, 5)
    session.push(0)                                   # the strategy buys 2 of each on minute 0
    assert wait_until(lambda: len(session.seen()) == 2)
    session.push(1)
    assert wait_until(lambda: len(session.seen()) == 4)
    assert wait_until(lambda: len(session.manager.fills()[1]) == 2)
    fills = session.manager.fills()[1]
    assert [(f.symbol, f.price, f.filled_at) for f in fills] == [
        ("AAPL", price(1), datetime.fromtimestamp(OPEN + 60, UTC)),
        ("MSFT", price(1), datetime.fromtimestamp(OPEN + 60, UTC))]
    orders = session.manager.orders()[1]
    assert {o.created_at for o in orders} == {datetime.fromtimestamp(OPEN + 60, UTC)}   # minute 0's end

    # A manual order placed between bars, on the wall clock (minute 2 forming), fills at the first
    # open after it: minute 3's, never minute 2's, which began before it was placed.
    session.clock.t = OPEN + 150
    manual = session.manager.submit_order("AAPL", "buy", 1)
    assert manual.status == "new"
    session.push(2)
    assert wait_until(lambda: len(session.seen()) == 6)
    assert [o.status for o in session.manager.orders()[1] if o.id == manual.id] == ["new"]
    session.push(3)
    assert wait_until(lambda: len(session.manager.fills()[1]) == 3)
    assert session.manager.fills()[1][-1].price == price(3)


def start_and_fill_both(session: Session) -> SystemStatus:
    """Start a live session buying 2 of each symbol; minute 0 places the orders, minute 1 fills them."""
    status = session.manager.start(config(quantity=2))
    assert session.fakes.data_ws.wait_listening(1, 5)
    session.push(0)
    assert wait_until(lambda: len(session.seen()) == 2)
    session.push(1)
    assert wait_until(lambda: len(session.manager.fills()[1]) == 2)
    return status


def test_a_live_run_stopped_mid_day_has_a_report(session: Session) -> None:
    status = start_and_fill_both(session)
    made: list[tuple[str, int, str]] = []

    class Progress:
        def update(self, **fields: Any) -> None:
            pass

        def close(self) -> None:
            pass

    def progress(description: str, total: int, unit: str) -> Progress:
        made.append((description, total, unit))
        return Progress()

    with pytest.raises(WaitTimeout, match=r"^session still running after 0.2s \(run 1, day 1 of 1\)$"):
        session.manager.wait(0.2, progress_factory=progress)
    assert made[0] == ("live", 1, "days")             # what `system wait` shows: live, not replaying
    stopped = session.manager.stop()
    assert stopped.state is SystemState.STOPPED
    info, days = session.manager.report(status.run_id)
    assert info.state == "stopped"
    assert [d.day for d in days] == [date(2024, 11, 29)]
    summary = info.summary
    assert summary is not None and summary["bars_total"] == 4
    # 2 of each bought at 101, marked at minute 1's close 101.5: +1 on each symbol
    assert summary["final_equity"] == pytest.approx(10_002.0) == days[0].equity
    assert session.manager.app.bars.count("MSFT", "1m") == 2   # the day's bars so far are stored


def test_data_feed_must_be_iex_or_sip() -> None:
    with pytest.raises(ConfigError) as caught:
        config(feed="nasdaq")
    assert caught.value.problems == ["api_config.data_feed: 'nasdaq' is not allowed (expected 'iex' or 'sip')"]


def test_the_close_ends_the_session_finished_with_its_day(session: Session) -> None:
    status = start_and_fill_both(session)
    session.clock.t = SESSION.close.timestamp() + 10   # the rest of the day has no bars, even from REST
    assert wait_until(lambda: session.manager.state is SystemState.STOPPED, 10), session.manager.status()
    assert session.manager.status().message == "finished"
    info, days = session.manager.report(status.run_id)
    assert (info.state, info.summary["finished"], info.summary["bars_total"]) == ("finished", True, 4)
    assert [(d.day, d.equity) for d in days] == [(date(2024, 11, 29), pytest.approx(10_002.0))]
