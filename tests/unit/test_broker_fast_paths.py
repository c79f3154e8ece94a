"""The simulated broker's shortcuts (issue 7) change no result: order copies miss no field, the risk
limits ask for holdings and buying power only when a check needs them, and equity and buying power
that skip flat positions equal the plain sums over every position."""

from __future__ import annotations

import math
import random
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from mismartera.config.session import TradingConfig
from mismartera.errors import NotFound, StateError, UsageError
from mismartera.execution import OrderStatus, SimulatedBroker
from mismartera.execution.orders import Order, OrderType, Side, TimeInForce
from mismartera.execution.risk import RiskLimits

OPEN = datetime(2024, 11, 26, 14, 30, tzinfo=UTC)
T0 = int(OPEN.timestamp())


class Clock:
    def __init__(self) -> None:
        self.at = OPEN

    def now(self) -> datetime:
        return self.at


def test_order_copy_copies_every_field() -> None:
    order = Order(7, "sim-7", "AAPL", Side.SELL, 12.0, OrderType.LIMIT, TimeInForce.GTC, OrderStatus.FILLED,
                  OPEN, datetime(2024, 11, 27, tzinfo=UTC), 101.5, 99.0, 12.0, 101.25, "mine", "why", "b-7")
    copy = order.copy()
    assert copy is not order
    for field in fields(Order):
        # every field holds a value other than its default, so a field the copy forgot would show
        assert getattr(order, field.name) != field.default, field.name
        assert getattr(copy, field.name) == getattr(order, field.name), field.name
    copy.status = OrderStatus.CANCELLED
    assert order.status is OrderStatus.FILLED


def _never() -> float:
    raise AssertionError("asked although the check does not need it")


def test_a_closing_order_never_asks_for_buying_power_or_holdings() -> None:
    limits = RiskLimits(TradingConfig(max_open_positions=1))
    assert limits.check(symbol="AAPL", quantity=100, price=10.0, before=100, after=0, commission=0.0,
                        holding=_never, buying_power=_never) is None


def test_an_opening_order_asks_for_them_and_decides_as_with_values() -> None:
    asked: list[str] = []

    def holding() -> set[str]:
        asked.append("holding")
        return {"MSFT"}

    def power() -> float:
        asked.append("buying_power")
        return 500.0

    limits = RiskLimits(TradingConfig(max_open_positions=1))
    reason = limits.check(symbol="AAPL", quantity=10, price=10.0, before=0, after=10, commission=0.0,
                          holding=holding, buying_power=power)
    assert reason == "rejected: max_open_positions 1 reached (holding MSFT)"
    assert asked == ["holding"]
    roomy = RiskLimits(TradingConfig())
    assert roomy.check(symbol="AAPL", quantity=100, price=10.0, before=0, after=100, commission=0.0,
                       holding=_never, buying_power=power) == (
        "rejected: insufficient buying power (order needs 1000.00, available 500.00)")
    assert roomy.check(symbol="AAPL", quantity=10, price=10.0, before=0, after=10, commission=0.0,
                       holding=set(), buying_power=500.0) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equity_and_buying_power_equal_the_sums_over_every_position(seed: int) -> None:
    """Symbols go flat and open again; the figures must match the plain sums at every step."""
    rng = random.Random(seed)
    clock = Clock()
    broker = SimulatedBroker(TradingConfig(initial_cash=50_000, allow_short=True), clock)
    symbols = ["AAA", "BBB", "CCC", "DDD"]
    prices = dict.fromkeys(symbols, 20.0)
    flat_seen = 0
    for minute in range(400):
        ts = T0 + 60 * minute
        for symbol in symbols:
            prices[symbol] = round(max(1.0, prices[symbol] + rng.choice((-0.1, 0.0, 0.1))), 2)
            p = prices[symbol]
            broker.process_bar(symbol, ts, p, p + 0.05, p - 0.05, p)
        clock.at = datetime.fromtimestamp(ts + 60, UTC)
        symbol = rng.choice(symbols)
        held = broker.position(symbol).quantity
        if not broker.open_orders(symbol):
            if held and rng.random() < 0.5:
                broker.submit(symbol, "sell" if held > 0 else "buy", abs(held))
            else:
                broker.submit(symbol, rng.choice(("buy", "sell")), rng.choice((10, 25, 40)))
        every = list(broker._positions.values())
        flat_seen += sum(1 for p in every if p.quantity == 0.0)
        marks = [p.quantity * broker._last.get(p.symbol, p.average_price) for p in every]
        equity = broker.cash + math.fsum(marks)
        gross = math.fsum(abs(p.quantity) * broker._last.get(p.symbol, p.average_price) for p in every)
        reserved = math.fsum(broker._reserved.values())
        assert broker.equity == equity
        assert broker.buying_power == max(0.0, equity - gross - reserved)
        assert [p.symbol for p in broker.positions()] == sorted(p.symbol for p in every if p.quantity != 0.0)
    assert flat_seen > 0   # the flow did close positions, so the skipped ones were exercised


def _trade(broker: SimulatedBroker, clock: Clock, rounds: int) -> None:
    """Buy then sell 10 AAPL, `rounds` times, one bar each; plus one rejected order a round."""
    for n in range(rounds):
        for side in ("buy", "sell"):
            ts = T0 + 60 * (2 * n + (side == "sell"))
            broker.process_bar("AAPL", ts, 10.0, 10.0, 10.0, 10.0)
            clock.at = datetime.fromtimestamp(ts + 60, UTC)
            broker.submit("AAPL", side, 10)
        broker.submit("AAPL", "buy", -1)   # rejected: quantity must be > 0
    broker.process_bar("AAPL", T0 + 60 * 2 * rounds, 10.0, 10.0, 10.0, 10.0)


def test_a_history_bound_keeps_the_latest_final_orders_and_fills_only() -> None:
    clock = Clock()
    broker = SimulatedBroker(TradingConfig(), clock, history=5)
    _trade(broker, clock, 20)
    drained, fills = broker.drain_changes()
    assert len(drained) == 60 and len(fills) == 40          # everything is still handed over once
    assert [o.id for o in broker.orders()] == [56, 57, 58, 59, 60]
    assert [f.order_id for f in broker.fills()] == [53, 55, 56, 58, 59]
    assert broker.position("AAPL").quantity == 0.0 and broker.cash == 100_000.0
    with pytest.raises(StateError, match="cannot cancel order 3: it is already final"):
        broker.cancel(3)
    with pytest.raises(NotFound, match="order 61 not found"):
        broker.cancel(61)


def test_open_orders_are_kept_whatever_the_bound() -> None:
    clock = Clock()
    broker = SimulatedBroker(TradingConfig(), clock, history=0)
    _trade(broker, clock, 3)
    resting = broker.submit("AAPL", "buy", 10, order_type="limit", limit_price=1.0, time_in_force="gtc")
    _trade(broker, clock, 3)
    assert [o.id for o in broker.orders()] == [resting.id]
    assert broker.fills() == []
    assert broker.cancel(resting.id).status is OrderStatus.CANCELLED
    broker.submit("AAPL", "buy", 10)
    broker.process_bar("AAPL", T0 + 600, 10.0, 10.0, 10.0, 10.0)
    [closing] = broker.flatten_at({"AAPL": 11.0}, clock.at)   # its order is final at once: still fine
    assert (closing.side, closing.quantity, closing.price) == ("sell", 10.0, 11.0)
    assert broker.position("AAPL").quantity == 0.0 and broker.orders() == []


def test_no_bound_keeps_the_whole_session() -> None:
    clock = Clock()
    broker = SimulatedBroker(TradingConfig(), clock)
    _trade(broker, clock, 20)
    assert len(broker.orders()) == 60 and len(broker.fills()) == 40


@pytest.mark.parametrize("history", [-1, 1.5, True, "5"])
def test_a_bad_history_bound_is_a_usage_error(history: object) -> None:
    with pytest.raises(UsageError, match="history must be a whole number >= 0 or None"):
        SimulatedBroker(TradingConfig(), Clock(), history=history)
