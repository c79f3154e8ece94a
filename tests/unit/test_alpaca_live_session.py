"""The Alpaca pieces composed the way a live session uses them, without the engine: bars from
alpaca-py's stream through `LiveBarFeed` to a strategy callback, its orders through `AlpacaBroker`
to the fake paper account, fills back over the trade-updates stream — with the data socket dropped
mid-session. Every minute reaches the strategy once, in order; broker and account agree."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fake_alpaca.brokerage import FakeBrokerage, FakeTradingApi
from fake_alpaca.stream_server import FakeDataStream, FakeTradingStream

from mismartera.bars import Bar
from mismartera.config.session import TradingConfig
from mismartera.config.settings import AlpacaSettings
from mismartera.execution.alpaca_broker import AlpacaBroker
from mismartera.execution.orders import OrderStatus
from mismartera.integrations.alpaca.stream import AlpacaBarStream
from mismartera.integrations.alpaca.trading import RetryPolicy
from mismartera.sources.live_feed import LiveBarFeed

T0 = 1_732_890_600  # 2024-11-29 09:30 ET
SYMBOLS = ["AAPL", "MSFT"]
FAST = {"connect_timeout": 3.0, "reconnect_backoff": (0.05, 0.2)}


@dataclass
class SessionClock:
    t: float = T0

    def __call__(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


def price(symbol: str, minute: int) -> float:
    return (100.0 if symbol == "AAPL" else 400.0) + minute


def test_live_session_over_a_few_minutes_with_a_dropped_socket() -> None:
    clock = SessionClock()
    history = {(s, T0 + 60 * m): Bar(s, T0 + 60 * m, price(s, m), price(s, m), price(s, m), price(s, m), 10.0)
               for s in SYMBOLS for m in range(6)}

    def rest(symbol: str, first: int, last: int) -> list[Bar]:
        return [b for (s, ts), b in sorted(history.items()) if s == symbol and first <= ts <= last]

    with FakeDataStream() as data_ws, FakeTradingStream() as trade_ws:
        brokerage = FakeBrokerage(cash=10_000.0, stream=trade_ws)
        with FakeTradingApi(brokerage) as api:
            settings = AlpacaSettings(api_key="test-key", secret_key="test-secret", base_url=api.url,
                                      stream_url=data_ws.url, trading_stream_url=trade_ws.url)
            broker = AlpacaBroker(TradingConfig(), clock, settings, policy=RetryPolicy(timeout=1.0, attempts=2),
                                  poll_interval=30.0, stream_options=FAST).start()
            stream = AlpacaBarStream(settings, SYMBOLS, **FAST).start()
            try:
                assert stream.wait_connected(5) and data_ws.wait_listening(1, 5) and trade_ws.wait_listening(1, 5)
                feed = LiveBarFeed(stream, SYMBOLS, rest, clock, start_ts=T0, grace=5.0)
                seen: list[Bar] = []

                def on_bar(bar: Bar) -> None:
                    """The strategy: buy 2 on a symbol's minute 1, sell them on its minute 4."""
                    seen.append(bar)
                    minute = (bar.ts - T0) // 60
                    brokerage.prices[bar.symbol] = bar.close
                    broker.process_bar(bar.symbol, bar.ts, bar.open, bar.high, bar.low, bar.close)
                    if minute == 1:
                        broker.submit(bar.symbol, "buy", 2, strategy="toy")
                    elif minute == 4:
                        broker.submit(bar.symbol, "sell", 2, strategy="toy")

                def push(minute: int) -> None:
                    for symbol in SYMBOLS:
                        p = price(symbol, minute)
                        data_ws.push_bar(symbol, T0 + 60 * minute, p, p, p, p, 10.0)

                def run_until(count: int) -> None:
                    deadline = time.monotonic() + 5
                    while len(seen) < count and time.monotonic() < deadline:
                        for bar in feed.next_minute(0.2):
                            on_bar(bar)

                for minute in range(3):
                    clock.t = T0 + 60 * (minute + 1) + 1
                    push(minute)
                    run_until(2 * (minute + 1))
                data_ws.drop()                       # minutes 3 and 4 are lost with the socket
                assert stream.reconnected.wait(5) and data_ws.wait_listening(1, 5)
                clock.t = T0 + 60 * 6 + 1
                push(5)
                run_until(12)
                deadline = time.monotonic() + 5
                while broker.open_orders() and time.monotonic() < deadline:
                    time.sleep(0.02)
            finally:
                assert stream.stop() and broker.stop()

    assert [(b.symbol, (b.ts - T0) // 60) for b in seen] == [(s, m) for m in range(6) for s in SYMBOLS]
    orders = broker.orders()
    assert [(o.symbol, o.side.value, o.status) for o in orders] == [
        ("AAPL", "buy", OrderStatus.FILLED), ("MSFT", "buy", OrderStatus.FILLED),
        ("AAPL", "sell", OrderStatus.FILLED), ("MSFT", "sell", OrderStatus.FILLED)]
    assert sorted(o["client_order_id"] for o in brokerage.orders.values()) == sorted(o.client_order_id for o in orders)
    # bought at minute 1's close, sold at minute 4's: 3 dollars a share on each symbol, 2 shares each
    assert broker.account().realized_pnl == 12.0
    assert broker.cash == brokerage.cash == 10_012.0
    assert broker.positions() == [] and brokerage.positions == {}
