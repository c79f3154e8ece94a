"""Bar versions: one number per (symbol, interval, UTC month), bumped by every write of bars.

Every path that changes bars (CSV and Alpaca imports, live bars and their backfill, derived bars,
deletes) goes through `BarStore`, which calls `mark_stale` in the same transaction as the write. A
reader that notes a month's version before reading its bars therefore holds bars at least as new
as that version: a columnar cache file labelled with the version can be older than the database
only when the database's number has moved on, which the cache sees (`mismartera.data.bar_cache`).

A month seen for the first time starts at a random number rather than 1, so a database deleted
and rebuilt at the same URL never reuses a number an old cache file carries.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, select, text

from mismartera.data.schema import bar_versions

_BUMP = text(
    "INSERT INTO bar_versions (symbol, interval, month, version) VALUES (:symbol, :interval, :month, :start) "
    "ON CONFLICT (symbol, interval, month) DO UPDATE SET version = bar_versions.version + 1"
)


REPLAY_FIRST_TS = 0                                                # 1970-01-01 UTC
REPLAY_END_TS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())  # the first second after 2099


def month_of(ts: int) -> int:
    """The UTC month of epoch second `ts` as year * 100 + month (202403)."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.year * 100 + moment.month


def month_range(month: int) -> tuple[int, int]:
    """[first second, first second of the next month) of a `month_of` number, epoch seconds UTC."""
    year, number = divmod(month, 100)
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def months_between(first_ts: int, last_ts: int) -> list[int]:
    """Every month from the one holding `first_ts` to the one holding `last_ts`, both included."""
    month, last = month_of(min(first_ts, last_ts)), month_of(max(first_ts, last_ts))
    months = []
    while month <= last:
        months.append(month)
        year, number = divmod(month, 100)
        month = (year + 1) * 100 + 1 if number == 12 else month + 1
    return months


def mark_stale(conn: Connection, symbol: str, first_ts: int, last_ts: int, interval: str = "1m") -> None:
    """Bump the version of every month of `symbol`/`interval` between `first_ts` and `last_ts`
    (bar starts, epoch seconds, both included), inside the caller's transaction. Only 1970-2099 can be
    replayed (and cached); a bad stored row outside those years (deleted, say) marks nothing there."""
    first, last = max(min(first_ts, last_ts), REPLAY_FIRST_TS), min(max(first_ts, last_ts), REPLAY_END_TS - 1)
    if first > last:
        return
    months = months_between(first, last)
    conn.execute(_BUMP, [{"symbol": symbol, "interval": interval, "month": month,
                          "start": secrets.randbits(40)} for month in months])


def versions(conn: Connection, symbols: Sequence[str], interval: str,
             months: Iterable[int]) -> dict[tuple[str, int], int]:
    """(symbol, month) -> version for the given months; a month never written has no entry (version 0)."""
    wanted = list(months)
    if not symbols or not wanted:
        return {}
    statement = (select(bar_versions.c.symbol, bar_versions.c.month, bar_versions.c.version)
                 .where(bar_versions.c.interval == interval, bar_versions.c.symbol.in_(list(symbols)),
                        bar_versions.c.month.in_(wanted)))
    return {(symbol, month): version for symbol, month, version in conn.execute(statement)}
