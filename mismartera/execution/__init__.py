"""Orders, fills, the `Broker` protocol, the simulated broker and its risk limits.

The names are loaded on first use (PEP 562), so a module that needs only the account snapshots
(`mismartera.execution.account`, e.g. through the status contract) does not pull in the simulated
broker and, through its risk limits, the session-config model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mismartera.execution.account import AccountSnapshot, Position, PositionSnapshot
    from mismartera.execution.broker import Broker
    from mismartera.execution.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
    from mismartera.execution.risk import RiskLimits, order_problem
    from mismartera.execution.simulated import SimulatedBroker, fill_price

_WHERE = {
    "AccountSnapshot": "account", "Position": "account", "PositionSnapshot": "account",
    "Broker": "broker",
    "Fill": "orders", "Order": "orders", "OrderStatus": "orders", "OrderType": "orders", "Side": "orders",
    "TimeInForce": "orders",
    "RiskLimits": "risk", "order_problem": "risk",
    "SimulatedBroker": "simulated", "fill_price": "simulated",
}

__all__ = [
    "AccountSnapshot",
    "Broker",
    "Fill",
    "Order",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionSnapshot",
    "RiskLimits",
    "Side",
    "SimulatedBroker",
    "TimeInForce",
    "fill_price",
    "order_problem",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
