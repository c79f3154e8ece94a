"""The reference run's bars: seeded 1-minute bars on the NYSE calendar, written once to a fresh
SQLite database through mismartera's own import path (`BarStore.upsert`) and to one CSV per symbol
for the peer.

Why a generator of its own rather than `mismartera.data.demo`: the comparison must hold for years of
bars, so prices follow a mean-reverting walk (an Ornstein-Uhlenbeck process on the log price) that
stays within a band around each symbol's base price. Ten symbols long 100 shares each then always
cost well under the 100,000 starting cash, so neither engine ever refuses an order for want of
money and the two cannot diverge on their (different) buying-power rules. Volumes are far above 100
shares, so a 100-share order always fills whole. Prices are whole cents, written to the CSV with
two decimals, so both engines read the very same doubles.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from mismartera.data.bar_store import BarStore
from mismartera.timekeeping.calendar import TimeManager, TradingSession

FIRST_DAY = date(2021, 1, 4)   # 1000 trading days from here end in December 2024
SIGMA = 0.0008                 # per-minute volatility of the log price (about 1.6% a day)
REVERSION = 0.00002            # per-minute pull back to the base (half-life about 90 trading days)
OVERNIGHT = 5.0                # the overnight move is this many minutes' worth of volatility
MIN_VOLUME, MAX_VOLUME = 20_000, 200_000
CSV_HEADER = "timestamp,open,high,low,close,volume\n"


@dataclass(frozen=True)
class Window:
    """The trading days the run covers."""

    sessions: list[TradingSession]

    @property
    def first(self) -> date:
        return self.sessions[0].day

    @property
    def last(self) -> date:
        return self.sessions[-1].day

    @property
    def bars_per_symbol(self) -> int:
        return sum(session.minutes for session in self.sessions)


def symbols(count: int) -> list[str]:
    return [f"S{n:02d}" for n in range(count)]


def base_price(index: int) -> float:
    """15, 20, ... 60 dollars: ten symbols long 100 shares each hold about 37,500 at their bases."""
    return 15.0 + 5.0 * (index % 10)


def window(tm: TimeManager, days: int, first: date = FIRST_DAY) -> Window:
    """`days` trading days from `first` (or the next trading day after it)."""
    start = first if tm.is_trading_day(first) else tm.next_trading_day(first)
    end = tm.next_trading_day(start, days - 1) if days > 1 else start
    return Window(tm.sessions(start, end))


def generate(symbol: str, index: int, sessions: list[TradingSession], seed: int) -> Iterator[tuple]:
    """Storage rows `(ts, open, high, low, close, volume, None, None)` of one symbol, oldest first.

    One `random.Random` per (seed, symbol), carried across days, so the same arguments always give
    the same bars whatever else runs.
    """
    rng = random.Random(f"{seed}:{symbol}")
    gauss, randint = rng.gauss, rng.randint
    base = math.log(base_price(index))
    level = base
    overnight = SIGMA * OVERNIGHT
    for session in sessions:
        level += REVERSION * (base - level) + gauss(0.0, overnight)
        ts = int(session.open.timestamp())
        for _ in range(session.minutes):
            open_ = max(0.01, round(math.exp(level), 2))
            level += REVERSION * (base - level) + gauss(0.0, SIGMA)
            close = max(0.01, round(math.exp(level), 2))
            wick = open_ * SIGMA
            high = round(max(open_, close) + abs(gauss(0.0, wick)), 2)
            low = max(0.01, round(min(open_, close) - abs(gauss(0.0, wick)), 2))
            yield (ts, open_, high, low, close, float(randint(MIN_VOLUME, MAX_VOLUME)), None, None)
            ts += 60


def _also_to_csv(rows: Iterator[tuple], path: Path, until_ts: int) -> Iterator[tuple]:
    """Pass the rows on unchanged, writing those starting before `until_ts` to `path` as they go
    (one pass, nothing held)."""
    with path.open("w", encoding="ascii", newline="") as out:
        out.write(CSV_HEADER)
        write = out.write
        for row in rows:
            if row[0] < until_ts:
                write(f"{row[0]},{row[1]:.2f},{row[2]:.2f},{row[3]:.2f},{row[4]:.2f},{row[5]:.0f}\n")
            yield row


def sparse(rows: Iterator[tuple], symbol: str, seed: int, missing: float) -> Iterator[tuple]:
    """`rows` with each minute dropped with probability `missing` (seeded per symbol)."""
    keep = random.Random(f"sparse:{seed}:{symbol}").random
    return (row for row in rows if keep() >= missing)


def write(store: BarStore, csv_dir: Path, names: list[str], sessions: list[TradingSession], seed: int,
          csv_until: datetime | None = None, missing: float = 0.0) -> int:
    """Generate every symbol's bars into the database (one upsert per symbol) and `csv_dir/<symbol>.csv`;
    the CSV stops at `csv_until` when given (the peer's window may be shorter than the database's).
    With `missing`, that fraction of each symbol's minutes is left out, at random (the same in both).

    Returns the number of bars written to the database.
    """
    csv_dir.mkdir(parents=True, exist_ok=True)
    until_ts = int((csv_until or sessions[-1].close).timestamp())
    total = 0
    for index, symbol in enumerate(names):
        made = generate(symbol, index, sessions, seed)
        if missing:
            made = sparse(made, symbol, seed, missing)
        rows = _also_to_csv(made, csv_dir / f"{symbol}.csv", until_ts)
        total += store.upsert(symbol, "1m", rows)
    return total
