"""The Alpaca bar-stream adapter, driven through alpaca-py's StockDataStream against a fake
websocket on 127.0.0.1 (tests/fake_alpaca/stream_server.py)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fake_alpaca.stream_server import FakeDataStream
from fake_alpaca.waiting import wait_until

from mismartera.bars import Bar
from mismartera.config.settings import AlpacaSettings
from mismartera.errors import ConfigError, UsageError
from mismartera.integrations.alpaca.stream import REJECTED_KEY, AlpacaBarStream, stream_endpoint

T0 = 1_732_890_600  # 2024-11-29 14:30 UTC, 09:30 ET
FAST = {"connect_timeout": 3.0, "reconnect_backoff": (0.05, 0.2)}


@pytest.fixture
def fake() -> Iterator[FakeDataStream]:
    with FakeDataStream() as server:
        yield server


def settings_for(url: str, secret: str = "test-secret") -> AlpacaSettings:
    return AlpacaSettings(api_key="test-key", secret_key=secret, stream_url=url)



def stream_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("alpaca-bar-stream")]


def test_bars_arrive_in_order_as_mismartera_bars(fake: FakeDataStream) -> None:
    with AlpacaBarStream(settings_for(fake.url), ["msft", "AAPL"], **FAST) as stream:
        assert stream.wait_connected(5)
        assert fake.wait_listening(1, 5)
        for minute in range(3):
            fake.push_bar("AAPL", T0 + 60 * minute, 100 + minute, 101 + minute, 99 + minute, 100.5 + minute, 1000)
            fake.push_bar("MSFT", T0 + 60 * minute, 400 + minute, 401 + minute, 399 + minute, 400.5 + minute, 500,
                          trade_count=7, vwap=400.2 + minute)
        got = [stream.get(timeout=3) for _ in range(6)]
        assert stream.get(timeout=0.05) is None
    assert [(b.symbol, b.ts) for b in got] == [(s, T0 + 60 * m) for m in range(3) for s in ("AAPL", "MSFT")]
    assert got[1] == Bar("MSFT", T0, 400.0, 401.0, 399.0, 400.5, 500.0, trade_count=7, vwap=400.2)
    assert fake.paths == ["/v2/iex"]
    assert fake.subscriptions[0]["bars"] == ["AAPL", "MSFT"]
    assert stream.status().bars_received == 6


def test_dropped_socket_reconnects_and_reports_it(fake: FakeDataStream) -> None:
    seen: list[int] = []
    with AlpacaBarStream(settings_for(fake.url), ["AAPL"], on_reconnect=seen.append, **FAST) as stream:
        assert stream.wait_connected(5) and fake.wait_listening(1, 5)
        fake.push_bar("AAPL", T0, 1, 1, 1, 1, 1)
        assert stream.get(timeout=3).ts == T0
        assert fake.drop() == 1
        assert stream.reconnected.wait(5), stream.status()
        assert fake.wait_listening(1, 5)
        fake.push_bar("AAPL", T0 + 120, 2, 2, 2, 2, 2)
        assert stream.get(timeout=3).ts == T0 + 120
        status = stream.status()
    assert (status.connected, status.reconnects, status.state) == (2, 1, "streaming")
    assert seen == [1]
    assert fake.connections == 2


def test_silent_socket_is_reconnected_by_data_timeout(fake: FakeDataStream) -> None:
    with AlpacaBarStream(settings_for(fake.url), ["AAPL"], data_timeout=0.3, **FAST) as stream:
        assert stream.wait_connected(5)
        assert stream.reconnected.wait(4), stream.status()
    assert stream.reconnects >= 1


def test_rejected_key_fails_fast_without_retrying(fake: FakeDataStream) -> None:
    failures: list[str] = []
    stream = AlpacaBarStream(settings_for(fake.url, secret="wrong"), ["AAPL"], on_failure=failures.append, **FAST)
    started = time.monotonic()
    stream.start()
    try:
        assert wait_until(lambda: stream.failed, 3)
        assert time.monotonic() - started < 3
        assert stream.error == f"{REJECTED_KEY} on the data stream"
        assert failures == ["Alpaca rejected the API key on the data stream"]
        assert wait_until(lambda: not stream.running, 2)
        assert fake.auth_attempts == 1
    finally:
        assert stream.stop()
    assert stream.state == "failed"


def test_a_plan_without_the_feed_fails_at_once_with_what_to_change(fake: FakeDataStream) -> None:
    """Issue 20, point 6: 409 "insufficient subscription" is one line naming the feed, within 5 s
    (not "cannot reach the Alpaca stream" after the 15 s watchdog)."""
    fake.refuse_auth(409, "insufficient subscription")
    stream = AlpacaBarStream(settings_for(fake.url), ["AAPL"], "sip", connect_timeout=15.0,
                             reconnect_backoff=(0.05, 0.2))
    started = time.monotonic()
    stream.start()
    try:
        assert wait_until(lambda: stream.failed, 5)
        assert time.monotonic() - started < 5
        assert stream.error == 'your Alpaca plan has no access to the sip feed (use "data_feed": "iex")'
        assert fake.auth_attempts == 1
    finally:
        stream.stop()


def test_a_refused_reconnect_is_one_warning_and_recovers(fake: FakeDataStream,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Issue 20, point 6: 406 "connection limit exceeded" on two reconnects: one warning line of
    ours each (alpaca-py's own tracebacks stay out of the console, see test_shell_display), then
    the stream is back."""
    with AlpacaBarStream(settings_for(fake.url), ["AAPL"], **FAST) as stream:
        assert stream.wait_connected(5) and fake.wait_listening(1, 5)
        fake.refuse_auth(406, "connection limit exceeded", times=2)
        with caplog.at_level(logging.WARNING, logger="mismartera"):
            assert fake.drop() == 1
            assert stream.reconnected.wait(5), stream.status()
        assert stream.state == "streaming" and not stream.failed
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("mismartera") and "refused" in r.getMessage()]
    assert ours == ["Alpaca stream refused the connection (406 connection limit exceeded); trying again"] * 2
    assert fake.auth_attempts == 4


def test_unreachable_server_fails_with_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stream = AlpacaBarStream(settings_for(f"ws://127.0.0.1:{port}"), ["AAPL"], connect_timeout=0.5,
                             reconnect_backoff=(0.05, 0.1))
    stream.start()
    try:
        assert wait_until(lambda: stream.failed, 3)
        assert stream.error == f"cannot reach the Alpaca stream at ws://127.0.0.1:{port}/v2/iex " \
                               "(no connection within 0.5 s)"
    finally:
        assert stream.stop()


def test_stop_returns_within_two_seconds_with_no_data_and_leaves_no_thread(fake: FakeDataStream) -> None:
    stream = AlpacaBarStream(settings_for(fake.url), ["AAPL", "MSFT"], **FAST).start()
    assert stream.wait_connected(5) and fake.wait_listening(1, 5)
    time.sleep(0.2)
    started = time.monotonic()
    assert stream.stop()
    assert time.monotonic() - started < 2.0
    assert stream.state == "stopped"
    assert wait_until(lambda: stream_threads() == [], 1), stream_threads()
    assert fake.live_connections == 0 or wait_until(lambda: fake.live_connections == 0, 1)


def test_stop_before_any_connection_is_quick() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stream = AlpacaBarStream(settings_for(f"ws://127.0.0.1:{port}"), ["AAPL"], connect_timeout=5,
                             reconnect_backoff=(5, 5)).start()
    time.sleep(0.1)
    started = time.monotonic()
    assert stream.stop()
    assert time.monotonic() - started < 2.0
    assert wait_until(lambda: stream_threads() == [], 1), stream_threads()


def test_full_queue_counts_dropped_bars(fake: FakeDataStream) -> None:
    with AlpacaBarStream(settings_for(fake.url), ["AAPL"], queue_size=2, **FAST) as stream:
        assert stream.wait_connected(5) and fake.wait_listening(1, 5)
        for minute in range(4):
            fake.push_bar("AAPL", T0 + 60 * minute, 1, 1, 1, 1, 1)
        assert wait_until(lambda: stream.bars_received == 4, 3)
        assert [b.ts for b in stream.drain()] == [T0, T0 + 60]
    assert stream.bars_dropped == 2


def test_bad_arguments_are_refused_up_front() -> None:
    with pytest.raises(ConfigError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        AlpacaBarStream(AlpacaSettings(), ["AAPL"])
    with pytest.raises(UsageError, match="unknown Alpaca feed 'otc'"):
        AlpacaBarStream(settings_for("ws://x"), ["AAPL"], feed="otc")
    with pytest.raises(UsageError, match="at least one symbol"):
        AlpacaBarStream(settings_for("ws://x"), [])


def test_stream_endpoint_accepts_a_base_or_a_full_url() -> None:
    assert stream_endpoint(None, "sip") == "wss://stream.data.alpaca.markets/v2/sip"
    assert stream_endpoint("ws://127.0.0.1:9/", "iex") == "ws://127.0.0.1:9/v2/iex"
    assert stream_endpoint("wss://h/v2/test", "iex") == "wss://h/v2/test"


# ---------------------------------------------------------------- trade updates (TradingStream)

def test_trade_updates_arrive_as_trade_events() -> None:
    from fake_alpaca.stream_server import FakeTradingStream

    from mismartera.integrations.alpaca.stream import AlpacaTradeUpdates

    events = []
    order = {"id": "11111111-1111-1111-1111-111111111111", "client_order_id": "mm-1", "symbol": "AAPL",
             "side": "buy", "qty": "3", "filled_qty": "3", "filled_avg_price": "101.5", "order_type": "market",
             "type": "market", "time_in_force": "day", "status": "filled", "extended_hours": False,
             "created_at": "2024-11-29T14:31:00Z", "updated_at": "2024-11-29T14:31:01Z",
             "submitted_at": "2024-11-29T14:31:00Z", "filled_at": "2024-11-29T14:31:01Z"}
    with FakeTradingStream() as fake:
        settings = AlpacaSettings(api_key="test-key", secret_key="test-secret", trading_stream_url=fake.url)
        with AlpacaTradeUpdates(settings, events.append, **FAST) as updates:
            assert updates.wait_connected(5) and fake.wait_listening(1, 5)
            fake.publish("fill", order, price=101.5, qty=3, position_qty=3)
            assert wait_until(lambda: len(events) == 1, 3)
            assert fake.drop() == 1
            assert updates.reconnected.wait(5) and fake.wait_listening(1, 5)
        assert not updates.running
    [event] = events
    assert (event.event, event.price, event.qty, event.position_qty) == ("fill", 101.5, 3.0, 3.0)
    assert (event.order.client_order_id, event.order.status, event.order.filled_avg_price) == ("mm-1", "filled", 101.5)


def test_trade_updates_with_a_rejected_key_fail() -> None:
    from fake_alpaca.stream_server import FakeTradingStream

    from mismartera.integrations.alpaca.stream import AlpacaTradeUpdates

    with FakeTradingStream() as fake:
        settings = AlpacaSettings(api_key="test-key", secret_key="bad", trading_stream_url=fake.url)
        updates = AlpacaTradeUpdates(settings, lambda event: None, **FAST).start()
        try:
            assert wait_until(lambda: updates.failed, 3)
            assert updates.error == f"{REJECTED_KEY} on the trade-updates stream"
        finally:
            assert updates.stop()
        assert fake.auth_attempts == 1


def test_trading_stream_endpoint_follows_the_base_url() -> None:
    from mismartera.integrations.alpaca.stream import trading_stream_endpoint

    assert trading_stream_endpoint(AlpacaSettings(base_url="http://127.0.0.1:5/")) == "ws://127.0.0.1:5/stream"
    assert trading_stream_endpoint(AlpacaSettings()) == "wss://paper-api.alpaca.markets/stream"
    assert trading_stream_endpoint(AlpacaSettings(), paper=False) == "wss://api.alpaca.markets/stream"
