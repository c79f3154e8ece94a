"""The strategy interface: a `Strategy` subclass and the narrow `StrategyContext` it is given.

A strategy instance lives for the whole session (its state and indicators carry across days unless
it resets them in `on_day_end`). The engine calls, on its own thread:

    on_start(ctx)        once, before the first bar (register indicators here)
    on_bar(ctx, bar)     for each 1m bar of the strategy's symbols, at the bar's end
    on_day_end(ctx)      after the day's last bar, before an optional flatten
    on_stop(ctx)         once, when the session ends or is stopped

Strategies never see the broker: `ctx` offers bars, indicators, positions, cash, the clock, orders
(`buy`/`sell`/`order`/`cancel`) and a logger, and nothing else.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, ClassVar, Protocol

from mismartera.bars import Bar
from mismartera.errors import ConfigError
from mismartera.suggest import suffix


class StrategyContext(Protocol):
    """What a strategy may see and do (implemented by the engine)."""

    symbols: list[str]
    log: logging.Logger

    @property
    def now(self) -> datetime: ...

    @property
    def cash(self) -> float: ...

    @property
    def equity(self) -> float: ...

    def bars(self, symbol: str, interval: str = "1m", count: int | None = None) -> list[Bar]: ...

    def indicator(self, symbol: str, kind: str, interval: str = "1m", **params: Any) -> Any: ...

    def position(self, symbol: str) -> float: ...

    def open_orders(self, symbol: str | None = None) -> list[Any]: ...

    def buy(self, symbol: str, quantity: float, *, limit: float | None = None, stop: float | None = None,
            tif: str = "day") -> Any: ...

    def sell(self, symbol: str, quantity: float, *, limit: float | None = None, stop: float | None = None,
             tif: str = "day") -> Any: ...

    def order(self, symbol: str, side: str, quantity: float, *, order_type: str = "market",
              limit: float | None = None, stop: float | None = None, tif: str = "day") -> Any: ...

    def cancel(self, order_id: int) -> bool: ...


class Strategy:
    """Base class of every strategy. Subclasses declare `defaults` (their parameters) and override hooks.

    `self.params` holds the defaults updated with the config's `params`; an unknown parameter is a
    ConfigError naming it (with a did-you-mean) and the known ones. A subclass that overrides
    `__init__` takes `*args, **kwargs` and passes them on (the loader calls
    `cls(params=..., symbols=..., label=...)`); per-session state is better set up in `on_start`.

    A minimal user strategy (a .py file named by `path` in the session config):

        from mismartera.strategies import Strategy

        class BuyTheOpen(Strategy):
            defaults = {"quantity": 10}

            def on_bar(self, ctx, bar):
                if ctx.position(bar.symbol) == 0 and not ctx.open_orders(bar.symbol):
                    ctx.buy(bar.symbol, self.params["quantity"])
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # One line per parameter saying what it does, shown by `strategy show` (parameters without one
    # are listed with their default only).
    param_help: ClassVar[dict[str, str]] = {}

    def __init__(self, params: dict[str, Any] | None = None, symbols: list[str] | None = None,
                 label: str | None = None) -> None:
        self.label = label or self.name or type(self).__name__
        given = dict(params or {})
        unknown = [key for key in given if key not in self.defaults]
        if unknown and self.defaults:
            key = unknown[0]
            raise ConfigError(f"strategy {self.label}: unknown parameter {key!r}{suffix(key, self.defaults)} "
                              f"(expected: {', '.join(self.defaults)})")
        self.params: dict[str, Any] = {**self.defaults, **given}
        self.symbols: list[str] = list(symbols or [])
        self.check_params()

    def check_params(self) -> None:
        """Validate `self.params`; raise ConfigError naming the bad one. Override as needed."""

    def on_start(self, ctx: StrategyContext) -> None:
        pass

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        pass

    def on_day_end(self, ctx: StrategyContext) -> None:
        pass

    def on_stop(self, ctx: StrategyContext) -> None:
        pass

    # ------------------------------------------------------------------ parameter helpers
    def _positive_int(self, key: str) -> int:
        value = self.params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"strategy {self.label}: params.{key} is {value!r} (expected a whole number >= 1)")
        return value

    def _positive_number(self, key: str) -> float:
        value = self.params[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"strategy {self.label}: params.{key} is {value!r} (expected a number > 0)")
        return float(value)
