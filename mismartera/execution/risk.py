"""Pre-trade checks: is the order well formed, and do `trading_config`'s limits allow it?

Every check returns the rejection reason as the user will read it (`rejected: …`), or None. A
rejected order is still an order: it gets an id, is stored, and shows its reason in
`account orders`. Limits apply only to orders that open or add to exposure; an order that only
reduces a position is never refused by a limit, so a strategy can always get out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

from mismartera.config.session import TradingConfig
from mismartera.execution.account import EPSILON
from mismartera.execution.orders import OrderType


def amount(value: float) -> str:
    """A limit as the user wrote it: 10000 not 10000.0 (and never 1e+06)."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def order_problem(order_type: OrderType, quantity: float, limit_price: float | None,
                  stop_price: float | None) -> str | None:
    """What is wrong with the order's own fields, whatever the account holds."""
    if not math.isfinite(quantity) or quantity <= 0:
        return f"rejected: quantity must be > 0 (got {quantity:g})"
    for name, price in (("limit", limit_price), ("stop", stop_price)):
        if price is not None and (not math.isfinite(price) or price <= 0):
            return f"rejected: {name} price must be > 0 (got {price:g})"
    if order_type is OrderType.MARKET and (limit_price is not None or stop_price is not None):
        return "rejected: a market order takes no limit or stop price"
    if order_type is OrderType.LIMIT:
        if limit_price is None:
            return "rejected: a limit order needs a limit price"
        if stop_price is not None:
            return "rejected: stop-limit orders are not supported (give a limit or a stop price, not both)"
    if order_type is OrderType.STOP:
        if stop_price is None:
            return "rejected: a stop order needs a stop price"
        if limit_price is not None:
            return "rejected: stop-limit orders are not supported (give a limit or a stop price, not both)"
    return None


class RiskLimits:
    """The limits of one session's `trading_config`."""

    def __init__(self, trading: TradingConfig) -> None:
        self.trading = trading

    def check(self, *, symbol: str, quantity: float, price: float, before: float, after: float,
              commission: float, holding: Collection[str] | Callable[[], Collection[str]],
              buying_power: float | Callable[[], float], lowest: float | None = None) -> str | None:
        """Check an order of `quantity` shares valued at `price` each.

        Args:
            before, after: the symbol's signed position, counting open orders, without and with this one.
            lowest: the position if this order and every open sell filled but no open buy did
                (open buys may never fill, so this decides whether a sell could go short);
                defaults to `after`.
            commission: what the order would pay, reserved with its value.
            holding: symbols with a position or open orders, not counting this order.
            buying_power: what is left to open positions with (see `SimulatedBroker.buying_power`).

        `holding` and `buying_power` may be given as functions: they are then called only when a
        check needs them (most orders in a backtest close positions, and a limit that is not set
        needs no holdings), which saves a broker recomputing them for every order.
        """
        t = self.trading
        lowest = after if lowest is None else lowest
        if not t.allow_short and lowest < -EPSILON:
            return (f"rejected: short selling is not allowed ({symbol} could go to {lowest:g} shares; "
                    f"set trading_config.allow_short to allow it)")
        opened = abs(after) if before * after < 0 else abs(after) - abs(before)
        if opened <= EPSILON:
            return None
        value = quantity * price
        if t.max_per_trade is not None and value > t.max_per_trade:
            return f"rejected: max_per_trade {amount(t.max_per_trade)} exceeded (order {value:.2f})"
        exposure = abs(after) * price
        if t.max_per_symbol is not None and exposure > t.max_per_symbol:
            return (f"rejected: max_per_symbol {amount(t.max_per_symbol)} exceeded "
                    f"({symbol} position would be {exposure:.2f})")
        if t.max_open_positions is not None and abs(before) <= EPSILON:
            held = holding() if callable(holding) else holding
            if symbol not in held and len(held) >= t.max_open_positions:
                return (f"rejected: max_open_positions {t.max_open_positions} reached "
                        f"(holding {', '.join(sorted(held))})")
        needed = max(0.0, abs(after) - abs(before)) * price + commission
        if callable(buying_power):
            buying_power = buying_power()
        if needed > buying_power + 1e-6:
            return f"rejected: insufficient buying power (order needs {needed:.2f}, available {buying_power:.2f})"
        return None
