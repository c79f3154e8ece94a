"""Strategy loading (built-in, dotted module, .py file) with one-line errors, parameter checks, and
the built-ins' decisions on hand-made bars."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mismartera.bars import Bar
from mismartera.errors import ConfigError
from mismartera.indicators import make_indicator
from mismartera.strategies import BUILTINS, Strategy, load_strategy, strategy_class
from mismartera.strategies.rsi_reversion import RsiReversion
from mismartera.strategies.sma_crossover import SmaCrossover


def test_builtins_and_dotted_names() -> None:
    assert set(BUILTINS) == {"sma_crossover", "rsi_reversion"}
    assert strategy_class("sma_crossover") is SmaCrossover
    assert strategy_class("mismartera.strategies.rsi_reversion") is RsiReversion
    assert strategy_class("mismartera.strategies.sma_crossover.SmaCrossover") is SmaCrossover


@pytest.mark.parametrize(("name", "message"), [
    ("sma_crosover", r"^unknown strategy 'sma_crosover' — did you mean 'sma_crossover'\? \(built-ins: "),
    ("nosuch.module", r"^strategy nosuch.module: no module named 'nosuch'"),
    ("mismartera.strategies.sma_crossover.Nope", r"has no Strategy class 'Nope'$"),
    ("mismartera.strategies.base", r"defines no Strategy subclass"),
])
def test_bad_names_are_one_line_errors(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        strategy_class(name)
    assert "\n" not in str(info.value)


def test_a_strategy_from_a_file(tmp_path: Path) -> None:
    good = tmp_path / "mine.py"
    good.write_text("from mismartera.strategies import Strategy\n\nclass Mine(Strategy):\n"
                    "    defaults = {'size': 1}\n")
    strategy = load_strategy(path=str(good), params={"size": 3}, label="mine")
    assert type(strategy).__name__ == "Mine" and strategy.params == {"size": 3}
    broken = tmp_path / "broken.py"
    broken.write_text("from mismartera.strategies import Strategy\n\nclass Broken(Strategy)\n    pass\n")
    with pytest.raises(ConfigError, match=r"^strategy file .*broken.py: SyntaxError: .*line 3") as info:
        load_strategy(path=str(broken))
    assert "\n" not in str(info.value)
    raising = tmp_path / "raising.py"
    raising.write_text("import json\njson.loads('{')\n")
    with pytest.raises(ConfigError, match=r"raising.py: JSONDecodeError: .*\(raising.py, line 2\)|JSONDecodeError"):
        load_strategy(path=str(raising))
    with pytest.raises(ConfigError, match=r"^strategy file not found: "):
        load_strategy(path=str(tmp_path / "missing.py"))
    text = tmp_path / "notes.txt"
    text.write_text("x")
    with pytest.raises(ConfigError, match=r"is not a .py file$"):
        load_strategy(path=str(text))


def test_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter 'fsat' — did you mean 'fast'\? \(expected: fast, slow"):
        load_strategy("sma_crossover", params={"fsat": 5})
    with pytest.raises(ConfigError, match=r"params.fast 30 must be below params.slow 10"):
        load_strategy("sma_crossover", params={"fast": 30, "slow": 10})
    with pytest.raises(ConfigError, match=r"params.quantity is -1 \(expected a number > 0\)"):
        load_strategy("sma_crossover", params={"quantity": -1})
    with pytest.raises(ConfigError, match=r"params.period is 2.5 \(expected a whole number >= 1\)"):
        load_strategy("rsi_reversion", params={"period": 2.5})
    with pytest.raises(ConfigError, match=r"params.oversold 80 must be below params.overbought 70"):
        load_strategy("rsi_reversion", params={"oversold": 80})


class FakeContext:
    """A minimal StrategyContext: records orders, holds positions, indicators from the real factory."""

    def __init__(self, symbols: list[str]) -> None:
        self.symbols = symbols
        self.orders: list[tuple[str, str, float]] = []
        self.held: dict[str, float] = {}
        self.pending = False
        self.indicators: list[tuple[str, Any]] = []

    def indicator(self, symbol: str, kind: str, interval: str = "1m", **params: Any) -> Any:
        made = make_indicator(kind, **params)
        self.indicators.append((symbol, made))
        return made

    def feed(self, symbol: str, close: float) -> None:
        for owner, indicator in self.indicators:
            if owner == symbol:
                indicator.update(close, close, close, close, 1.0)

    def open_orders(self, symbol: str | None = None) -> list[Any]:
        return ["pending"] if self.pending else []

    def position(self, symbol: str) -> float:
        return self.held.get(symbol, 0.0)

    def buy(self, symbol: str, quantity: float, **kwargs: Any) -> None:
        self.orders.append((symbol, "buy", quantity))

    def sell(self, symbol: str, quantity: float, **kwargs: Any) -> None:
        self.orders.append((symbol, "sell", quantity))


def drive(strategy: Strategy, ctx: FakeContext, closes: list[float]) -> None:
    strategy.on_start(ctx)
    for i, close in enumerate(closes):
        ctx.feed("AAA", close)
        strategy.on_bar(ctx, Bar("AAA", 60 * i, close, close, close, close, 1.0))


def test_sma_crossover_buys_when_flat_and_sells_when_long() -> None:
    ctx = FakeContext(["AAA"])
    strategy = load_strategy("sma_crossover", params={"fast": 2, "slow": 4, "quantity": 7})
    drive(strategy, ctx, [10, 10, 10, 10])           # warm, fast == slow: a tie never trades
    assert ctx.orders == []
    ctx.feed("AAA", 11)
    strategy.on_bar(ctx, Bar("AAA", 600, 11, 11, 11, 11, 1))
    assert ctx.orders == [("AAA", "buy", 7.0)]
    ctx.held["AAA"] = 7.0
    ctx.pending = True
    for close in (5, 5, 5):
        ctx.feed("AAA", close)
        strategy.on_bar(ctx, Bar("AAA", 700, close, close, close, close, 1))
    assert len(ctx.orders) == 1                      # nothing while an order is pending
    ctx.pending = False
    strategy.on_bar(ctx, Bar("AAA", 800, 5, 5, 5, 5, 1))
    assert ctx.orders[-1] == ("AAA", "sell", 7.0)


def test_sma_crossover_ignores_float_noise_on_a_tie() -> None:
    ctx = FakeContext(["AAA"])
    strategy = load_strategy("sma_crossover", params={"fast": 3, "slow": 6, "quantity": 1})
    drive(strategy, ctx, [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3])  # equal means up to rounding
    assert ctx.orders == []


def test_rsi_reversion_buys_oversold_and_sells_overbought() -> None:
    ctx = FakeContext(["AAA"])
    strategy = load_strategy("rsi_reversion", params={"period": 3, "quantity": 2})
    drive(strategy, ctx, [10, 9, 8, 7])              # warm on the 4th close, RSI 0: oversold
    assert ctx.orders == [("AAA", "buy", 2.0)]
    ctx.held["AAA"] = 2.0
    for close in (8, 10, 12, 14):
        ctx.feed("AAA", close)
        strategy.on_bar(ctx, Bar("AAA", 0, close, close, close, close, 1))
    assert ctx.orders[-1] == ("AAA", "sell", 2.0)


def test_bar_end_is_the_visibility_instant() -> None:
    bar = Bar("AAA", 1_700_000_000, 1, 1, 1, 1, 1)
    assert bar.end == datetime.fromtimestamp(1_700_000_060, UTC)
