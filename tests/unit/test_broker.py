"""SimulatedBroker: fill rules, commissions, slippage, positions and P&L, DAY/GTC, cancel, drain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mismartera.config.session import TradingConfig
from mismartera.errors import NotFound, StateError, UsageError
from mismartera.execution import Broker, OrderStatus, SimulatedBroker

OPEN = datetime(2024, 11, 26, 14, 30, tzinfo=UTC)  # 09:30 ET
CLOSE = datetime(2024, 11, 26, 21, 0, tzinfo=UTC)  # 16:00 ET
T0 = int(OPEN.timestamp())


class Clock:
    def __init__(self, now: datetime = OPEN) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def to_bar_end(self, ts: int) -> None:
        """Where the engine puts the clock while strategies handle the bar that started at ts."""
        self.at = datetime.fromtimestamp(ts + 60, UTC)


def make(**trading: object) -> tuple[SimulatedBroker, Clock]:
    clock = Clock()
    broker = SimulatedBroker(TradingConfig(**trading), clock)
    return broker, clock


def bar(broker: SimulatedBroker, clock: Clock, minute: int, o: float, h: float, low: float, c: float,
        symbol: str = "AAPL") -> list:
    """Reveal the 1m bar starting `minute` minutes after the open, then move the clock to its end."""
    ts = T0 + 60 * minute
    fills = broker.process_bar(symbol, ts, o, h, low, c)
    clock.to_bar_end(ts)
    return fills


def primed(**trading: object) -> tuple[SimulatedBroker, Clock]:
    """A broker that has seen one AAPL bar closing at 100."""
    broker, clock = make(**trading)
    bar(broker, clock, 0, 100, 100, 100, 100)
    return broker, clock


def test_it_is_a_broker() -> None:
    assert isinstance(make()[0], Broker)


def test_market_buy_fills_at_next_open_plus_slippage_with_commission_minimum() -> None:
    broker, clock = primed(commission_per_share=0.005, commission_min=1.0, slippage_bps=10)
    order = broker.submit("aapl", "buy", 100)
    assert (order.id, order.client_order_id, order.status, order.symbol) == (1, "sim-1", OrderStatus.NEW, "AAPL")
    [fill] = bar(broker, clock, 1, 101.0, 102.0, 100.5, 101.5)
    assert fill.price == pytest.approx(101.0 * 1.001)
    assert fill.commission == 1.0                       # 100 * 0.005 = 0.50 < the 1.00 minimum
    assert fill.filled_at == OPEN + timedelta(minutes=1)  # the bar's start
    assert broker.cash == pytest.approx(100_000 - 100 * 101.101 - 1.0)
    position = broker.position("AAPL")
    assert (position.quantity, position.average_price, position.last_price) == (100, pytest.approx(101.101), 101.5)
    assert broker.equity == pytest.approx(broker.cash + 100 * 101.5)
    [filled] = broker.orders()
    assert (filled.status, filled.filled_quantity, filled.average_fill_price) == (OrderStatus.FILLED, 100,
                                                                                 pytest.approx(101.101))


def test_commission_per_share_above_the_minimum_and_market_sell_slippage() -> None:
    broker, clock = primed(commission_per_share=0.01, commission_min=1.0, slippage_bps=20)
    broker.submit("AAPL", "buy", 300)
    bar(broker, clock, 1, 100, 100, 100, 100)
    broker.submit("AAPL", "sell", 300)
    [fill] = bar(broker, clock, 2, 110, 111, 109, 110)
    assert fill.price == pytest.approx(110 * 0.998)          # a sell gets less
    assert fill.commission == pytest.approx(3.0)
    assert broker.position("AAPL").realized_pnl == pytest.approx(300 * (109.78 - 100.2) - 6.0)


def test_an_order_placed_after_the_bar_started_waits_for_the_next_bar() -> None:
    broker, clock = primed()
    clock.at = OPEN + timedelta(minutes=1, seconds=30)  # a manual order while bar 1 is forming
    broker.submit("AAPL", "buy", 10)
    assert bar(broker, clock, 1, 100, 100, 100, 100) == []
    [fill] = bar(broker, clock, 2, 99, 99, 99, 99)
    assert fill.price == 99


def test_orders_of_other_symbols_are_untouched() -> None:
    broker, clock = primed()
    bar(broker, clock, 0, 50, 50, 50, 50, symbol="MSFT")
    broker.submit("MSFT", "buy", 10)
    assert bar(broker, clock, 1, 100, 100, 100, 100) == []
    assert len(broker.open_orders("MSFT")) == 1 and broker.open_orders("AAPL") == []


@pytest.mark.parametrize(("side", "limit", "ohlc", "expected"), [
    ("buy", 99.0, (100, 101, 99.5, 100), None),         # low stays above the limit
    ("buy", 99.0, (100, 101, 98.0, 100), 99.0),         # touched: at the limit
    ("buy", 99.0, (97, 98, 96.0, 97), 97.0),            # gapped down through it: the better open
    ("sell", 101.0, (100, 100.5, 99, 100), None),
    ("sell", 101.0, (100, 102, 99, 101), 101.0),
    ("sell", 101.0, (103, 104, 102, 103), 103.0),
])
def test_limit_orders(side: str, limit: float, ohlc: tuple, expected: float | None) -> None:
    broker, clock = primed(slippage_bps=50, allow_short=True)
    broker.submit("AAPL", side, 10, "limit", limit_price=limit)
    fills = bar(broker, clock, 1, *ohlc)
    assert [f.price for f in fills] == ([] if expected is None else [expected])  # limits take no slippage


@pytest.mark.parametrize(("side", "stop", "ohlc", "expected"), [
    ("buy", 102.0, (100, 101.5, 99, 101), None),
    ("buy", 102.0, (100, 103, 99, 102.5), 102.0 * 1.001),   # triggered: the stop plus slippage
    ("buy", 102.0, (104, 105, 103, 104), 104.0 * 1.001),    # gapped up through it: the worse open
    ("sell", 98.0, (100, 101, 98.5, 99), None),
    ("sell", 98.0, (100, 101, 97, 97.5), 98.0 * 0.999),
    ("sell", 98.0, (95, 96, 94, 95), 95.0 * 0.999),
])
def test_stop_orders(side: str, stop: float, ohlc: tuple, expected: float | None) -> None:
    broker, clock = primed(slippage_bps=10, allow_short=True)
    broker.submit("AAPL", side, 10, "stop", stop_price=stop)
    fills = bar(broker, clock, 1, *ohlc)
    assert [f.price for f in fills] == ([] if expected is None else [pytest.approx(expected)])


def test_day_orders_expire_at_the_close_gtc_orders_stay() -> None:
    broker, _ = primed()
    day = broker.submit("AAPL", "buy", 10, "limit", limit_price=50)
    gtc = broker.submit("AAPL", "buy", 10, "limit", limit_price=50, time_in_force="gtc")
    [expired] = broker.end_of_day(CLOSE)
    assert (expired.id, expired.status, expired.reason) == (day.id, OrderStatus.EXPIRED,
                                                            "day order not filled by the close")
    assert expired.updated_at == CLOSE
    assert [o.id for o in broker.open_orders()] == [gtc.id]


def test_an_order_placed_on_the_last_bar_waits_for_the_next_session() -> None:
    broker, clock = primed()
    last = int(CLOSE.timestamp()) - 60
    broker.process_bar("AAPL", last, 100, 100, 100, 100)
    clock.at = CLOSE                                      # the last bar ends at the close
    order = broker.submit("AAPL", "buy", 10)
    assert broker.end_of_day(CLOSE) == []
    next_open = OPEN + timedelta(days=1)
    [fill] = broker.process_bar("AAPL", int(next_open.timestamp()), 105, 106, 104, 105)
    assert (fill.order_id, fill.price, fill.filled_at) == (order.id, 105, next_open)
    clock.at = CLOSE                                       # a limit left over the night expires a day later
    late = broker.submit("AAPL", "buy", 10, "limit", limit_price=1)
    assert broker.end_of_day(CLOSE) == []
    assert [o.id for o in broker.end_of_day(CLOSE + timedelta(days=1))] == [late.id]


def test_cancel() -> None:
    broker, clock = primed()
    order = broker.submit("AAPL", "buy", 10, "limit", limit_price=90)
    cancelled = broker.cancel(order.id)
    assert cancelled.status is OrderStatus.CANCELLED and broker.open_orders() == []
    assert bar(broker, clock, 1, 80, 80, 80, 80) == []
    with pytest.raises(StateError, match=r"^cannot cancel order 1: it is already cancelled$"):
        broker.cancel(order.id)
    with pytest.raises(NotFound, match=r"^order 99 not found$"):
        broker.cancel(99)
    assert broker.buying_power == pytest.approx(100_000)  # the reservation went with it


def test_average_price_and_realized_pnl_through_adds_partial_closes_and_flips() -> None:
    broker, clock = primed(allow_short=True, commission_min=1.0)
    steps = [("buy", 100, 10.0), ("buy", 100, 20.0), ("sell", 50, 30.0), ("sell", 250, 12.0), ("buy", 100, 8.0)]
    for minute, (side, qty, price) in enumerate(steps, start=1):
        broker.submit("AAPL", side, qty)
        bar(broker, clock, minute, price, price, price, price)
    position = broker.position("AAPL")
    # avg 15 after the adds; selling 50 at 30 realises 750; selling 250 at 12 closes 150 (-450)
    # and opens a 100 short at 12; buying 100 at 8 covers it (+400). Five 1.00 commissions.
    assert position.quantity == 0 and position.average_price == 0
    assert position.realized_pnl == pytest.approx(750 - 450 + 400 - 5)
    assert broker.cash == pytest.approx(100_000 + 750 - 450 + 400 - 5)


def test_partial_close_keeps_the_entry_price_and_a_flip_resets_it() -> None:
    broker, clock = primed(allow_short=True)
    broker.submit("AAPL", "buy", 100)
    bar(broker, clock, 1, 10, 10, 10, 10)
    broker.submit("AAPL", "sell", 40)
    bar(broker, clock, 2, 12, 12, 12, 13)
    position = broker.position("AAPL")
    assert (position.quantity, position.average_price, position.realized_pnl) == (60, 10, 80)
    assert position.unrealized_pnl == pytest.approx(60 * 3) and position.market_value == pytest.approx(60 * 13)
    broker.submit("AAPL", "sell", 100)
    bar(broker, clock, 3, 11, 11, 11, 9)
    position = broker.position("AAPL")
    assert (position.quantity, position.average_price) == (-40, 11)
    assert position.unrealized_pnl == pytest.approx(-40 * (9 - 11))
    account = broker.account()
    assert account.initial_cash + account.realized_pnl + account.unrealized_pnl == pytest.approx(account.equity)
    assert [p.symbol for p in account.positions] == ["AAPL"]


@pytest.mark.parametrize(("trading", "args", "reason"), [
    ({}, ("AAPL", "buy", 0), "rejected: quantity must be > 0 (got 0)"),
    ({}, ("AAPL", "buy", -5), "rejected: quantity must be > 0 (got -5)"),
    ({}, ("AAPL", "buy", 10, "limit"), "rejected: a limit order needs a limit price"),
    ({}, ("AAPL", "buy", 10, "stop"), "rejected: a stop order needs a stop price"),
    ({}, ("AAPL", "buy", 10, "market", 99.0), "rejected: a market order takes no limit or stop price"),
    ({}, ("AAPL", "buy", 10, "limit", 99.0, 98.0),
     "rejected: stop-limit orders are not supported (give a limit or a stop price, not both)"),
    ({}, ("AAPL", "buy", 10, "limit", -1.0), "rejected: limit price must be > 0 (got -1)"),
    ({}, ("MSFT", "buy", 10), "rejected: no price for MSFT yet (a market order needs one bar of it first)"),
    ({}, ("AAPL", "sell", 10), "rejected: short selling is not allowed (AAPL could go to -10 shares; "
                                "set trading_config.allow_short to allow it)"),
    ({"max_per_trade": 10_000}, ("AAPL", "buy", 125), "rejected: max_per_trade 10000 exceeded (order 12500.00)"),
    ({"max_per_symbol": 5_000.5}, ("AAPL", "buy", 60),
     "rejected: max_per_symbol 5000.50 exceeded (AAPL position would be 6000.00)"),
    ({"initial_cash": 5_000}, ("AAPL", "buy", 60),
     "rejected: insufficient buying power (order needs 6000.00, available 5000.00)"),
    ({"max_buying_power": 2_000, "commission_min": 1}, ("AAPL", "buy", 20),
     "rejected: insufficient buying power (order needs 2001.00, available 2000.00)"),
])
def test_rejections_name_the_reason(trading: dict, args: tuple, reason: str) -> None:
    broker, _ = primed(**trading)
    order = broker.submit(*args)
    assert (order.status, order.reason) == (OrderStatus.REJECTED, reason)
    assert broker.open_orders() == []
    assert broker.buying_power == pytest.approx(min(broker.cash, trading.get("max_buying_power", broker.cash)))
    assert [o.status for o in broker.drain_changes()[0]] == [OrderStatus.REJECTED]


def test_max_open_positions_counts_positions_and_pending_orders() -> None:
    broker, clock = primed(max_open_positions=2)
    for symbol in ("MSFT", "SPY"):
        broker.process_bar(symbol, T0, 10, 10, 10, 10)
    broker.submit("AAPL", "buy", 1)
    bar(broker, clock, 1, 100, 100, 100, 100)
    broker.submit("MSFT", "buy", 1)                               # pending, not yet filled
    order = broker.submit("SPY", "buy", 1)
    assert order.reason == "rejected: max_open_positions 2 reached (holding AAPL, MSFT)"
    assert broker.submit("AAPL", "buy", 1).status is OrderStatus.NEW   # adding to a held symbol is fine


def test_open_orders_reserve_buying_power() -> None:
    broker, _ = primed(initial_cash=10_000)
    assert broker.submit("AAPL", "buy", 60).status is OrderStatus.NEW
    assert broker.buying_power == pytest.approx(4_000)
    second = broker.submit("AAPL", "buy", 60)
    assert second.reason == "rejected: insufficient buying power (order needs 6000.00, available 4000.00)"
    # The pending buy may never fill, so selling against it could go short.
    third = broker.submit("AAPL", "sell", 10)
    assert third.reason == ("rejected: short selling is not allowed (AAPL could go to -10 shares; "
                            "set trading_config.allow_short to allow it)")


def test_open_sells_count_against_what_is_held() -> None:
    broker, clock = primed()
    broker.submit("AAPL", "buy", 100)
    bar(broker, clock, 1, 100, 100, 100, 100)
    assert broker.submit("AAPL", "sell", 60, "limit", limit_price=120).status is OrderStatus.NEW
    assert broker.submit("AAPL", "sell", 50).reason == (
        "rejected: short selling is not allowed (AAPL could go to -10 shares; "
        "set trading_config.allow_short to allow it)")
    assert broker.submit("AAPL", "sell", 40).status is OrderStatus.NEW


def test_reducing_orders_are_never_refused_by_a_limit() -> None:
    broker, clock = primed(max_per_trade=20_000, max_per_symbol=20_000)
    broker.submit("AAPL", "buy", 150)
    bar(broker, clock, 1, 100, 300, 100, 300)            # the position is now worth 45000
    order = broker.submit("AAPL", "sell", 150)
    assert order.status is OrderStatus.NEW
    assert bar(broker, clock, 2, 300, 300, 300, 300)[0].quantity == 150


def test_short_selling_when_allowed_holds_collateral() -> None:
    broker, clock = primed(allow_short=True, initial_cash=10_000)
    broker.submit("AAPL", "sell", 50)
    bar(broker, clock, 1, 100, 100, 100, 100)
    assert broker.cash == pytest.approx(15_000) and broker.equity == pytest.approx(10_000)
    assert broker.buying_power == pytest.approx(5_000)    # the short's 5000 is held as collateral
    assert broker.submit("AAPL", "sell", 60).reason == (
        "rejected: insufficient buying power (order needs 6000.00, available 5000.00)")


def test_a_fill_the_account_can_no_longer_pay_for_is_cancelled() -> None:
    broker, clock = primed(initial_cash=10_000)
    broker.submit("AAPL", "buy", 99)                       # 9900 at the last price
    assert bar(broker, clock, 1, 110, 110, 110, 110) == []  # gapped up: 10890 > 10000
    [order] = broker.orders()
    assert order.status is OrderStatus.CANCELLED
    assert order.reason == "cancelled: insufficient buying power at the fill (needs 10890.00, available 10000.00)"
    assert broker.cash == 10_000


def test_flatten_submits_closing_orders_and_cancels_the_rest() -> None:
    broker, clock = primed(allow_short=True)
    bar(broker, clock, 0, 50, 50, 50, 50, symbol="MSFT")
    broker.submit("AAPL", "buy", 10)
    broker.submit("MSFT", "sell", 5)
    bar(broker, clock, 1, 100, 100, 100, 100)
    bar(broker, clock, 1, 50, 50, 50, 50, symbol="MSFT")
    resting = broker.submit("AAPL", "buy", 1, "limit", limit_price=1)
    orders = broker.flatten()
    assert [(o.symbol, o.side.value, o.quantity, o.reason) for o in orders] == [
        ("AAPL", "sell", 10, "flatten: end of day"), ("MSFT", "buy", 5, "flatten: end of day")]
    assert {o.id: o.status for o in broker.orders()}[resting.id] is OrderStatus.CANCELLED
    bar(broker, clock, 2, 101, 101, 101, 101)
    bar(broker, clock, 2, 49, 49, 49, 49, symbol="MSFT")
    assert broker.positions() == [] and broker.cash == pytest.approx(100_000 + 10 + 5)


def test_flatten_at_fills_immediately_at_the_given_prices() -> None:
    broker, clock = primed(slippage_bps=10, commission_min=1.0)
    broker.submit("AAPL", "buy", 10)
    bar(broker, clock, 1, 100, 100, 100, 100)
    [fill] = broker.flatten_at({"AAPL": 110.0}, CLOSE)
    assert (fill.side.value, fill.quantity, fill.filled_at) == ("sell", 10, CLOSE)
    assert fill.price == pytest.approx(110 * 0.999)
    assert broker.positions() == [] and broker.position("AAPL").last_price == 110.0
    assert broker.flatten_at({}, CLOSE) == []


def test_drain_changes_returns_each_change_once() -> None:
    broker, clock = primed()
    first = broker.submit("AAPL", "buy", 10)
    second = broker.submit("AAPL", "buy", 10, "limit", limit_price=1)
    orders, fills = broker.drain_changes()
    assert [(o.id, o.status) for o in orders] == [(first.id, OrderStatus.NEW), (second.id, OrderStatus.NEW)]
    assert fills == []
    bar(broker, clock, 1, 100, 100, 100, 100)
    broker.cancel(second.id)
    orders, fills = broker.drain_changes()
    assert [(o.id, o.status) for o in orders] == [(first.id, OrderStatus.FILLED), (second.id, OrderStatus.CANCELLED)]
    assert [f.order_id for f in fills] == [first.id]
    assert broker.drain_changes() == ([], [])
    orders[0].status = OrderStatus.NEW                   # copies: the caller cannot change the broker
    assert broker.orders()[0].status is OrderStatus.FILLED


def test_ids_are_deterministic_and_prefixed() -> None:
    broker = SimulatedBroker(TradingConfig(), Clock(), order_prefix="run7")
    ids = [(o.id, o.client_order_id) for o in (broker.submit("AAPL", "buy", 1) for _ in range(3))]
    assert ids == [(1, "run7-1"), (2, "run7-2"), (3, "run7-3")]


@pytest.mark.parametrize(("args", "message"), [
    (("AAPL", "bye", 1), "side must be buy or sell (got 'bye')"),
    (("AAPL", "buy", 1, "stoplimit"), "order type must be market or limit or stop (got 'stoplimit')"),
    (("AAPL", "buy", 1, "market", None, None, "ioc"), "time in force must be day or gtc (got 'ioc')"),
    (("", "buy", 1), "symbol must be a ticker like AAPL (got '')"),
    (("AAPL", "buy", "10"), "quantity must be a number (got '10')"),
])
def test_malformed_calls_raise_usage_errors(args: tuple, message: str) -> None:
    broker, _ = primed()
    with pytest.raises(UsageError) as info:
        broker.submit(*args)
    assert str(info.value) == message
    assert broker.orders() == []


def test_a_bar_with_nothing_to_fill_only_marks_the_price() -> None:
    broker, _ = make()
    assert broker.process_bar("AAPL", T0, 1, 2, 0.5, 1.5) == []
    assert broker.position("AAPL").last_price == 1.5
    assert broker.drain_changes() == ([], [])


def test_replay_view_lists_exactly_the_symbols_with_open_orders_and_marks_like_process_bar() -> None:
    """The replay skips `process_bar` for a symbol not in the view and marks the close itself."""
    broker, clock = make()
    with_orders, last = broker.replay_view()
    bar(broker, clock, 0, 100.0, 101.0, 99.0, 100.5)
    assert "AAPL" not in with_orders and last["AAPL"] == 100.5
    order = broker.submit("AAPL", "buy", 10)
    assert "AAPL" in with_orders and "MSFT" not in with_orders
    bar(broker, clock, 1, 100.6, 101.0, 99.0, 100.7)
    assert "AAPL" not in with_orders and broker.position("AAPL").quantity == 10   # filled: gone from the view
    resting = broker.submit("MSFT", "buy", 5, order_type="limit", limit_price=1.0)
    assert "MSFT" in with_orders
    broker.cancel(resting.id)
    assert "MSFT" not in with_orders
    assert (with_orders, last) == broker.replay_view() and order.id != resting.id
