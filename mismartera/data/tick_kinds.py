"""The names shared by everything that handles trades and quotes, without the store behind them: the
kinds, the row type and the time unit. Command modules import these at start-up; the store
(`mismartera.data.tick_store`, SQLAlchemy) is imported when a command touches ticks."""

from __future__ import annotations

from typing import Literal

TickKind = Literal["trades", "quotes"]
TICK_KINDS: tuple[TickKind, ...] = ("trades", "quotes")
TickRow = tuple  # see mismartera.data.tick_store's docstring
MICROS = 1_000_000  # ts is epoch microseconds UTC
