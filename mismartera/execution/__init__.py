"""Orders, fills, the `Broker` protocol, the simulated broker and its risk limits."""

from mismartera.execution.account import AccountSnapshot, Position, PositionSnapshot
from mismartera.execution.broker import Broker
from mismartera.execution.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.execution.risk import RiskLimits, order_problem
from mismartera.execution.simulated import SimulatedBroker, fill_price

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
