"""The `Broker` protocol: what the session engine needs from any broker, simulated or Alpaca's.

The engine drives the simulated broker bar by bar (`process_bar`, `end_of_day`); a live broker
fills on its own and reports through the same `drain_changes`, so both calls are part of the
protocol (a live broker's `process_bar` only marks prices).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from mismartera.execution.account import AccountSnapshot, PositionSnapshot
from mismartera.execution.orders import Fill, Order, OrderType, Side, TimeInForce


@runtime_checkable
class Broker(Protocol):
    initial_cash: float

    def submit(self, symbol: str, side: Side | str, quantity: float, order_type: OrderType | str = "market",
               limit_price: float | None = None, stop_price: float | None = None,
               time_in_force: TimeInForce | str = "day", strategy: str | None = None) -> Order:
        """Place an order; a refused one comes back REJECTED with its reason."""
        ...

    def cancel(self, order_id: int) -> Order: ...

    def process_bar(self, symbol: str, ts: int, open: float, high: float, low: float,
                    close: float) -> list[Fill]: ...

    def mark(self, symbol: str, price: float) -> None: ...

    def end_of_day(self, close: datetime) -> list[Order]: ...

    def flatten(self, reason: str = "end of day") -> list[Order]: ...

    def flatten_at(self, prices: dict[str, float], at: datetime, reason: str = "end of day") -> list[Fill]: ...

    def position(self, symbol: str) -> PositionSnapshot: ...

    def positions(self) -> list[PositionSnapshot]: ...

    def account(self) -> AccountSnapshot: ...

    def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    def orders(self) -> list[Order]: ...

    def fills(self) -> list[Fill]: ...

    def drain_changes(self) -> tuple[list[Order], list[Fill]]: ...

    @property
    def cash(self) -> float: ...

    @property
    def equity(self) -> float: ...

    @property
    def buying_power(self) -> float: ...
