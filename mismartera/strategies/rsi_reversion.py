"""`rsi_reversion`: buy when RSI of the 1m close is oversold, sell the position when it is overbought."""

from __future__ import annotations

from typing import Any, ClassVar

from mismartera.bars import Bar
from mismartera.errors import ConfigError
from mismartera.strategies.base import Strategy, StrategyContext


class RsiReversion(Strategy):
    """Wilder RSI(`period`): flat and RSI < `oversold` → buy `quantity`; long and RSI > `overbought` → sell all.
    Nothing while an order of the symbol is open."""

    name = "rsi_reversion"
    defaults: ClassVar[dict[str, Any]] = {"period": 14, "oversold": 30.0, "overbought": 70.0, "quantity": 100}
    param_help: ClassVar[dict[str, str]] = {
        "period": "bars in Wilder's RSI of the 1m close",
        "oversold": "buy when the RSI falls below this (0-100)",
        "overbought": "sell the position when the RSI rises above this (0-100, above oversold)",
        "quantity": "shares bought each time",
    }

    def check_params(self) -> None:
        self._positive_int("period")
        self._positive_number("quantity")
        low, high = self._positive_number("oversold"), self._positive_number("overbought")
        if not low < high <= 100:
            raise ConfigError(f"strategy {self.label}: params.oversold {low:g} must be below "
                              f"params.overbought {high:g}, and both within 0..100")

    def on_start(self, ctx: StrategyContext) -> None:
        self.symbols = self.symbols or list(ctx.symbols)
        self._rsi = {s: ctx.indicator(s, "rsi", period=self.params["period"]) for s in self.symbols}
        self._low, self._high = float(self.params["oversold"]), float(self.params["overbought"])
        self._quantity = float(self.params["quantity"])

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        value = self._rsi[bar.symbol].value
        if value is None:
            return
        held = ctx.position(bar.symbol)
        if held == 0 and value < self._low:
            if not ctx.open_orders(bar.symbol):
                ctx.buy(bar.symbol, self._quantity)
        elif held > 0 and value > self._high and not ctx.open_orders(bar.symbol):
            ctx.sell(bar.symbol, held)
