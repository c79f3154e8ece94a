"""`AlpacaBroker` against the fake paper account: orders reach it, fills come back through the
trade-updates stream (or polling when the stream says nothing), positions and cash agree."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fake_alpaca.brokerage import FakeBrokerage, FakeTradingApi
from fake_alpaca.stream_server import FakeTradingStream
from fake_alpaca.waiting import wait_until

from mismartera.config.session import TradingConfig
from mismartera.config.settings import AlpacaSettings
from mismartera.errors import ExternalServiceError, NotFound, StateError
from mismartera.execution.alpaca_broker import AlpacaBroker, order_status
from mismartera.execution.broker import Broker
from mismartera.execution.orders import OrderStatus
from mismartera.integrations.alpaca.trading import RetryPolicy

NOW = datetime(2024, 11, 29, 15, 0, tzinfo=UTC)
QUICK = RetryPolicy(timeout=1.0, attempts=2, backoff=0.01)
STREAM = {"connect_timeout": 3.0, "reconnect_backoff": (0.05, 0.2)}


@dataclass
class FixedClock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


@dataclass
class Account:
    brokerage: FakeBrokerage
    api: FakeTradingApi
    stream: FakeTradingStream

    def settings(self, secret: str = "test-secret") -> AlpacaSettings:
        return AlpacaSettings(api_key="test-key", secret_key=secret, base_url=self.api.url,
                              trading_stream_url=self.stream.url)


@pytest.fixture
def account() -> Iterator[Account]:
    with FakeTradingStream() as stream:
        brokerage = FakeBrokerage(cash=10_000.0, stream=stream)
        brokerage.prices.update({"AAPL": 100.0, "MSFT": 400.0})
        with FakeTradingApi(brokerage) as api:
            yield Account(brokerage, api, stream)


def make_broker(account: Account, trading: TradingConfig | None = None, poll_interval: float = 30.0,
                secret: str = "test-secret") -> AlpacaBroker:
    return AlpacaBroker(trading or TradingConfig(), FixedClock(), account.settings(secret), policy=QUICK,
                        poll_interval=poll_interval, stream_options=STREAM)


@pytest.fixture
def broker(account: Account) -> Iterator[AlpacaBroker]:
    broker = make_broker(account).start()
    assert broker._updates is not None and broker._updates.wait_connected(5)
    assert account.stream.wait_listening(1, 5)
    yield broker
    assert broker.stop()



def test_it_is_a_broker(broker: AlpacaBroker) -> None:
    assert isinstance(broker, Broker)
    assert broker.initial_cash == 10_000.0
    assert broker.stream_state == "streaming"


def test_orders_reach_alpaca_fills_come_back_and_the_books_agree(account: Account, broker: AlpacaBroker) -> None:
    order = broker.submit("aapl", "buy", 10, strategy="sma")
    # the fill may be reported before the POST's answer arrives: the stale "new" must not undo it
    assert order.status in (OrderStatus.NEW, OrderStatus.FILLED)
    assert order.broker_order_id in account.brokerage.orders
    assert order.client_order_id == account.brokerage.orders[order.broker_order_id]["client_order_id"]
    assert wait_until(lambda: broker.orders()[0].status is OrderStatus.FILLED)
    [fill] = broker.fills()
    assert (fill.order_id, fill.symbol, fill.quantity, fill.price) == (order.id, "AAPL", 10.0, 100.0)
    assert broker.cash == pytest.approx(account.brokerage.cash) == 9_000.0
    [position] = broker.positions()
    assert (position.symbol, position.quantity, position.average_price) == ("AAPL", 10.0, 100.0)

    account.brokerage.prices["AAPL"] = 105.0
    broker.mark("AAPL", 105.0)
    broker.submit("AAPL", "sell", 10)
    assert wait_until(lambda: broker.positions() == [])
    assert broker.cash == pytest.approx(account.brokerage.cash) == 10_050.0
    assert broker.account().realized_pnl == pytest.approx(50.0)
    orders, fills = broker.drain_changes()
    assert [o.status for o in orders] == [OrderStatus.FILLED, OrderStatus.FILLED]
    assert [(f.side.value, f.price) for f in fills] == [("buy", 100.0), ("sell", 105.0)]
    assert broker.drain_changes() == ([], [])
    # the poller's refresh adopts Alpaca's numbers, which agree
    broker.refresh_account()
    assert broker.cash == pytest.approx(10_050.0) and broker.positions() == []


def test_polling_catches_fills_the_stream_never_reported(account: Account) -> None:
    account.brokerage.stream = None   # the fake stops publishing trade updates
    broker = make_broker(account, poll_interval=0.1).start()
    try:
        order = broker.submit("MSFT", "buy", 2)
        assert wait_until(lambda: broker.open_orders() == [])
        assert broker.orders()[0].status is OrderStatus.FILLED
        assert [(f.order_id, f.price) for f in broker.fills()] == [(order.id, 400.0)]
        assert wait_until(lambda: broker.cash == pytest.approx(account.brokerage.cash))
    finally:
        assert broker.stop()


def test_partial_fills_are_booked_once_from_updates_and_polls(account: Account, broker: AlpacaBroker) -> None:
    order = broker.submit("AAPL", "buy", 10, "limit", limit_price=99.0)
    account.brokerage.fill(order.broker_order_id, price=99.0, qty=4)
    assert wait_until(lambda: broker.orders()[0].status is OrderStatus.PARTIALLY_FILLED)
    broker.poll()
    account.brokerage.fill(order.broker_order_id, price=98.0, qty=6)
    assert wait_until(lambda: broker.orders()[0].status is OrderStatus.FILLED)
    broker.poll()
    assert [(f.quantity, f.price) for f in broker.fills()] == [(4.0, 99.0), (6.0, pytest.approx(98.0))]
    assert broker.position("AAPL").average_price == pytest.approx(98.4)


def test_refusals_come_back_as_rejected_orders_with_the_reason(account: Account) -> None:
    broker = make_broker(account, TradingConfig(max_per_trade=1_000)).start()
    try:
        broker.mark("MSFT", 400.0)
        limited = broker.submit("MSFT", "buy", 5)
        assert limited.status is OrderStatus.REJECTED
        assert limited.reason == "rejected: max_per_trade 1000 exceeded (order 2000.00)"
        assert account.brokerage.posts() == 0
    finally:
        broker.stop()
    unlimited = make_broker(account).start()
    try:
        refused = unlimited.submit("MSFT", "buy", 100)
        assert refused.status is OrderStatus.REJECTED
        assert refused.reason == "rejected: insufficient buying power"
    finally:
        unlimited.stop()


def test_cancel(account: Account, broker: AlpacaBroker) -> None:
    order = broker.submit("AAPL", "buy", 1, "limit", limit_price=90.0)
    cancelled = broker.cancel(order.id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert account.brokerage.orders[order.broker_order_id]["status"] == "canceled"
    with pytest.raises(StateError, match=f"cannot cancel order {order.id}: it is already cancelled"):
        broker.cancel(order.id)
    with pytest.raises(NotFound, match="order 99 not found"):
        broker.cancel(99)


def test_flatten_closes_every_position_at_market(account: Account, broker: AlpacaBroker) -> None:
    broker.submit("AAPL", "buy", 3)
    assert wait_until(lambda: broker.position("AAPL").quantity == 3)
    resting = broker.submit("MSFT", "buy", 1, "limit", limit_price=300.0)
    closing = broker.flatten("test")
    assert [(o.symbol, o.side.value, o.quantity, o.reason) for o in closing] == [("AAPL", "sell", 3.0, "flatten: test")]
    assert wait_until(lambda: broker.positions() == [])
    assert [o.status for o in broker.orders() if o.id == resting.id] == [OrderStatus.CANCELLED]


def test_start_with_a_rejected_key_raises(account: Account) -> None:
    with pytest.raises(ExternalServiceError, match=r"^Alpaca rejected the API key"):
        make_broker(account, secret="wrong").start()


def test_stop_is_quick_and_leaves_no_thread(account: Account) -> None:
    broker = make_broker(account).start()
    assert broker._updates is not None and broker._updates.wait_connected(5)
    started = time.monotonic()
    assert broker.stop()
    assert time.monotonic() - started < 2.0
    names = {t.name for t in threading.enumerate()}
    assert not names & {"alpaca-broker-poll", "alpaca-trade-updates"}


def test_alpaca_statuses_map_to_ours() -> None:
    assert order_status("accepted", 0) is OrderStatus.NEW
    assert order_status("pending_cancel", 2) is OrderStatus.PARTIALLY_FILLED
    assert order_status("canceled", 2) is OrderStatus.CANCELLED
    assert order_status("done_for_day", 0) is OrderStatus.EXPIRED
    assert order_status("rejected", 0) is OrderStatus.REJECTED


def test_refresh_takes_alpacas_positions_when_they_changed_outside_the_session(account: Account,
                                                                               broker: AlpacaBroker) -> None:
    account.brokerage.positions["MSFT"] = {"qty": 3.0, "avg": 390.0}   # bought in Alpaca's web app
    account.brokerage.cash -= 1170.0
    broker.refresh_account()
    assert [(p.symbol, p.quantity, p.average_price) for p in broker.positions()] == [("MSFT", 3.0, 390.0)]
    assert broker.cash == pytest.approx(8_830.0)
