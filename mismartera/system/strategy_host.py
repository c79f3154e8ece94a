"""The engine's side of the strategy interface: `EngineContext` (what `ctx` is) and `StrategySlot`
(a loaded strategy with its context, symbols and enabled flag).

The context is narrow on purpose: strategies read bars, indicators, positions, cash and the clock,
and place or cancel orders; they never touch the broker or the database.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from mismartera.bars import Bar, Quote, Trade
from mismartera.errors import UsageError
from mismartera.execution.broker import Broker
from mismartera.execution.orders import Order, OrderStatus, OrderType, Side, TimeInForce
from mismartera.strategies.base import Strategy
from mismartera.system.session_data import SessionData
from mismartera.timekeeping.clock import Clock

TIFS = {"day": TimeInForce.DAY, "gtc": TimeInForce.GTC}
# Looked up rather than built with `Side(side)` / `OrderType(kind)`: an enum call costs more than the
# dict lookup, and a backtest places tens of thousands of orders.
SIDES = {"buy": Side.BUY, "sell": Side.SELL}
KINDS = {"market": OrderType.MARKET, "limit": OrderType.LIMIT, "stop": OrderType.STOP}


def _time_in_force(tif: str) -> TimeInForce:
    time_in_force = TIFS.get(tif) if isinstance(tif, str) else None
    if time_in_force is None:
        raise UsageError(f"time in force {tif!r} is not valid (expected day or gtc)")
    return time_in_force


def _plain_kind(limit: float | None, stop: float | None) -> OrderType:
    """The type of a `buy`/`sell`: limit when a limit price is given, else stop when a stop price is."""
    if limit is not None:
        return OrderType.LIMIT
    return OrderType.STOP if stop is not None else OrderType.MARKET


_INF = float("inf")


def _finite_prices(limit: float | None, stop: float | None) -> bool:
    return all(-_INF < price < _INF for price in (limit, stop) if price is not None)


def _not_finite(side: Side, symbol: str, quantity: float, limit: float | None, stop: float | None) -> str:
    for name, value in (("quantity", quantity), ("limit", limit), ("stop", stop)):
        if value is not None and not -_INF < value < _INF:
            return f"{side.value} {symbol}: {name} {value} is not a finite number (expected a finite number)"
    return f"{side.value} {symbol}: not a finite number"


class EngineContext:
    """`ctx` of one strategy. Runs on the coordinator's thread only."""

    def __init__(self, label: str, symbols: list[str], data: SessionData, broker: Broker, clock: Clock,
                 held: dict[str, float]) -> None:
        self.label = label
        self.symbols = symbols
        self.data = data
        self._broker = broker
        self._clock = clock
        self._held = held
        self.log = logging.getLogger(f"mismartera.strategy.{label}")

    @property
    def now(self) -> datetime:
        return self._clock.now()

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def cash(self) -> float:
        return self._broker.cash

    @property
    def equity(self) -> float:
        return self._broker.equity

    def bars(self, symbol: str, interval: str = "1m", count: int | None = None) -> list[Bar]:
        return self.data.bars(symbol, interval, count)

    def indicator(self, symbol: str, kind: str, interval: str = "1m", **params: Any) -> Any:
        return self.data.indicator(symbol, kind, interval, **params)

    def quote(self, symbol: str) -> Quote | None:
        return self.data.quote(symbol)

    def last_trade(self, symbol: str) -> Trade | None:
        return self.data.last_trade(symbol)

    def position(self, symbol: str) -> float:
        """Shares held (negative when short), 0 when flat."""
        return self._held.get(symbol, 0.0)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self._broker.open_orders(symbol)

    def order(self, symbol: str, side: str, quantity: float, *, order_type: str = "market",
              limit: float | None = None, stop: float | None = None, tif: str = "day") -> Order:
        time_in_force = _time_in_force(tif)
        chosen_side = SIDES.get(side) if isinstance(side, str) else None
        if chosen_side is None:
            raise UsageError(f"side {side!r} is not valid (expected buy or sell)")
        kind = KINDS.get(order_type) if isinstance(order_type, str) else None
        if kind is None:
            raise UsageError(f"order type {order_type!r} is not valid (expected market, limit or stop)")
        if kind is OrderType.MARKET:   # a price given with a market order makes it a limit or stop order
            kind = _plain_kind(limit, stop)
        return self._place(symbol, chosen_side, quantity, kind, limit, stop, time_in_force)

    # `buy` and `sell` are `order` with the side given: they skip its lookups of side and type.
    def buy(self, symbol: str, quantity: float, *, limit: float | None = None, stop: float | None = None,
            tif: str = "day") -> Order:
        return self._place(symbol, Side.BUY, quantity, _plain_kind(limit, stop), limit, stop, _time_in_force(tif))

    def sell(self, symbol: str, quantity: float, *, limit: float | None = None, stop: float | None = None,
             tif: str = "day") -> Order:
        return self._place(symbol, Side.SELL, quantity, _plain_kind(limit, stop), limit, stop, _time_in_force(tif))

    def _place(self, symbol: str, side: Side, quantity: float, kind: OrderType, limit: float | None,
               stop: float | None, time_in_force: TimeInForce) -> Order:
        # NaN and infinities cannot be stored (SQLite keeps NaN as NULL): refused here, one comparison
        # for the usual order (NaN fails it too).
        priced = limit is not None or stop is not None
        if not -_INF < quantity < _INF or (priced and not _finite_prices(limit, stop)):
            raise UsageError(_not_finite(side, symbol, quantity, limit, stop))
        # Positional, in the order of `Broker.submit`'s parameters (cheaper than keywords).
        placed = self._broker.submit(symbol, side, quantity, kind, limit, stop, time_in_force, self.label)
        if placed.status is OrderStatus.REJECTED:   # summarised by reason once a day (RejectionTally)
            self.log.debug("order %s %s %g %s", side.value, symbol, quantity, placed.reason)
        return placed

    def cancel(self, order_id: int) -> bool:
        return bool(self._broker.cancel(order_id))


class StrategySlot:
    """A strategy, its context and whether it still runs (a raising strategy is disabled)."""

    __slots__ = ("ctx", "enabled", "error", "label", "on_error", "strategy", "symbols")

    def __init__(self, strategy: Strategy, ctx: EngineContext, symbols: list[str], on_error: str) -> None:
        self.strategy = strategy
        self.ctx = ctx
        self.symbols = symbols
        self.on_error = on_error
        self.label = ctx.label
        self.enabled = True
        self.error: str | None = None
