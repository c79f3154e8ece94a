"""The market-data sources a live session can run on, by `api_config.data_api` name.

Adding a source is one module with a class built from a `SourceSetup` (see `sources/base.py`) and
one line here.
"""

from __future__ import annotations

from mismartera.named import Registry
from mismartera.sources.base import MarketDataSource, SourceSetup

LIVE_SOURCES = Registry("api_config.data_api", {
    "alpaca": "mismartera.integrations.alpaca.source:AlpacaSource",
    "replay": "mismartera.sources.replay:ReplaySource",
})


def open_source(setup: SourceSetup) -> MarketDataSource:
    """The source `setup.config.api_config.data_api` names, built (ConfigError if none is registered)."""
    source: MarketDataSource = LIVE_SOURCES.get(setup.config.api_config.data_api)(setup)
    return source
