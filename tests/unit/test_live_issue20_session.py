"""Issue 20 through `SystemManager` and the fakes, on a scripted wall clock: a day stopped part-way
stores its derived bars up to the last complete window; after a stop every worker shows stopped
with its final counts; a live session with Alpaca's paper account sends its orders through the
order gateway (a worker of its own) and a stop with an order in flight still gives the run its
report."""

from __future__ import annotations

import io
import logging
import re
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

from mismartera.cli.render import render
from mismartera.commands.context import AppContext
from mismartera.commands.system import report_result
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.quality import quality_report
from mismartera.system.live import CLOSE_TIMEOUT
from mismartera.system.manager import SystemManager
from mismartera.system.state import SystemState
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


def config(trade_api: str = "simulated", quantity: int = 0, retry: float = 1.0, **api: Any) -> Any:
    return parse_session_config({
        "session_name": "live_test", "mode": "live",
        "session_data_config": {"symbols": SYMBOLS, "streams": ["1m", "5m"],
                                "gap_filler": {"retry_interval_seconds": retry, "gap_wait_seconds": 5}},
        "strategies": [{"path": str(STRATEGY_FILE), "params": {"quantity": quantity}}],
        "trading_config": {"initial_cash": 10_000},
        "api_config": {"data_api": "alpaca", "trade_api": trade_api, **api},
    }, "live_test.json")


@dataclass
class Session:
    fakes: LiveFakes
    clock: ScriptedClock
    manager: SystemManager

    def seen(self) -> list[tuple[str, int]]:
        coordinator = self.manager.coordinator
        assert coordinator is not None
        return [(s, (ts - OPEN) // 60) for s, ts in list(getattr(coordinator.slots[0].strategy, "seen", []))]

    def push(self, minute: int, symbols: list[str] = SYMBOLS) -> None:
        self.clock.t = max(self.clock.t, OPEN + 60 * (minute + 1) + 1)
        for symbol in symbols:
            p = 100.0 + minute
            self.fakes.brokerage.prices[symbol] = p
            self.fakes.data_ws.push_bar(symbol, OPEN + 60 * minute, p, p + 1, p - 1, p + 0.5, 100.0)


@pytest.fixture
def session(live_fakes: LiveFakes, tmp_path: Path) -> Iterator[Session]:
    clock = ScriptedClock()
    manager = SystemManager(AppContext(load_settings(live_fakes.env(tmp_path))), live_now=clock.now)
    yield Session(live_fakes, clock, manager)
    if manager.state.active:
        manager.stop(5)


def test_a_day_stopped_part_way_stores_its_derived_bars_up_to_the_last_complete_window(session: Session) -> None:
    """Issue 20, point 7: minutes 0-3 come, minute 4 never does (nor from REST): once released
    missing, the 09:30 window is over and stored; the 09:35 window (minutes 5-6) is still running."""
    session.manager.start(config())
    assert session.fakes.data_ws.wait_listening(1, 5)
    for minute in (0, 1, 2, 3, 5, 6):                 # minute 4 never comes
        session.push(minute)
        assert wait_until(lambda m=minute: session.seen()[-2:] == [("AAPL", m), ("MSFT", m)], 10), session.seen()
    assert session.manager.stop().state is SystemState.STOPPED
    store = session.manager.app.bars
    assert [row[0] for row in store.read("AAPL", "5m", OPEN, OPEN + 3600)] == [OPEN]
    assert store.read("MSFT", "5m", OPEN, OPEN + 3600)[0][1:5] == (100.0, 104.0, 99.0, 103.5)
    assert store.count("AAPL", "1m") == 6


def test_stop_with_an_order_in_flight_reports_it_unknown_and_the_next_start_reconciles(
        session: Session, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 20, point 3, as `system stop` does it: both orders' POSTs are carried out but their
    answers held 20 s (no trade update, look-ups hang too). The stop ends after the 1 s grace (not
    the 10 s HTTP timeout), nothing is sent after it, both orders are `unknown` in the report; the
    next start settles them with Alpaca (filled) and holds the 5 AAPL and 5 MSFT Alpaca bought."""
    fakes = session.fakes
    fakes.brokerage.stream = None                     # trade updates silent: only a look-up could tell
    fakes.rest.hang_route("POST", "/v2/orders", 20.0, times=2)
    fakes.rest.hang_route("GET", "/v2/orders", 20.0, times=50)
    status = session.manager.start(config("alpaca_paper", quantity=5, stop_order_grace_seconds=1))
    assert "orders" in [w.name for w in session.manager.status().workers]
    assert fakes.data_ws.wait_listening(1, 5)
    session.push(0)
    assert wait_until(lambda: len(session.seen()) == 2)
    assert wait_until(lambda: [r.method for r in fakes.rest.requests if r.path == "/v2/orders"].count("POST") == 2)
    started = time.monotonic()
    stopped = session.manager.stop()
    took = time.monotonic() - started
    assert stopped.state is SystemState.STOPPED and stopped.message == "stopped", stopped.message
    assert took < 1.0 + CLOSE_TIMEOUT + 1.0, took
    assert {w.name: w.state for w in stopped.workers} == {
        "prefetch": "stopped", "upkeep": "stopped", "refetch": "stopped", "orders": "stopped", "coordinator": "stopped"}
    time.sleep(0.3)
    assert [r.method for r in fakes.rest.requests if r.path == "/v2/orders"].count("POST") == 2
    info, _days = session.manager.report(status.run_id)
    assert info.summary is not None
    assert [(o["symbol"], o["quantity"]) for o in info.summary["orders_unknown"]] == [("AAPL", 5.0), ("MSFT", 5.0)]
    console = Console(width=200, record=True, file=io.StringIO())
    render(console, report_result(info, _days))
    assert re.search(r"Order 1 unknown +buy 5 AAPL \(mm-\w+-1\): the broker never answered", console.export_text())
    assert sorted((o.symbol, o.status) for o in session.manager.orders(run_id=status.run_id)[1]) == [
        ("AAPL", "unknown"), ("MSFT", "unknown")]
    assert {s: p["qty"] for s, p in fakes.brokerage.positions.items()} == {"AAPL": 5.0, "MSFT": 5.0}   # bought

    fakes.rest.stop_faults()
    with caplog.at_level(logging.INFO, logger="mismartera.system"):
        session.manager.start(config("alpaca_paper"))
    assert "2 open order(s) of earlier runs reconciled" in caplog.text
    assert wait_until(lambda: session.manager.status().account is not None)
    assert [(p.symbol, p.quantity) for p in session.manager.status().account.positions] == [
        ("AAPL", 5.0), ("MSFT", 5.0)]
    assert sorted((o.symbol, o.status, o.filled_quantity) for o in session.manager.orders(run_id=status.run_id)[1]) == [
        ("AAPL", "filled", 5.0), ("MSFT", "filled", 5.0)]
    assert sorted((f.symbol, f.quantity) for f in session.manager.fills(run_id=status.run_id)[1]) == [
        ("AAPL", 5.0), ("MSFT", 5.0)]


def rest_rows(minutes: range) -> list[tuple]:
    return [(OPEN + 60 * m, 100.0 + m, 101.0 + m, 99.0 + m, 100.5 + m, 100.0, 1, 100.0 + m) for m in minutes]


def test_minutes_released_missing_during_a_rest_outage_are_fetched_once_rest_recovers(session: Session) -> None:
    """Issue 20, point 4: the stream brings nothing for minutes 2-3 and REST is down for 2 minutes
    (09:34-09:36 ET on the scripted clock). After gap_wait_seconds (5 s here) the minutes reach the
    strategy missing; the session goes on with minute 4; once REST is back the re-fetcher stores
    them, so the day is whole. A minute the muted stream left to REST (5) is listed late."""
    fakes, clock = session.fakes, session.clock
    outage_end = OPEN + 4 * 60 + 120
    for symbol in SYMBOLS:
        fakes.rest.add_bars(symbol, rest_rows(range(2, 6)))
    # no reconnect for silence here (tested below); the re-fetcher retries from 0.2 s, doubling
    session.manager.start(config(retry=0.2, data_timeout_seconds=600))
    assert fakes.data_ws.wait_listening(1, 5)
    for minute in (0, 1):
        session.push(minute)
        assert wait_until(lambda m=minute: session.seen()[-2:] == [("AAPL", m), ("MSFT", m)], 10), session.seen()
    fakes.rest.outage(lambda: clock.t < outage_end, "/v2/stocks")
    coordinator = session.manager.coordinator
    assert coordinator is not None
    clock.t = OPEN + 4 * 60 + 6                      # minutes 2-3 are over; the backfill fails
    assert wait_until(lambda: coordinator.feed.backfill_error is not None, 10)
    clock.t = OPEN + 4 * 60 + 30                     # past gap_wait for both: released missing
    session.push(4)
    assert wait_until(lambda: session.seen()[-2:] == [("AAPL", 4), ("MSFT", 4)], 10), session.seen()
    assert [m for _, m in session.seen()] == [0, 0, 1, 1, 4, 4]
    assert sorted(coordinator.feed.missing) == [(s, OPEN + 60 * m) for s in SYMBOLS for m in (2, 3)]
    assert "4 released missing (0 re-fetched since)" in coordinator.stream_text()
    time.sleep(1.5)                                   # the re-fetcher tries, and REST still fails
    assert session.manager.app.bars.read("AAPL", "1m", OPEN + 120, OPEN + 180) == []
    clock.t = outage_end + 1                          # REST is back
    store = session.manager.app.bars
    assert wait_until(lambda: store.count("AAPL", "1m") + store.count("MSFT", "1m") >= 10 - 2, 15), \
        coordinator.refetcher.pending()
    assert wait_until(lambda: "4 released missing (4 re-fetched since)" in coordinator.stream_text(), 5)
    assert session.manager.status().extra["minutes_missing"][0] == \
        "AAPL 2024-11-29 09:32 ET: re-fetched and stored later"                # `system status --json` lists them
    # a muted minute (5) the stream never brings: REST covers it, late
    clock.t = OPEN + 6 * 60 + 8
    assert wait_until(lambda: session.seen()[-2:] == [("AAPL", 5), ("MSFT", 5)], 10), session.seen()
    status = session.manager.stop()
    assert status.state is SystemState.STOPPED
    for symbol in SYMBOLS:                            # the day whole in the database: minutes 0-5
        assert [row[0] for row in store.read(symbol, "1m", OPEN, OPEN + 3600)] == [OPEN + 60 * m for m in range(6)]
        # what `data quality` reports: the only gap is the rest of the day, after the stop
        [day] = quality_report(store, TimeManager(), symbol, SESSION.day, SESSION.day).days
        assert (day.present, [gap.start_ts for gap in day.gaps]) == (6, [OPEN + 360])
    info, _days = session.manager.report(status.run_id)
    summary = info.summary
    assert summary is not None
    assert summary["minutes_missing"] == [f"{s} 2024-11-29 09:3{m} ET: re-fetched and stored later"
                                          for s, m in (("AAPL", 2), ("MSFT", 2), ("AAPL", 3), ("MSFT", 3))]
    assert summary["minutes_late"] == ["09:35 ET, up to 8 s late"]


def test_a_silent_stream_shows_as_silent_and_is_reconnected_after_data_timeout(session: Session) -> None:
    """Issue 20, point 5: data_timeout_seconds 10 (of the scripted clock). The stream brings minute
    0, then nothing: 10 s later it shows as silent, covered by REST, and is reconnected at once (not
    after alpaca-py's 180 s); a bar after the reconnect makes it streaming again. After the stop
    every worker shows stopped, the coordinator with the stream stopped and the final count."""
    fakes = session.fakes
    session.manager.start(config(data_timeout_seconds=10))
    assert fakes.data_ws.wait_listening(1, 5)
    session.push(0)
    assert wait_until(lambda: len(session.seen()) == 2)
    coordinator = session.manager.coordinator
    assert coordinator is not None
    assert coordinator.stream_text().startswith("stream streaming, 0 reconnect(s)")
    session.clock.t += 9
    time.sleep(0.3)
    assert not coordinator.silent and fakes.data_ws.connections == 1
    session.clock.t += 2                               # 11 s without a stream bar
    assert wait_until(lambda: coordinator.stream.reconnects == 1, 10), coordinator.stream_text()
    assert coordinator.silent
    assert coordinator.stream_text().startswith("stream silent, covered by REST, 1 reconnect(s)")
    assert fakes.data_ws.wait_listening(1, 5) and fakes.data_ws.connections == 2
    session.push(1)
    assert wait_until(lambda: len(session.seen()) == 4, 10), session.seen()
    assert wait_until(lambda: coordinator.stream_text().startswith("stream streaming, 1 reconnect(s)"), 5)
    stopped = session.manager.stop()
    assert {w.name: w.state for w in stopped.workers} == {
        "prefetch": "stopped", "upkeep": "stopped", "refetch": "stopped", "coordinator": "stopped"}
    panel = next(w for w in stopped.workers if w.name == "coordinator")
    assert panel.detail.startswith("day 1 of 1, stream stopped, 1 reconnect(s)"), panel.detail
    assert panel.detail.endswith(f"{session.manager.app.bars.count('AAPL', '1m') * 2} stored"), panel.detail
