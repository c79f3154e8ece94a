"""Where a live session's bars come from: the `MarketDataSource` seam, the live feed (ordered,
once-only, gaps backfilled through the source's history) and the sources registered by name."""

from mismartera.sources.base import BarStream, MarketDataSource, SourceSetup
from mismartera.sources.live_feed import LiveBarFeed
from mismartera.sources.registry import LIVE_SOURCES, open_source

__all__ = ["LIVE_SOURCES", "BarStream", "LiveBarFeed", "MarketDataSource", "SourceSetup", "open_source"]
