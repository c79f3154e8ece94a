"""Seeded synthetic 1m bars for engine tests (importable as `synthetic_bars`: tests/ is on sys.path)."""

from __future__ import annotations

import math
import random
from datetime import date

from mismartera.timekeeping.calendar import TimeManager


def synthetic_bars(tm: TimeManager, symbols: list[str], start: date, end: date, seed: int = 11
                   ) -> dict[str, list[tuple]]:
    """A random walk of 1m bars per symbol over the regular sessions, prices in cents."""
    rng = random.Random(seed)
    out: dict[str, list[tuple]] = {}
    for n, symbol in enumerate(symbols):
        price = 50.0 + 40.0 * n
        rows = []
        for session in tm.sessions(start, end):
            open_ts = int(session.open.timestamp())
            for minute in range(session.minutes):
                o = round(price, 2)
                c = round(max(1.0, o * math.exp(rng.gauss(0, 0.002))), 2)
                h = round(max(o, c) + abs(rng.gauss(0, 0.03)), 2)
                low = round(max(0.5, min(o, c) - abs(rng.gauss(0, 0.03))), 2)
                rows.append((open_ts + 60 * minute, o, h, low, c, float(rng.randint(100, 5000)), None, None))
                price = c
        out[symbol] = rows
    return out
