"""Deterministic synthetic 1-minute bars on the real NYSE calendar, so the shell works without a data feed.

Each symbol follows its own random walk, carried from one day's close to the next day's open; the
intraday volume is U-shaped (busy at the open and the close). Every (seed, symbol, day) gets its own
`random.Random`, so the same seed always gives the same bars and no global random state is touched.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from mismartera.data.bar_store import BarRow, BarStore
from mismartera.errors import UsageError
from mismartera.timekeeping.calendar import TimeManager, TradingSession

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "SPY")
DEFAULT_START = date(2024, 11, 1)
DEFAULT_DAYS = 20
DEFAULT_SEED = 7
MIN_VOLUME = 1000
MAX_DAYS = 2000

# Plausible starting prices for the default symbols; any other symbol gets one from its name.
START_PRICES = {"AAPL": 225.0, "MSFT": 410.0, "NVDA": 135.0, "TSLA": 250.0, "SPY": 570.0}


@dataclass(frozen=True)
class DemoSummary:
    symbols: tuple[str, ...]
    first_day: date
    last_day: date
    days: int
    bars: int


def _cents(value: float) -> float:
    return round(value, 2)


def generate_day(symbol: str, session: TradingSession, seed: int, start_price: float) -> tuple[list[BarRow], float]:
    """One regular session of 1-minute bars for `symbol` opening near `start_price`.

    Returns the rows and the last close (the next day's starting price).
    """
    rng = random.Random(f"{seed}:{symbol}:{session.day.isoformat()}")
    minutes = session.minutes
    open_ts = int(session.open.timestamp())
    # Per-minute volatility around 0.06%, varying a little by day; a small overnight gap.
    sigma = 0.0006 * (0.7 + 0.6 * rng.random())
    drift = rng.gauss(0.0, 0.00002)
    price = max(1.0, start_price * (1.0 + rng.gauss(0.0, 0.003)))
    base_volume = 2000 + rng.random() * 6000
    rows: list[BarRow] = []
    last = minutes - 1 if minutes > 1 else 1
    for i in range(minutes):
        open_ = _cents(price)
        close = _cents(max(0.05, open_ * math.exp(rng.gauss(drift, sigma))))
        wick = open_ * sigma
        high = _cents(max(open_, close) + abs(rng.gauss(0.0, wick)))
        low = _cents(max(0.01, min(open_, close) - abs(rng.gauss(0.0, wick))))
        x = 2.0 * i / last - 1.0  # -1 at the open, +1 at the close
        shape = 1.0 + 2.5 * x * x
        volume = max(MIN_VOLUME, int(base_volume * shape * rng.lognormvariate(0.0, 0.35)))
        trades = max(1, volume // rng.randint(40, 120))
        vwap = _cents(min(high, max(low, (high + low + close) / 3.0)))
        rows.append((open_ts + 60 * i, open_, high, low, close, float(volume), trades, vwap))
        price = close
    return rows, rows[-1][4] if rows else start_price


def start_price(symbol: str) -> float:
    """The demo starting price of a symbol: known ones are realistic, others derive from the name."""
    if symbol in START_PRICES:
        return START_PRICES[symbol]
    return 20.0 + random.Random(f"price:{symbol}").random() * 300.0


def demo_days(tm: TimeManager, start: date, days: int) -> list[date]:
    """The first `days` trading days on or after `start`."""
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days {days} is out of range (expected 1 to {MAX_DAYS})")
    first = start if tm.is_trading_day(start) else tm.next_trading_day(start)
    return [first, *tm.next_trading_days(first, days - 1)] if days > 1 else [first]


def seed_demo(store: BarStore, tm: TimeManager, symbols: Sequence[str], start: date, days: int, seed: int,
              progress: Any = None) -> DemoSummary:
    """Generate and store demo 1-minute bars for `symbols` over `days` trading days from `start`.

    All bars go in one transaction through the same idempotent upsert as the importers, so seeding
    twice with the same arguments changes nothing.
    """
    if not symbols:
        raise UsageError("no symbols given (expected e.g. AAPL,MSFT)")
    day_list = demo_days(tm, start, days)
    sessions = [tm.session(day) for day in day_list]
    total = 0
    with store.db.begin() as conn:
        for symbol in symbols:
            price = start_price(symbol)
            rows: list[BarRow] = []
            for session in sessions:
                assert session is not None
                day_rows, price = generate_day(symbol, session, seed, price)
                rows.extend(day_rows)
            total += store.upsert(symbol, "1m", rows, conn=conn)
            if progress is not None:
                progress.advance(len(rows))
    return DemoSummary(tuple(symbols), day_list[0], day_list[-1], len(day_list), total)
