"""A test strategy that kills its own process when `die` is 1 (a worker lost mid-sweep), and
otherwise trades like a tiny momentum strategy so its runs have orders and fills."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from mismartera.bars import Bar
from mismartera.strategies.base import Strategy, StrategyContext


class Dying(Strategy):
    name = "dying"
    defaults: ClassVar[dict[str, Any]] = {"die": 0, "quantity": 10}

    def on_start(self, ctx: StrategyContext) -> None:
        if self.params["die"] == 1:
            os._exit(3)
        self._last: dict[str, float] = {}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        last = self._last.get(bar.symbol)
        self._last[bar.symbol] = bar.close
        if last is None or ctx.open_orders(bar.symbol):
            return
        held = ctx.position(bar.symbol)
        if held == 0 and bar.close > last:
            ctx.buy(bar.symbol, self.params["quantity"])
        elif held > 0 and bar.close < last:
            ctx.sell(bar.symbol, held)
