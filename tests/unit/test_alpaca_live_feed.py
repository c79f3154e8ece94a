"""`LiveBarFeed`: every minute of every symbol exactly once, in order, gaps backfilled — with a
scripted source, and once end to end through alpaca-py's stream with a dropped socket."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import pytest
from fake_alpaca.stream_server import FakeDataStream

from mismartera.bars import Bar
from mismartera.config.settings import AlpacaSettings
from mismartera.errors import ExternalServiceError, UsageError
from mismartera.integrations.alpaca.stream import AlpacaBarStream
from mismartera.sources.live_feed import LiveBarFeed

T0 = 1_732_890_600  # 2024-11-29 09:30 ET
SYMBOLS = ["AAPL", "MSFT"]


def bar(symbol: str, minute: int, price: float = 100.0) -> Bar:
    return Bar(symbol, T0 + 60 * minute, price, price + 1, price - 1, price, 1000.0)


@dataclass
class Clock:
    t: float = T0

    def __call__(self) -> float:
        return self.t

    def at_minute_end(self, minute: int, extra: float = 1.0) -> None:
        self.t = T0 + 60 * (minute + 1) + extra


@dataclass
class Source:
    bars: queue.Queue = field(default_factory=queue.Queue)
    reconnected: threading.Event = field(default_factory=threading.Event)

    def push(self, *bars: Bar) -> None:
        for b in bars:
            self.bars.put(b)


@dataclass
class Rest:
    """The 'REST API': history by symbol, with a record of the requests."""

    history: dict[str, dict[int, Bar]] = field(default_factory=dict)
    calls: list[tuple[str, int, int]] = field(default_factory=list)
    failing: bool = False

    def add(self, *bars: Bar) -> None:
        for b in bars:
            self.history.setdefault(b.symbol, {})[b.ts] = b

    def __call__(self, symbol: str, first: int, last: int) -> list[Bar]:
        self.calls.append((symbol, (first - T0) // 60, (last - T0) // 60))
        if self.failing:
            raise ExternalServiceError("cannot reach Alpaca at http://x (GET /v2/stocks/bars): connection refused")
        return [b for ts, b in sorted(self.history.get(symbol, {}).items()) if first <= ts <= last]


def keys(bars: list[Bar]) -> list[tuple[str, int]]:
    return [(b.symbol, (b.ts - T0) // 60) for b in bars]


def make(source: Source, rest: Rest, clock: Clock, **kwargs) -> LiveBarFeed:
    return LiveBarFeed(source, SYMBOLS, rest, clock, start_ts=T0, grace=5.0, **kwargs)


def test_complete_minutes_are_released_in_order_without_backfill() -> None:
    source, rest, clock = Source(), Rest(), Clock()
    feed = make(source, rest, clock)
    clock.at_minute_end(1)
    source.push(bar("MSFT", 0), bar("AAPL", 0), bar("AAPL", 1), bar("MSFT", 1))
    assert keys(feed.next_minute(0.1)) == [("AAPL", 0), ("MSFT", 0)]
    assert keys(feed.next_minute(0.1)) == [("AAPL", 1), ("MSFT", 1)]
    assert feed.next_minute(0.05) == []
    assert rest.calls == [] and feed.delivered == 4


def test_a_later_bar_proves_a_minute_missing_and_it_is_backfilled_at_once() -> None:
    source, rest, clock = Source(), Rest(), Clock()
    rest.add(bar("MSFT", 0, 400))
    feed = make(source, rest, clock)
    clock.at_minute_end(1, extra=0.5)   # well inside the grace period of minute 0
    source.push(bar("AAPL", 0), bar("AAPL", 1), bar("MSFT", 1))
    assert keys(feed.next_minute(0.1)) == [("AAPL", 0), ("MSFT", 0)]
    assert rest.calls == [("MSFT", 0, 0)]
    assert keys(feed.next_minute(0.1)) == [("AAPL", 1), ("MSFT", 1)]
    assert feed.backfilled == 1


def test_a_silent_symbol_waits_for_the_grace_period_then_is_backfilled() -> None:
    source, rest, clock = Source(), Rest(), Clock()
    rest.add(bar("MSFT", 0, 400))
    feed = make(source, rest, clock)
    clock.at_minute_end(0, extra=1.0)
    source.push(bar("AAPL", 0))
    assert feed.next_minute(0.05) == []
    assert rest.calls == []
    clock.at_minute_end(0, extra=5.0)
    assert keys(feed.next_minute(0.1)) == [("AAPL", 0), ("MSFT", 0)]


def test_a_minute_without_trades_is_released_without_that_symbol_and_asked_once() -> None:
    source, rest, clock = Source(), Rest(), Clock()
    feed = make(source, rest, clock)
    clock.at_minute_end(1, extra=6)
    source.push(bar("AAPL", 0), bar("AAPL", 1), bar("MSFT", 1))
    assert keys(feed.next_minute(0.1)) == [("AAPL", 0)]
    assert keys(feed.next_minute(0.1)) == [("AAPL", 1), ("MSFT", 1)]
    assert rest.calls == [("MSFT", 0, 0)]


def test_a_reconnect_backfills_the_missed_minutes_and_duplicates_are_dropped() -> None:
    source, rest, clock = Source(), Rest(), Clock()
    rest.add(*(bar(s, m) for s in SYMBOLS for m in range(5)))
    feed = make(source, rest, clock)
    clock.at_minute_end(0)
    source.push(bar("AAPL", 0), bar("MSFT", 0))
    assert keys(feed.next_minute(0.1)) == [("AAPL", 0), ("MSFT", 0)]
    clock.at_minute_end(3, extra=0.5)   # minutes 1-3 were sent while the socket was down
    source.reconnected.set()
    source.push(bar("AAPL", 3))         # the stream re-sends one of them after reconnecting
    got = [feed.next_minute(0.1) for _ in range(3)]
    assert [keys(m) for m in got] == [[("AAPL", m), ("MSFT", m)] for m in (1, 2, 3)]
    # AAPL's minute 3 came from the stream, so only its minutes 1-2 are asked of REST
    assert sorted(rest.calls) == [("AAPL", 1, 2), ("MSFT", 1, 3)]
    assert not source.reconnected.is_set()
    assert (feed.backfilled, feed.duplicates, feed.delivered) == (5, 0, 8)
    source.push(bar("MSFT", 3))         # a late copy of a backfilled minute is dropped
    assert feed.next_minute(0.05) == [] and feed.duplicates == 1


def test_a_failing_backfill_holds_the_minute_then_gives_up() -> None:
    source, rest, clock = Source(), Rest(failing=True), Clock()
    feed = make(source, rest, clock, give_up_after=30.0, retry_interval=10.0)
    clock.at_minute_end(0, extra=6)
    source.push(bar("AAPL", 0))
    assert feed.next_minute(0.1) == []
    assert feed.next_minute(0.1) == []
    assert len(rest.calls) == 1                     # retried only after retry_interval
    assert "connection refused" in (feed.backfill_error or "")
    clock.at_minute_end(0, extra=6 + 31)
    assert keys(feed.next_minute(0.1)) == [("AAPL", 0)]
    assert feed.unfilled == 1 and len(rest.calls) == 2


def test_no_backfill_outside_trading_minutes() -> None:
    source, rest, clock = Source(), Rest(), Clock()
    feed = make(source, rest, clock, is_trading_minute=lambda ts: False)
    clock.at_minute_end(10, extra=30)
    source.push(bar("AAPL", 4))
    assert keys(feed.next_minute(0.1)) == [("AAPL", 4)]
    assert feed.next_minute(0.05) == [] and rest.calls == []
    assert feed.next_ts == T0 + 60 * 11


def test_starting_late_catches_up_from_rest() -> None:
    source, rest, clock = Source(), Rest(), Clock()
    rest.add(*(bar(s, m) for s in SYMBOLS for m in range(3)))
    feed = make(source, rest, clock)
    clock.at_minute_end(2, extra=20)
    assert [keys(feed.next_minute(0.1)) for _ in range(3)] == [[("AAPL", m), ("MSFT", m)] for m in range(3)]
    assert sorted(rest.calls) == [("AAPL", 0, 2), ("MSFT", 0, 2)]


def test_bad_arguments() -> None:
    with pytest.raises(UsageError, match="at least one symbol"):
        LiveBarFeed(Source(), [], Rest(), Clock(), start_ts=T0)
    with pytest.raises(UsageError, match="minute boundary"):
        LiveBarFeed(Source(), SYMBOLS, Rest(), Clock(), start_ts=T0 + 1)


def test_dropped_socket_end_to_end_every_minute_once_in_order() -> None:
    """alpaca-py's stream against the fake server: the socket drops mid-session, two minutes are
    sent while it is down, the feed backfills them after the reconnect."""
    rest, clock = Rest(), Clock()
    rest.add(*(bar(s, m, 100 + m) for s in SYMBOLS for m in range(5)))
    with FakeDataStream() as server:
        settings = AlpacaSettings(api_key="test-key", secret_key="test-secret", stream_url=server.url)
        with AlpacaBarStream(settings, SYMBOLS, connect_timeout=3.0, reconnect_backoff=(0.05, 0.2)) as stream:
            assert stream.wait_connected(5) and server.wait_listening(1, 5)
            feed = LiveBarFeed(stream, SYMBOLS, rest, clock, start_ts=T0, grace=5.0)
            seen: list[Bar] = []

            def push(minute: int) -> None:
                for symbol in SYMBOLS:
                    b = bar(symbol, minute, 100 + minute)
                    server.push_bar(symbol, b.ts, b.open, b.high, b.low, b.close, b.volume)

            for minute in (0, 1):
                clock.at_minute_end(minute)
                push(minute)
                seen += feed.next_minute(2.0)
            server.drop()
            assert stream.reconnected.wait(5) and server.wait_listening(1, 5)
            clock.at_minute_end(4, extra=0.5)   # minutes 2 and 3 happened while the socket was down
            push(4)
            deadline = time.monotonic() + 5
            while len(seen) < 10 and time.monotonic() < deadline:
                seen += feed.next_minute(0.5)
    assert keys(seen) == [(s, m) for m in range(5) for s in SYMBOLS]
    assert [b.close for b in seen if b.symbol == "AAPL"] == [100, 101, 102, 103, 104]
    # minutes 2-3 came from REST; minute 4 from whichever of REST or the stream came first
    assert feed.backfilled >= 4 and feed.delivered == 10 and stream.reconnects == 1


def test_rest_backfill_through_alpaca_py_against_the_fake_data_api() -> None:
    from fake_alpaca.server import API_KEY, SECRET_KEY, FakeAlpaca

    from mismartera.integrations.alpaca.source import rest_backfill

    with FakeAlpaca(page_size=2) as server:
        server.add_bars("MSFT", [(T0 + 60 * m, 400.0 + m, 401.0 + m, 399.0 + m, 400.5 + m, 10.0, 3, 400.2 + m)
                                 for m in range(6)])
        fetch = rest_backfill(AlpacaSettings(api_key=API_KEY, secret_key=SECRET_KEY, data_url=server.url))
        got = fetch("MSFT", T0 + 60, T0 + 240)
    assert [(b.ts - T0) // 60 for b in got] == [1, 2, 3, 4]
    assert got[0] == Bar("MSFT", T0 + 60, 401.0, 402.0, 400.0, 401.5, 10.0, trade_count=3, vwap=401.2)
