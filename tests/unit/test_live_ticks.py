"""Live trades and quotes: the stream adapter subscribes to them on the fake Alpaca websocket, the sink
keeps SessionData's latest of each and stores them in batches (same microsecond numbered in order)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fake_alpaca.stream_server import FakeDataStream
from fake_alpaca.waiting import wait_until

from mismartera.bars import Quote, Trade
from mismartera.config.settings import AlpacaSettings
from mismartera.data.database import Database
from mismartera.data.tick_store import TickStore
from mismartera.integrations.alpaca.stream import AlpacaBarStream
from mismartera.system.session_data import SessionData
from mismartera.system.tick_sink import TickSink

pytest_plugins = ["fake_alpaca.fixtures"]

T0 = 1_732_890_600 * 1_000_000  # 2024-11-29 09:30 ET, in microseconds
FAST = {"connect_timeout": 3.0, "reconnect_backoff": (0.05, 0.2)}


@pytest.fixture
def fake() -> Iterator[FakeDataStream]:
    with FakeDataStream() as server:
        yield server


def test_trades_and_quotes_stream_into_session_data_and_the_store(fake: FakeDataStream, database: Database) -> None:
    database.ensure_schema()
    data = SessionData(["AAPL", "MSFT"], ["1m"], tick_streams=("trades", "quotes"))
    sink = TickSink(database, data, ("trades", "quotes"), flush_seconds=0.2)
    sink.start()
    settings = AlpacaSettings(api_key="test-key", secret_key="test-secret", stream_url=fake.url)
    stream = AlpacaBarStream(settings, ["AAPL", "MSFT"], **FAST)
    stream.subscribe_ticks(("trades", "quotes"), sink.add)
    try:
        with stream:
            assert stream.wait_connected(5) and fake.wait_listening(1, 5)
            assert fake.subscriptions[0]["trades"] == ["AAPL", "MSFT"]
            assert fake.subscriptions[0]["quotes"] == ["AAPL", "MSFT"]
            assert data.quote("AAPL") is None and data.last_trade("AAPL") is None
            fake.push_trade("AAPL", T0 + 1, 216.5, 100, trade_id=1)
            fake.push_trade("AAPL", T0 + 1, 216.51, 5, trade_id=2)   # same microsecond: seq 1
            fake.push_trade("MSFT", T0 + 9, 420.0, 3, trade_id=3)
            fake.push_quote("AAPL", T0 + 250_000, 216.4, 3, 216.6, 4)
            assert wait_until(lambda: sink.received == 4, 5)
            assert data.last_trade("AAPL") == Trade("AAPL", datetime.fromtimestamp(T0 / 1e6, UTC).replace(
                microsecond=1), 216.51, 5.0, "V", "@")
            quote = data.quote("AAPL")
            assert isinstance(quote, Quote) and (quote.bid_price, quote.ask_price, quote.mid) == (216.4, 216.6, 216.5)
            assert data.quote("MSFT") is None and data.last_trade("MSFT").price == 420.0
            trades = TickStore(database, "trades")
            assert wait_until(lambda: trades.count("AAPL") == 2, 5)   # written by the batch writer
    finally:
        assert sink.stop(5)
    assert trades.read("AAPL", 0, 2**62) == [(T0 + 1, 0, 216.5, 100.0, "V", "@", 1),
                                             (T0 + 1, 1, 216.51, 5.0, "V", "@", 2)]
    assert TickStore(database, "quotes").read("AAPL", 0, 2**62) == [
        (T0 + 250_000, 0, 216.4, 3.0, 216.6, 4.0, "V", "Q", "R")]
    assert sink.error is None and sink.written == 4


def test_a_live_session_streaming_quotes_and_trades(live_fakes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`streams: ["1m", "trades", "quotes"]` in a live config: the session subscribes, SessionData gets the
    latest quote, the rows are stored, and stop leaves no tick-writer thread."""
    import json
    import threading
    from datetime import date, timedelta
    from pathlib import Path

    from mismartera.commands.context import AppContext
    from mismartera.config.session import parse_session_config
    from mismartera.config.settings import load_settings
    from mismartera.system.manager import SystemManager
    from mismartera.system.state import SystemState
    from mismartera.timekeeping.calendar import TimeManager

    data = json.loads((Path(__file__).resolve().parents[2] / "config" / "live_paper.json").read_text())
    data["session_data_config"]["historical"]["trailing_days"] = 0
    data["session_data_config"]["streams"] = ["1m", "trades", "quotes"]
    session = TimeManager().session(date(2024, 11, 29))
    assert session is not None
    manager = SystemManager(AppContext(load_settings(live_fakes.env(tmp_path))),
                            live_now=lambda: session.open - timedelta(hours=10))
    symbol = data["session_data_config"]["symbols"][0]
    status = manager.start(parse_session_config(data, "live.json"))
    try:
        assert status.state is SystemState.RUNNING
        assert live_fakes.data_ws.wait_listening(1, 5)
        assert symbol in live_fakes.data_ws.subscriptions[0]["quotes"]
        assert symbol in live_fakes.data_ws.subscriptions[0]["trades"]
        live_fakes.data_ws.push_quote(symbol, T0 + 5, 99.9, 1, 100.1, 2)
        assert wait_until(lambda: manager.data.quote(symbol) is not None, 5)
        assert manager.data.quote(symbol).ask_price == 100.1 and manager.data.last_trade(symbol) is None
    finally:
        manager.stop()
    assert manager.state is SystemState.STOPPED
    assert "tick-writer" not in {t.name for t in threading.enumerate()}
    assert TickStore(manager.app.db, "quotes").read(symbol, 0, 2**62)[0][4] == 100.1
