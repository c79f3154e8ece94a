"""`limit_stop`: trades only with limit and stop orders (the parity tests' third strategy).

Flat: a buy limit `offset` under the close. Long: a sell stop `offset` under the close on odd bars,
a sell limit `offset` over it on even ones. An order still open after `patience` bars of its
symbol is cancelled. Prices are whole cents.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mismartera.bars import Bar
from mismartera.strategies.base import Strategy, StrategyContext


class LimitStop(Strategy):
    name = "limit_stop"
    defaults: ClassVar[dict[str, Any]] = {"quantity": 10, "offset": 0.05, "patience": 15}

    def on_start(self, ctx: StrategyContext) -> None:
        self.symbols = self.symbols or list(ctx.symbols)
        self._seen = dict.fromkeys(self.symbols, 0)
        self._placed = dict.fromkeys(self.symbols, 0)
        self._quantity = float(self.params["quantity"])
        self._offset = float(self.params["offset"])
        self._patience = int(self.params["patience"])

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        symbol = bar.symbol
        self._seen[symbol] += 1
        seen = self._seen[symbol]
        orders = ctx.open_orders(symbol)
        if orders:
            if seen - self._placed[symbol] >= self._patience:
                for order in orders:
                    ctx.cancel(order.id)
            return
        held = ctx.position(symbol)
        if held == 0:
            ctx.buy(symbol, self._quantity, limit=round(bar.close - self._offset, 2))
        elif held > 0 and seen % 2:
            ctx.sell(symbol, held, stop=round(bar.close - self._offset, 2))
        elif held > 0:
            ctx.sell(symbol, held, limit=round(bar.close + self._offset, 2))
        self._placed[symbol] = seen
