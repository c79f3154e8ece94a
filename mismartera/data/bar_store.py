"""`BarStore`: idempotent bulk upserts and fast range reads of bars through SQLAlchemy Core.

A bar row is a plain tuple `(ts, open, high, low, close, volume, trade_count, vwap)` with `ts` the
bar's start in integer epoch seconds UTC. Reads return lists of such tuples in time order; no ORM
objects are built on either path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import cast

from sqlalchemy import Connection, Delete, bindparam, delete, func, select

from mismartera.data.bar_versions import mark_stale
from mismartera.data.database import Database
from mismartera.data.ranges import END_TS, FIRST_TS
from mismartera.data.schema import bars

BarRow = tuple  # (ts, open, high, low, close, volume, trade_count, vwap)
COLUMNS = ("ts", "open", "high", "low", "close", "volume", "trade_count", "vwap")
BATCH_SIZE = 20_000


@dataclass(frozen=True)
class SeriesSummary:
    symbol: str
    interval: str
    first_ts: int
    last_ts: int
    rows: int


# Symbol and interval are the same for every row of a write. When both are plain names (letters,
# digits and . / _ -, none of which can end an SQL string literal or start a driver placeholder)
# they are written into the statement, which saves two bound parameters and a new tuple per row:
# about 15% of SQLite's insert time. Anything else is bound as usual.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9./_-]{1,16}$")


def _write_sql(dialect: str, symbol: str, interval: str, upsert: bool) -> tuple[str, bool]:
    """The INSERT (or upsert) statement, and whether each row must be prefixed with symbol and interval."""
    mark = "?" if dialect == "sqlite" else "%s"
    literal = bool(_PLAIN_NAME.match(symbol) and _PLAIN_NAME.match(interval))
    keys = f"'{symbol}', '{interval}'" if literal else f"{mark}, {mark}"
    sql = f"INSERT INTO bars (symbol, interval, {', '.join(COLUMNS)}) VALUES ({keys}, {', '.join([mark] * 8)})"
    if upsert:
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        distinct = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
        changed = " OR ".join(f"bars.{c} {distinct} excluded.{c}" for c in COLUMNS[1:])
        sql += f" ON CONFLICT (symbol, interval, ts) DO UPDATE SET {updates} WHERE {changed}"
    return sql, not literal


_RANGE = (
    select(bars.c.ts, bars.c.open, bars.c.high, bars.c.low, bars.c.close, bars.c.volume, bars.c.trade_count,
           bars.c.vwap)
    .where(bars.c.symbol == bindparam("symbol"), bars.c.interval == bindparam("interval"),
           bars.c.ts >= bindparam("start"), bars.c.ts < bindparam("end"))
    .order_by(bars.c.ts)
)
_range_cache: dict[str, tuple[str, tuple[str, ...]]] = {}


def _range_sql(conn: Connection) -> tuple[str, tuple[str, ...]]:
    """`_RANGE` as the driver's SQL for this dialect, and its parameter names in order (empty when the
    driver takes named parameters)."""
    found = _range_cache.get(conn.dialect.name)
    if found is None:
        compiled = _RANGE.compile(dialect=conn.dialect)
        order = tuple(compiled.positiontup or ()) if compiled.positional else ()
        found = _range_cache[conn.dialect.name] = (compiled.string, order)
    return found


class BarStore:
    """Reads and writes bars in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ writes
    def upsert(self, symbol: str, interval: str, rows: Iterable[Sequence], conn: Connection | None = None) -> int:
        """Insert or update bars; identical rows are left untouched. Returns the rows sent.

        With `conn`, the caller's transaction is used (so a whole file is one transaction);
        otherwise one transaction covers all the rows.
        """
        return self._write(True, symbol, interval, rows, conn)

    def insert(self, symbol: str, interval: str, rows: Iterable[Sequence], conn: Connection | None = None) -> int:
        """Plain insert, for callers that know none of the rows exist yet (about a third faster than
        `upsert` on SQLite); a row that does exist raises the database's IntegrityError."""
        return self._write(False, symbol, interval, rows, conn)

    def _write(self, upsert: bool, symbol: str, interval: str, rows: Iterable[Sequence],
               conn: Connection | None) -> int:
        if conn is None:
            with self.db.begin() as own:
                return self._write(upsert, symbol, interval, rows, own)
        sql, prefix = _write_sql(conn.dialect.name, symbol, interval, upsert)
        sent = 0
        source = iter(rows)
        ts_of = itemgetter(2 if prefix else 0)
        first = last = 0
        while True:
            if prefix:
                batch = [(symbol, interval, *row) for row in islice(source, BATCH_SIZE)]
            else:
                batch = [row if type(row) is tuple else tuple(row) for row in islice(source, BATCH_SIZE)]
            if not batch:
                break
            conn.exec_driver_sql(sql, batch)
            low, high = min(map(ts_of, batch)), max(map(ts_of, batch))
            first, last = (low, high) if not sent else (min(first, low), max(last, high))
            sent += len(batch)
        if sent:  # in the same transaction as the rows: the replay cache sees the change with them
            mark_stale(conn, symbol, first, last, interval)
        return sent

    def delete(self, symbol: str, interval: str | None = None, start_ts: int | None = None,
               end_ts: int | None = None, conn: Connection | None = None) -> int:
        """Delete a symbol's bars (optionally one interval, optionally [start_ts, end_ts)). Returns the count."""
        statement = delete(bars).where(bars.c.symbol == symbol)
        if interval is not None:
            statement = statement.where(bars.c.interval == interval)
        if start_ts is not None:
            statement = statement.where(bars.c.ts >= start_ts)
        if end_ts is not None:
            statement = statement.where(bars.c.ts < end_ts)
        if conn is None:
            with self.db.begin() as own:
                return self._delete(own, statement, symbol, interval)
        return self._delete(conn, statement, symbol, interval)

    @staticmethod
    def _delete(conn: Connection, statement: Delete, symbol: str, interval: str | None) -> int:
        """Run a delete, first marking the months of the rows it removes stale (per interval)."""
        where = statement.whereclause
        spans = select(bars.c.interval, func.min(bars.c.ts), func.max(bars.c.ts)).group_by(bars.c.interval)
        if where is not None:
            spans = spans.where(where)
        for found, first, last in conn.execute(spans).all():
            mark_stale(conn, symbol, first, last, found)
        return conn.execute(statement).rowcount

    # ------------------------------------------------------------------ reads
    def read(self, symbol: str, interval: str, start_ts: int, end_ts: int,
             limit: int | None = None) -> list[BarRow]:
        """Bars with start_ts <= ts < end_ts, in time order."""
        statement = (
            select(bars.c.ts, bars.c.open, bars.c.high, bars.c.low, bars.c.close, bars.c.volume,
                   bars.c.trade_count, bars.c.vwap)
            .where(bars.c.symbol == symbol, bars.c.interval == interval, bars.c.ts >= start_ts, bars.c.ts < end_ts)
            .order_by(bars.c.ts)
        )
        if limit is not None:
            statement = statement.limit(limit)
        with self.db.connect() as conn:
            return [tuple(row) for row in conn.execute(statement)]

    def read_many(self, symbols: Sequence[str], interval: str, start_ts: int, end_ts: int) -> dict[str, list[BarRow]]:
        """Each symbol's bars with start_ts <= ts < end_ts, in time order (symbols without bars map to []).

        This is the replay's read (a day of every symbol, hundreds of times per backtest), so it runs
        one statement per symbol on the driver's own cursor: `fetchall` hands back the driver's plain
        tuples, built in C, which is about twice as fast as SQLAlchemy rows copied into tuples. The
        statement is the Core one below compiled for the connection's dialect, so the SQL is the
        same on SQLite and PostgreSQL.
        """
        out: dict[str, list[BarRow]] = {symbol: [] for symbol in symbols}
        if not symbols:
            return out
        with self.db.connect() as conn:
            sql, order = _range_sql(conn)
            cursor = conn.connection.cursor()
            try:
                for symbol in out:
                    values = {"symbol": symbol, "interval": interval, "start": start_ts, "end": end_ts}
                    cursor.execute(sql, tuple(values[name] for name in order) if order else values)
                    out[symbol] = cast(list[BarRow], cursor.fetchall())
            finally:
                cursor.close()
        return out

    def latest(self, symbol: str, interval: str = "1m") -> BarRow | None:
        statement = (
            select(bars.c.ts, bars.c.open, bars.c.high, bars.c.low, bars.c.close, bars.c.volume,
                   bars.c.trade_count, bars.c.vwap)
            .where(bars.c.symbol == symbol, bars.c.interval == interval)
            .order_by(bars.c.ts.desc())
            .limit(1)
        )
        with self.db.connect() as conn:
            row = conn.execute(statement).first()
        return tuple(row) if row is not None else None

    def count(self, symbol: str, interval: str, start_ts: int | None = None, end_ts: int | None = None,
              conn: Connection | None = None) -> int:
        """Rows of one series, optionally in [start_ts, end_ts); with `conn`, inside the caller's transaction."""
        statement = select(func.count()).select_from(bars).where(bars.c.symbol == symbol, bars.c.interval == interval)
        if start_ts is not None:
            statement = statement.where(bars.c.ts >= start_ts)
        if end_ts is not None:
            statement = statement.where(bars.c.ts < end_ts)
        if conn is not None:
            return conn.execute(statement).scalar_one()
        with self.db.connect() as own:
            return own.execute(statement).scalar_one()

    def series(self, symbol: str | None = None) -> list[SeriesSummary]:
        """Each stored (symbol, interval) with its first and last bar and row count."""
        statement = (
            select(bars.c.symbol, bars.c.interval, func.min(bars.c.ts), func.max(bars.c.ts), func.count())
            .group_by(bars.c.symbol, bars.c.interval)
            .order_by(bars.c.symbol, bars.c.interval)
        )
        if symbol is not None:
            statement = statement.where(bars.c.symbol == symbol)
        with self.db.connect() as conn:
            return [SeriesSummary(*row) for row in conn.execute(statement)]

    def valid_span(self, symbol: str, interval: str) -> tuple[int, int] | None:
        """First and last bar time of a series within 1970-2099 (bad stored times left out), or None."""
        statement = (select(func.min(bars.c.ts), func.max(bars.c.ts))
                     .where(bars.c.symbol == symbol, bars.c.interval == interval, bars.c.ts >= FIRST_TS,
                            bars.c.ts < END_TS))
        with self.db.connect() as conn:
            first, last = conn.execute(statement).one()
        return None if first is None else (first, last)

    def symbols(self) -> list[str]:
        with self.db.connect() as conn:
            return list(conn.execute(select(bars.c.symbol).distinct().order_by(bars.c.symbol)).scalars())
