"""The `Broker` protocol: what the session engine needs from any broker, simulated or Alpaca's.

The engine drives the simulated broker bar by bar (`process_bar`, `end_of_day`); a live broker
fills on its own and reports through the same `drain_changes`, so both calls are part of the
protocol (a live broker's `process_bar` only marks prices).
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime
from typing import Protocol, runtime_checkable

from mismartera.execution.account import AccountSnapshot, PositionSnapshot
from mismartera.execution.orders import Fill, Order, OrderType, Side, TimeInForce


class _EverySymbol:
    """A container holding every symbol (see `Broker.replay_view`)."""

    def __contains__(self, symbol: object) -> bool:
        return True


EVERY_SYMBOL: Container[str] = _EverySymbol()


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

    def replay_view(self) -> tuple[Container[str], dict[str, float]]:
        """For the per-bar step: the symbols whose bars must go through `process_bar`, and the dict
        a bar's close is written into for any other symbol (all `process_bar` would do for it). A
        broker that wants every bar returns `EVERY_SYMBOL`."""
        ...

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

    def stop(self, timeout: float = 2.0) -> bool:
        """Release connections and threads within `timeout` seconds; True when all stopped."""
        ...

    @property
    def cash(self) -> float: ...

    @property
    def equity(self) -> float: ...

    @property
    def buying_power(self) -> float: ...
