"""Strategies: the interface (`Strategy`, `StrategyContext`), the loader and the built-ins."""

from mismartera.strategies.base import Strategy, StrategyContext
from mismartera.strategies.loader import BUILTINS, load_strategy, strategy_class

__all__ = ["BUILTINS", "Strategy", "StrategyContext", "load_strategy", "strategy_class"]
