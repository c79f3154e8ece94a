"""Issue 11: one `LiveBarFeed` serves every day of a multi-day live session (the replay source):
`move_to` skips the night without losing the next day's bars already queued."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

import pytest

from mismartera.bars import Bar
from mismartera.errors import UsageError
from mismartera.sources.live_feed import LiveBarFeed

DAY1 = 1_732_631_400      # 2024-11-26 09:30 ET
DAY2 = DAY1 + 86_400      # 2024-11-27 09:30 ET
SYMBOLS = ["AAA", "BBB"]


@dataclass
class Source:
    bars: queue.Queue = field(default_factory=queue.Queue)
    reconnected: threading.Event = field(default_factory=threading.Event)


def bar(symbol: str, ts: int) -> Bar:
    return Bar(symbol, ts, 10.0, 11.0, 9.0, 10.5, 100.0)


def test_move_to_keeps_the_next_days_queued_bars_and_drops_the_rest() -> None:
    source = Source()
    now = [float(DAY2 + 120)]
    feed = LiveBarFeed(source, SYMBOLS, lambda symbol, first, last: [], lambda: now[0], start_ts=DAY1,
                       is_trading_minute=lambda ts: DAY1 <= ts < DAY1 + 120 or DAY2 <= ts < DAY2 + 120)
    for ts in (DAY1, DAY1 + 60, DAY1 + 600, DAY2, DAY2 + 60):   # DAY1 + 600: after day 1's (two-minute) close
        for symbol in SYMBOLS:
            source.bars.put(bar(symbol, ts))
    assert [b.ts for b in feed.next_minute(0.1)] == [DAY1, DAY1]
    assert [b.ts for b in feed.next_minute(0.1)] == [DAY1 + 60, DAY1 + 60]
    feed.move_to(DAY2)
    assert feed.next_ts == DAY2
    assert [(b.symbol, b.ts) for b in feed.next_minute(0.1)] == [("AAA", DAY2), ("BBB", DAY2)]
    assert [b.ts for b in feed.next_minute(0.1)] == [DAY2 + 60, DAY2 + 60]
    feed.move_to(DAY1)                     # never backwards
    assert feed.next_ts == DAY2 + 120
    with pytest.raises(UsageError, match="minute boundary"):
        feed.move_to(DAY2 + 1)
