"""`indicator_log`: asks for every built-in indicator in `on_start` and records their values at each bar
(the day-at-a-time indicator test reads `log` back). It never trades."""

from __future__ import annotations

from typing import Any, ClassVar

from mismartera.bars import Bar
from mismartera.strategies.base import Strategy, StrategyContext

REQUESTS = (("sma", {"period": 12}), ("ema", {"period": 9}), ("rsi", {"period": 14}), ("atr", {"period": 10}),
            ("bollinger", {"period": 20, "k": 2.0}), ("vwap", {}), ("high", {"period": 30}), ("low", {"period": 5}))


class IndicatorLog(Strategy):
    name = "indicator_log"
    defaults: ClassVar[dict[str, Any]] = {}

    def on_start(self, ctx: StrategyContext) -> None:
        self.symbols = self.symbols or list(ctx.symbols)
        self.log: list[tuple] = []
        self._made = {s: [ctx.indicator(s, kind, **params) for kind, params in REQUESTS] for s in self.symbols}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        made = self._made[bar.symbol]
        self.log.append((bar.symbol, bar.ts, *(ind.value for ind in made), made[4].upper, made[4].lower,
                         made[0].ready))
