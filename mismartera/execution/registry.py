"""The brokers a session can trade through, by `api_config.trade_api` name.

Each entry is a function `(trading config, clock, settings, history) -> Broker` that returns the
broker ready to take orders (`history`: how many orders and fills it keeps in memory, None for
all). Adding a broker is one module with such a function and one line here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mismartera.config.session import TradingConfig
from mismartera.config.settings import Settings
from mismartera.execution.broker import Broker
from mismartera.named import Registry

BROKERS = Registry("api_config.trade_api", {
    "simulated": "mismartera.execution.simulated:open_simulated",
    "alpaca_paper": "mismartera.execution.alpaca_broker:open_paper",
    "alpaca_live": "mismartera.execution.alpaca_broker:open_live",
})
# Brokers that fill from the bars the engine hands them (`process_bar`): the only kind a backtest can
# trade through, since nothing else sees the replayed prices.
FILLS_FROM_BARS = ("simulated",)


class Clock(Protocol):
    def now(self) -> datetime: ...


def open_broker(name: str, trading: TradingConfig, clock: Clock, settings: Settings,
                history: int | None = None) -> Broker:
    """The broker registered as `name`, opened (ConfigError naming the choices if there is none)."""
    broker: Broker = BROKERS.get(name)(trading, clock, settings, history)
    return broker
