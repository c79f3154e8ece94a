"""`LiveCoordinator` over a few minutes of a session, against the fakes through alpaca-py: waits for
the open, bars reach the strategy in order (a dropped socket's minutes backfilled), its orders reach
the fake paper account, fills come back, positions and cash agree, the bars are stored; a rejected
key fails the session with the message; stop is quick and leaves no thread."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fake_alpaca.brokerage import FakeBrokerage, FakeTradingApi
from fake_alpaca.stream_server import FakeDataStream, FakeTradingStream
from fake_alpaca.waiting import wait_until

from mismartera.bars import Bar
from mismartera.config.session import TradingConfig
from mismartera.config.settings import AlpacaSettings
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.execution.alpaca_broker import AlpacaBroker
from mismartera.indicators import make_indicator
from mismartera.integrations.alpaca.stream import AlpacaBarStream
from mismartera.integrations.alpaca.trading import RetryPolicy
from mismartera.sources.live_feed import LiveBarFeed
from mismartera.strategies.base import Strategy
from mismartera.system.live import LiveClock, LiveCoordinator
from mismartera.system.prefetch import Prefetch
from mismartera.system.recorder import RunRecorder
from mismartera.system.session_data import SessionData
from mismartera.system.strategy_host import EngineContext, StrategySlot
from mismartera.system.upkeep import Upkeep
from mismartera.timekeeping.calendar import TimeManager

SYMBOLS = ["AAPL", "MSFT"]
FAST = {"connect_timeout": 3.0, "reconnect_backoff": (0.05, 0.2)}
SESSION = TimeManager().session(date(2024, 11, 29))   # an early close: 09:30-13:00 ET
assert SESSION is not None
OPEN = int(SESSION.open.timestamp())
CLOSE = int(SESSION.close.timestamp())


def price(symbol: str, minute: int) -> float:
    return (100.0 if symbol == "AAPL" else 400.0) + minute


class Toy(Strategy):
    """Buys 2 of a symbol on its minute 1 and sells them on its minute 4; records what it saw."""

    name = "toy"

    def on_start(self, ctx: Any) -> None:
        self.seen: list[tuple[str, int]] = []

    def on_bar(self, ctx: Any, bar: Bar) -> None:
        minute = (bar.ts - OPEN) // 60
        self.seen.append((bar.symbol, minute))
        if minute == 1:
            ctx.buy(bar.symbol, 2)
        elif minute == 4 and ctx.position(bar.symbol) > 0:
            ctx.sell(bar.symbol, ctx.position(bar.symbol))


@dataclass
class ScriptedClock:
    t: float = OPEN - 30

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    def epoch(self) -> float:
        return self.t


@dataclass
class Live:
    clock: ScriptedClock
    data_ws: FakeDataStream
    brokerage: FakeBrokerage
    store: BarStore
    coordinator: LiveCoordinator
    stream: AlpacaBarStream
    broker: AlpacaBroker
    strategy: Toy
    failures: list[str] = field(default_factory=list)

    def push(self, minute: int) -> None:
        for symbol in SYMBOLS:
            p = price(symbol, minute)
            self.brokerage.prices[symbol] = p
            self.data_ws.push_bar(symbol, OPEN + 60 * minute, p, p, p, p, 10.0)


def history_rest(symbol: str, first: int, last: int) -> list[Bar]:
    return [Bar(symbol, ts, price(symbol, (ts - OPEN) // 60), price(symbol, (ts - OPEN) // 60),
                price(symbol, (ts - OPEN) // 60), price(symbol, (ts - OPEN) // 60), 10.0)
            for ts in range(first, last + 1, 60) if OPEN <= ts < OPEN + 600]


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    clock = ScriptedClock()
    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    store = BarStore(db)
    with FakeDataStream() as data_ws, FakeTradingStream() as trade_ws:
        brokerage = FakeBrokerage(cash=10_000.0, stream=trade_ws)
        with FakeTradingApi(brokerage) as api:
            settings = AlpacaSettings(api_key="test-key", secret_key="test-secret", base_url=api.url,
                                      stream_url=data_ws.url, trading_stream_url=trade_ws.url)
            live_clock = LiveClock(clock.now)
            broker = AlpacaBroker(TradingConfig(), live_clock, settings, policy=RetryPolicy(timeout=1.0, attempts=2),
                                  poll_interval=30.0, stream_options=FAST).start()
            stream = AlpacaBarStream(settings, SYMBOLS, **FAST).start()
            failures: list[str] = []
            data = SessionData(SYMBOLS, ["1m", "5m"], keep_days=1, make_indicator=make_indicator)
            held: dict[str, float] = {}
            strategy = Toy(symbols=SYMBOLS)
            slot = StrategySlot(strategy, EngineContext("toy", SYMBOLS, data, broker, live_clock, held), SYMBOLS,
                                "disable")
            recorder = RunRecorder(db)
            recorder.open_run("live-test", "live", {}, clock.now(), 1)
            prefetch = Prefetch(store, SYMBOLS, [], 1)
            upkeep = Upkeep(store)

            def make_feed(start_ts: int) -> LiveBarFeed:
                return LiveBarFeed(stream, SYMBOLS, history_rest, clock.epoch, start_ts=start_ts, grace=5.0,
                                   is_trading_minute=lambda ts: OPEN <= ts < CLOSE)

            coordinator = LiveCoordinator(
                stream=stream, make_feed=make_feed, closers=(stream.stop, broker.stop),
                sessions=[SESSION], symbols=SYMBOLS, broker=broker, clock=live_clock, data=data, slots=[slot],
                held=held, prefetch=prefetch, upkeep=upkeep, recorder=recorder, derived=["5m"], speed=0.0,
                flatten=False, on_failure=lambda worker, exc: failures.append(str(exc)), store_every=0.2)
            parts = Live(clock, data_ws, brokerage, store, coordinator, stream, broker, strategy, failures)
            assert stream.wait_connected(5) and data_ws.wait_listening(1, 5) and trade_ws.wait_listening(1, 5)
            for worker in (prefetch, upkeep, coordinator):
                worker.start()
            yield parts
            for worker in (coordinator, upkeep, prefetch):
                worker.request_stop()
            for worker in (coordinator, upkeep, prefetch):
                worker.join(5)
            recorder.finish("stopped")   # ends the recorder's writer thread
    db.dispose()



def test_live_session_minutes_in_order_orders_fills_and_stored_bars(live: Live) -> None:
    coordinator = live.coordinator
    assert wait_until(lambda: coordinator.waiting == "waiting for open 09:30 ET")
    for minute in range(3):
        live.clock.t = OPEN + 60 * (minute + 1) + 1
        live.push(minute)
        assert wait_until(lambda m=minute: len(live.strategy.seen) == 2 * (m + 1)), live.strategy.seen
    live.data_ws.drop()                               # minutes 3 and 4 are lost with the socket
    assert live.stream.reconnected.wait(5) or live.stream.reconnects == 1
    assert live.data_ws.wait_listening(1, 5)
    live.clock.t = OPEN + 60 * 6 + 1
    live.push(5)
    assert wait_until(lambda: len(live.strategy.seen) == 12), live.strategy.seen
    assert wait_until(lambda: live.store.count("MSFT", "1m") == 6)   # stored while the session runs
    assert live.strategy.seen == [(s, m) for m in range(6) for s in SYMBOLS]
    assert wait_until(lambda: live.broker.open_orders() == [] and len(live.broker.fills()) == 4)
    assert wait_until(lambda: coordinator.held == {})
    assert live.broker.cash == pytest.approx(live.brokerage.cash) == 10_012.0
    assert live.brokerage.positions == {} and live.broker.positions() == []
    # minutes 3-4 from REST, and minute 5 of a symbol whose stream bar was not in yet at the reconnect
    assert re.match(r"stream streaming, 1 reconnect\(s\), [4-6] backfilled, [2-3] minute\(s\) late, \d+ stored$",
                    coordinator.stream_text())
    # the close: the rest of the day is caught up from REST (it has minutes 6-9), then the end of
    # day stores the session's 1m and 5m bars
    live.clock.t = CLOSE + 10
    assert wait_until(lambda: not coordinator.is_alive(), 10)
    assert coordinator.finished and live.failures == []
    assert len(live.strategy.seen) == 20
    assert wait_until(lambda: live.store.count("AAPL", "1m") == 10), live.store.count("AAPL", "1m")
    assert live.store.count("MSFT", "5m") == 2
    assert not live.stream.running


def test_rejected_stream_key_fails_the_session_with_the_message(live: Live) -> None:
    live.stream._fail("Alpaca rejected the API key")   # what the stream does when the server refuses the key
    assert wait_until(lambda: live.failures == ["Alpaca rejected the API key"])
    assert wait_until(lambda: not live.coordinator.is_alive())


def test_stop_during_a_live_session_is_quick_and_leaves_no_thread(live: Live) -> None:
    live.clock.t = OPEN + 61
    live.push(0)
    assert wait_until(lambda: len(live.strategy.seen) == 2)
    started = time.monotonic()
    live.coordinator.request_stop()
    live.coordinator.join(2.0)
    assert not live.coordinator.is_alive()
    assert time.monotonic() - started < 2.0
    names = {t.name for t in threading.enumerate()}
    assert not names & {"alpaca-bar-stream", "alpaca-trade-updates", "alpaca-broker-poll", "mismartera-coordinator"}


def test_stream_and_broker_stop_side_by_side(live: Live) -> None:
    """Each may take its whole 2 s stop timeout on a hung socket; together they still take about 2 s."""
    def slow(stop: Any) -> Any:
        return lambda: (time.sleep(1.2), stop())

    live.coordinator._closers = (slow(live.stream.stop), slow(live.broker.stop))
    assert wait_until(lambda: live.coordinator.waiting != "")
    started = time.monotonic()
    live.coordinator.request_stop()
    live.coordinator.join(3.0)
    took = time.monotonic() - started
    assert not live.coordinator.is_alive() and took < 2.0, took
    assert not live.stream.running
    assert not {t.name for t in threading.enumerate()} & {"alpaca-bar-stream", "alpaca-trade-updates"}
