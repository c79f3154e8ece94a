"""The order path's shortcuts change no result: tickers remembered by `submit`, numbers and enum
members taken as they are, an order minute's and a fill bar's instant converted once, and the
context's `buy`/`sell` going straight to the broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mismartera.config.session import TradingConfig
from mismartera.errors import UsageError
from mismartera.execution import OrderStatus, SimulatedBroker
from mismartera.execution.orders import OrderType, Side, TimeInForce
from mismartera.system.strategy_host import EngineContext
from mismartera.timekeeping import SimulatedClock

OPEN = datetime(2024, 11, 26, 14, 30, tzinfo=UTC)
T0 = int(OPEN.timestamp())


def primed(symbols: tuple[str, ...] = ("AAPL",), **trading: Any) -> tuple[SimulatedBroker, SimulatedClock]:
    clock = SimulatedClock(OPEN)
    broker = SimulatedBroker(TradingConfig(**trading), clock)
    for symbol in symbols:
        broker.process_bar(symbol, T0, 10.0, 10.0, 10.0, 10.0)
    clock.set(OPEN + timedelta(minutes=1))
    return broker, clock


def test_a_ticker_is_keyed_the_same_however_often_and_however_spelt() -> None:
    broker, _ = primed()
    placed = [broker.submit(symbol, "buy", 1) for symbol in (" aapl ", " aapl ", "Aapl", "AAPL", " aapl ")]
    assert [o.symbol for o in placed] == ["AAPL"] * 5
    assert [o.id for o in broker.open_orders(" aapl ")] == [o.id for o in placed]
    assert [o.id for o in broker.open_orders("aapl")] == [o.id for o in placed]
    assert broker.open_orders("MSFT") == [] and broker.open_orders(" msft") == []


@pytest.mark.parametrize("symbol", ["", "   ", None, 7])
def test_a_bad_ticker_is_refused_every_time(symbol: object) -> None:
    broker, _ = primed()
    for _ in range(2):   # the second call must not find a remembered ticker
        with pytest.raises(UsageError, match="symbol must be a ticker like AAPL"):
            broker.submit(symbol, "buy", 1)  # type: ignore[arg-type]
    assert broker.orders() == []


def test_a_str_subclass_ticker_is_keyed_as_a_plain_str() -> None:
    class Ticker(str):
        pass

    broker, _ = primed()
    placed = broker.submit(Ticker(" aapl"), "buy", 1)
    assert placed.symbol == "AAPL" and type(placed.symbol) is str
    assert len(broker.open_orders(Ticker("aapl"))) == 1


@pytest.mark.parametrize(("args", "message"), [
    (("AAPL", "buy", True), "quantity must be a number (got True)"),
    (("AAPL", "buy", 1, "limit", False), "limit price must be a number (got False)"),
    (("AAPL", "buy", 1, "limit", "9"), "limit price must be a number (got '9')"),
    (("AAPL", "buy", 1, "stop", None, "11"), "stop price must be a number (got '11')"),
    (("", "bye", "x"), "symbol must be a ticker like AAPL (got '')"),        # the first problem is named
    (("AAPL", "bye", "x"), "quantity must be a number (got 'x')"),
    (("AAPL", "bye", 1, "stoplimit", None, None, "ioc"), "side must be buy or sell (got 'bye')"),
    (("AAPL", "buy", 1, "stoplimit", None, None, "ioc"),
     "order type must be market or limit or stop (got 'stoplimit')"),
])
def test_malformed_calls_name_the_first_problem(args: tuple, message: str) -> None:
    broker, _ = primed()
    with pytest.raises(UsageError) as info:
        broker.submit(*args)
    assert str(info.value) == message
    assert broker.orders() == []


def test_ints_and_float_subclasses_are_stored_as_floats() -> None:
    class Price(float):
        pass

    broker, _ = primed()
    limit = broker.submit("AAPL", "buy", 3, "limit", 9)
    stop = broker.submit("AAPL", "sell", Price(2.0), "stop", None, Price(8.5), "gtc")
    assert (limit.quantity, limit.limit_price) == (3.0, 9.0)
    assert type(limit.quantity) is float and type(limit.limit_price) is float
    assert (stop.quantity, stop.stop_price) == (2.0, 8.5)
    assert type(stop.quantity) is float and type(stop.stop_price) is float


def test_enum_members_and_their_names_make_the_same_order() -> None:
    by_name, _ = primed()
    by_member, _ = primed()
    a = by_name.submit("AAPL", "buy", 5, "limit", 9.5, None, "gtc", "s")
    b = by_member.submit("AAPL", Side.BUY, 5, OrderType.LIMIT, 9.5, None, TimeInForce.GTC, "s")
    assert a == b
    assert (a.side, a.order_type, a.time_in_force) == (Side.BUY, OrderType.LIMIT, TimeInForce.GTC)


def test_a_well_formed_market_order_is_still_checked_for_the_rest() -> None:
    broker, _ = primed()
    for quantity, reason in [(0, "rejected: quantity must be > 0 (got 0)"),
                             (float("nan"), "rejected: quantity must be > 0 (got nan)"),
                             (float("inf"), "rejected: quantity must be > 0 (got inf)")]:
        assert broker.submit("AAPL", "buy", quantity).reason == reason
    assert broker.submit("AAPL", "buy", 1, "market", 9.0).reason == (
        "rejected: a market order takes no limit or stop price")
    assert broker.submit("MSFT", "buy", 1).reason == (
        "rejected: no price for MSFT yet (a market order needs one bar of it first)")


def test_orders_placed_at_later_instants_wait_for_a_later_bar() -> None:
    """The order time is converted once per clock instant: a new instant must be converted anew."""
    broker, clock = primed()
    first = broker.submit("AAPL", "buy", 1)           # placed at T0 + 60
    clock.set(OPEN + timedelta(minutes=2))
    second = broker.submit("AAPL", "buy", 1)          # placed at T0 + 120
    fills = broker.process_bar("AAPL", T0 + 60, 10.0, 10.0, 10.0, 10.0)
    assert [f.order_id for f in fills] == [first.id]
    fills = broker.process_bar("AAPL", T0 + 120, 10.0, 10.0, 10.0, 10.0)
    assert [f.order_id for f in fills] == [second.id]


def test_each_fill_is_stamped_with_its_own_bars_start() -> None:
    broker, clock = primed(("AAPL", "MSFT"))
    stamps = []
    for minute in range(1, 4):
        clock.set(OPEN + timedelta(minutes=minute))
        for symbol in ("AAPL", "MSFT"):
            broker.submit(symbol, "buy", 1)
        for symbol in ("AAPL", "MSFT"):
            [fill] = broker.process_bar(symbol, T0 + 60 * minute, 10.0, 10.0, 10.0, 10.0)
            stamps.append((symbol, fill.filled_at))
            assert broker.orders()[-1 if symbol == "MSFT" else -2].updated_at == fill.filled_at
    assert stamps == [(symbol, OPEN + timedelta(minutes=minute))
                      for minute in range(1, 4) for symbol in ("AAPL", "MSFT")]


def test_what_a_strategy_gets_back_cannot_change_the_broker() -> None:
    broker, _ = primed()
    placed = broker.submit("AAPL", "buy", 1)
    placed.quantity, placed.status = 1000.0, OrderStatus.CANCELLED
    [resting] = broker.open_orders("AAPL")
    resting.quantity = 500.0
    [kept] = broker.open_orders("AAPL")
    assert (kept.quantity, kept.status) == (1.0, OrderStatus.NEW)
    changed, _ = broker.drain_changes()
    changed[0].quantity = 7.0
    assert broker.orders()[0].quantity == 1.0


def context(broker: SimulatedBroker, clock: SimulatedClock) -> EngineContext:
    return EngineContext("mine", ["AAPL"], None, broker, clock, {})  # type: ignore[arg-type]


@pytest.mark.parametrize(("prices", "kind"), [
    ({}, OrderType.MARKET),
    ({"limit": 9.0}, OrderType.LIMIT),
    ({"stop": 11.0}, OrderType.STOP),
    ({"limit": 9.0, "stop": 11.0}, OrderType.LIMIT),   # rejected as stop-limit, as through order()
])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_buy_and_sell_place_what_order_places(side: str, prices: dict[str, float], kind: OrderType) -> None:
    direct_broker, direct_clock = primed(allow_short=True)
    routed_broker, routed_clock = primed(allow_short=True)
    direct = getattr(context(direct_broker, direct_clock), side)("AAPL", 2, tif="gtc", **prices)
    routed = context(routed_broker, routed_clock).order("AAPL", side, 2, tif="gtc", **prices)
    assert direct == routed
    assert (direct.order_type, direct.strategy, direct.time_in_force) == (kind, "mine", TimeInForce.GTC)


@pytest.mark.parametrize("call", ["buy", "sell"])
def test_buy_and_sell_refuse_a_bad_time_in_force_as_order_does(call: str) -> None:
    broker, clock = primed()
    with pytest.raises(UsageError, match=r"^time in force 'ioc' is not valid \(expected day or gtc\)$"):
        getattr(context(broker, clock), call)("AAPL", 1, tif="ioc")
    with pytest.raises(UsageError, match=r"^time in force 'ioc' is not valid \(expected day or gtc\)$"):
        context(broker, clock).order("AAPL", "bye", 1, tif="ioc")   # checked before the side
    assert broker.orders() == []


def test_a_rejected_order_is_logged_with_its_side(caplog: pytest.LogCaptureFixture) -> None:
    # at DEBUG: the log file's INFO lines summarise rejections once per reason per day (issue 12)
    broker, clock = primed()
    with caplog.at_level("DEBUG", logger="mismartera.strategy.mine"):
        placed = context(broker, clock).sell("AAPL", 5)
    assert placed.status is OrderStatus.REJECTED
    assert caplog.messages == [f"order sell AAPL 5 {placed.reason}"]


def test_open_orders_that_net_to_zero_can_still_be_closed() -> None:
    """Regression: the symbol's pending quantity was dropped when its open orders netted to zero,
    and closing one of the orders still open then raised KeyError (found while timing issue 7)."""
    broker, _ = primed(allow_short=True)
    buy = broker.submit("AAPL", "buy", 5, "limit", 1.0, None, "gtc")
    sell = broker.submit("AAPL", "sell", 5, "limit", 100.0, None, "gtc")
    extra = broker.submit("AAPL", "buy", 3, "limit", 1.0, None, "gtc")
    broker.cancel(extra.id)                      # the open orders now net to zero
    assert broker.cancel(buy.id).status is OrderStatus.CANCELLED
    [fill] = broker.process_bar("AAPL", T0 + 60, 101.0, 101.0, 101.0, 101.0)
    assert (fill.order_id, fill.price) == (sell.id, 101.0)
    assert broker.open_orders() == [] and broker.position("AAPL").quantity == -5.0
    assert broker.submit("AAPL", "buy", 5).status is OrderStatus.NEW   # a cover is checked as usual
