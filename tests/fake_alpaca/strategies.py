"""A strategy for live-session tests (config entry `{"path": ".../fake_alpaca/strategies.py"}`):
it records every bar it is given, and buys `quantity` of a symbol on that symbol's first bar."""

from __future__ import annotations

from typing import Any

from mismartera.bars import Bar
from mismartera.strategies.base import Strategy


class MinuteRecorder(Strategy):
    name = "minute_recorder"
    defaults = {"quantity": 0}

    def on_start(self, ctx: Any) -> None:
        self.seen: list[tuple[str, int]] = []

    def on_bar(self, ctx: Any, bar: Bar) -> None:
        first = all(symbol != bar.symbol for symbol, _ in self.seen)
        self.seen.append((bar.symbol, bar.ts))
        if first and self.params["quantity"]:
            ctx.buy(bar.symbol, self.params["quantity"])
