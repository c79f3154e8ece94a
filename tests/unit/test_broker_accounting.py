"""Random order flows through SimulatedBroker keep the books consistent."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mismartera.config.session import TradingConfig
from mismartera.execution import OrderStatus, SimulatedBroker

T0 = int(datetime(2024, 11, 26, 14, 30, tzinfo=UTC).timestamp())


class Clock:
    def __init__(self) -> None:
        self.at = datetime.fromtimestamp(T0, UTC)

    def now(self) -> datetime:
        return self.at


order_kinds = st.sampled_from(["market", "limit", "stop"])
steps = st.lists(st.tuples(st.sampled_from(["AAPL", "MSFT"]), st.sampled_from(["buy", "sell"]),
                           st.integers(min_value=1, max_value=400), order_kinds,
                           st.floats(min_value=-0.05, max_value=0.05),
                           st.floats(min_value=50.0, max_value=150.0)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(steps, st.booleans(), st.sampled_from([0.0, 0.01]), st.sampled_from([0.0, 25.0]))
def test_books_balance_after_any_order_flow(flow: list[tuple], allow_short: bool, per_share: float,
                                            slippage_bps: float) -> None:
    trading = TradingConfig(initial_cash=50_000, allow_short=allow_short, commission_per_share=per_share,
                            commission_min=1.0 if per_share else 0.0, slippage_bps=slippage_bps)
    clock = Clock()
    broker = SimulatedBroker(trading, clock)
    for symbol in ("AAPL", "MSFT"):
        broker.process_bar(symbol, T0, 100, 100, 100, 100)
    drained_orders: dict[int, OrderStatus] = {}
    drained_fills = []
    for i, (symbol, side, qty, kind, offset, price) in enumerate(flow, start=1):
        clock.at = datetime.fromtimestamp(T0 + 60 * i, UTC)
        level = broker.position(symbol).last_price or 100.0
        broker.submit(symbol, side, qty, kind,
                      limit_price=level * (1 + offset) if kind == "limit" else None,
                      stop_price=level * (1 + offset) if kind == "stop" else None)
        broker.process_bar(symbol, T0 + 60 * i, price, price * 1.01, price * 0.99, price)
        orders, fills = broker.drain_changes()
        drained_orders.update((o.id, o.status) for o in orders)
        drained_fills.extend(fills)
        account = broker.account()
        assert math.isclose(account.initial_cash + account.realized_pnl + account.unrealized_pnl, account.equity,
                            rel_tol=1e-9, abs_tol=1e-6)
        if not allow_short:
            assert broker.cash >= -1e-6
            assert all(p.quantity > 0 for p in account.positions)
    fills = broker.fills()
    assert fills == drained_fills
    assert drained_orders == {o.id: o.status for o in broker.orders()}
    for symbol in ("AAPL", "MSFT"):
        net = sum(f.quantity if f.side == "buy" else -f.quantity for f in fills if f.symbol == symbol)
        assert math.isclose(broker.position(symbol).quantity, net, abs_tol=1e-9)
    spent = math.fsum((f.quantity * f.price if f.side == "buy" else -f.quantity * f.price) + f.commission
                      for f in fills)
    assert math.isclose(broker.cash, 50_000 - spent, rel_tol=1e-12, abs_tol=1e-6)
    assert [o.id for o in broker.orders()] == list(range(1, len(flow) + 1))
