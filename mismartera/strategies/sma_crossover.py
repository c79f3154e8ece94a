"""`sma_crossover`: long when the fast SMA of the 1m close is above the slow one, flat otherwise."""

from __future__ import annotations

from typing import Any, ClassVar

from mismartera.bars import Bar
from mismartera.errors import ConfigError
from mismartera.strategies.base import Strategy, StrategyContext

# Relative tolerance: two SMAs equal up to float noise count as a tie, and a tie never trades.
TOLERANCE = 1e-9


class SmaCrossover(Strategy):
    """Once both SMAs are warm: flat and fast > slow → buy `quantity` at market; long and fast < slow →
    sell the whole position. Nothing while an order of the symbol is still open."""

    name = "sma_crossover"
    defaults: ClassVar[dict[str, Any]] = {"fast": 10, "slow": 30, "quantity": 100}
    param_help: ClassVar[dict[str, str]] = {
        "fast": "bars in the fast simple moving average of the 1m close",
        "slow": "bars in the slow simple moving average (more than fast)",
        "quantity": "shares bought on each upward cross (the whole position is sold on the way down)",
    }

    def check_params(self) -> None:
        fast, slow = self._positive_int("fast"), self._positive_int("slow")
        self._positive_number("quantity")
        if fast >= slow:
            raise ConfigError(f"strategy {self.label}: params.fast {fast} must be below params.slow {slow}")

    def on_start(self, ctx: StrategyContext) -> None:
        self.symbols = self.symbols or list(ctx.symbols)
        fast, slow = self.params["fast"], self.params["slow"]
        self._fast = {s: ctx.indicator(s, "sma", period=fast) for s in self.symbols}
        self._slow = {s: ctx.indicator(s, "sma", period=slow) for s in self.symbols}
        self._quantity = float(self.params["quantity"])

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        symbol = bar.symbol
        fast, slow = self._fast[symbol], self._slow[symbol]
        f, s = fast.value, slow.value
        if f is None or s is None:   # not warm yet
            return
        scale = s if s >= 0.0 else -s   # |s|, floored at 1 (written out: max/abs cost a call each per bar)
        tolerance = TOLERANCE * scale if scale > 1.0 else TOLERANCE
        held = ctx.position(symbol)
        # Decide first, then look at open orders only when there is something to do (the check
        # copies the broker's orders, and most bars decide nothing).
        if held == 0 and f > s + tolerance:
            if not ctx.open_orders(symbol):
                ctx.buy(symbol, self._quantity)
        elif held > 0 and f < s - tolerance and not ctx.open_orders(symbol):
            ctx.sell(symbol, held)
