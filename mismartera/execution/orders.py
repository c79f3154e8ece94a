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
    PENDING_NEW = "pending_new"    # placed by the engine, not yet confirmed by the broker (being sent)
    NEW = "new"                    # accepted, waiting for a bar that fills it
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"            # a DAY order not filled by the close
    REJECTED = "rejected"          # refused by a risk limit or the broker; `reason` says why
    UNKNOWN = "unknown"            # sent, but the broker's answer was lost (timeout, reset): it may exist

    @property
    def open(self) -> bool:
        """Still able to fill (an unknown order may exist at the broker, so it counts as open)."""
        return self in _OPEN

    @property
    def final(self) -> bool:
        return self in _FINAL


_OPEN = frozenset((OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN))
_FINAL = frozenset((OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED))


# The statuses of an order that may still fill, and what `account orders --status` (and its completion)
# accepts: "open" for those, or one status.
OPEN_ORDER_STATUSES = tuple(status.value for status in OrderStatus if status.open)
FINAL_ORDER_STATUSES = tuple(status.value for status in OrderStatus if not status.open)
ORDER_STATUS_FILTERS = ("open", *(status.value for status in OrderStatus))


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

    def copy(self) -> Order:
        """A field-for-field copy (what the broker hands out). Written out rather than
        `dataclasses.replace`, which costs several times as much, and the simulated broker copies
        every order it reports; tests check that no field is missed."""
        return Order(self.id, self.client_order_id, self.symbol, self.side, self.quantity, self.order_type,
                     self.time_in_force, self.status, self.created_at, self.updated_at, self.limit_price,
                     self.stop_price, self.filled_quantity, self.average_fill_price, self.strategy, self.reason,
                     self.broker_order_id)


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: int
    symbol: str
    side: Side
    quantity: float
    price: float
    commission: float
    filled_at: datetime
