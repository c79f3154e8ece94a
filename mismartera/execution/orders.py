"""Orders and fills as every broker (simulated, Alpaca paper) reports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class TimeInForce(StrEnum):
    DAY = "day"   # cancelled at the close of the session it was placed in (placed at/after the close: the next)
    GTC = "gtc"   # good till cancelled


class OrderStatus(StrEnum):
    NEW = "new"                    # accepted, waiting for a bar that fills it
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"            # a DAY order not filled by the close
    REJECTED = "rejected"          # refused by a risk limit or the broker; `reason` says why

    @property
    def open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass(slots=True)
class Order:
    """An order. Mutable inside the broker that owns it; everyone else gets copies or views."""

    id: int
    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    order_type: OrderType
    time_in_force: TimeInForce
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    limit_price: float | None = None
    stop_price: float | None = None
    filled_quantity: float = 0.0
    average_fill_price: float | None = None
    strategy: str | None = None
    reason: str | None = None
    broker_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: int
    symbol: str
    side: Side
    quantity: float
    price: float
    commission: float
    filled_at: datetime
