"""`TickStore`: trades and quotes in the database, written and read through SQLAlchemy Core.

A trade row is `(ts, seq, price, size, exchange, conditions, trade_id)`; a quote row is
`(ts, seq, bid_price, bid_size, ask_price, ask_size, bid_exchange, ask_exchange, conditions)`.
`ts` is epoch microseconds UTC; `seq` numbers the rows that share a microsecond in the order they
were delivered (see `number_within_microsecond`), so a re-import hits the same keys and changes
nothing. Bulk writes go to the driver's cursor with one statement (as `BarStore` does); reads are
Core statements on the (symbol, ts, seq) primary key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import Connection, Table, delete, func, select

from mismartera.data.database import Database
from mismartera.data.schema import quotes, trades
from mismartera.data.tick_kinds import MICROS, TICK_KINDS, TickKind, TickRow

__all__ = ["BATCH_SIZE", "MICROS", "TICK_KINDS", "TickKind", "TickRow", "TickStore", "TickSummary",
           "number_within_microsecond"]
TRADE_COLUMNS = ("ts", "seq", "price", "size", "exchange", "conditions", "trade_id")
QUOTE_COLUMNS = ("ts", "seq", "bid_price", "bid_size", "ask_price", "ask_size", "bid_exchange", "ask_exchange",
                 "conditions")
COLUMNS: dict[str, tuple[str, ...]] = {"trades": TRADE_COLUMNS, "quotes": QUOTE_COLUMNS}
TABLES: dict[str, Table] = {"trades": trades, "quotes": quotes}
BATCH_SIZE = 20_000
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9./_-]{1,16}$")


@dataclass(frozen=True)
class TickSummary:
    symbol: str
    first_ts: int
    last_ts: int
    rows: int


def number_within_microsecond(stamps: Sequence[int]) -> list[int]:
    """The `seq` of each of the sorted `stamps`: 0 for the first row of a microsecond, then 1, 2, …"""
    out = [0] * len(stamps)
    previous = None
    run = 0
    for index, stamp in enumerate(stamps):
        run = run + 1 if stamp == previous else 0
        out[index] = run
        previous = stamp
    return out


def _write_sql(kind: str, dialect: str, symbol: str, upsert: bool) -> tuple[str, bool]:
    """The INSERT (or upsert) statement, and whether each row must be prefixed with the symbol.

    A plain symbol (letters, digits, . / _ -: nothing that can end an SQL literal) is written into
    the statement, which saves a bound parameter and a new tuple per row."""
    columns = COLUMNS[kind]
    mark = "?" if dialect == "sqlite" else "%s"
    literal = bool(_PLAIN_NAME.match(symbol))
    key = f"'{symbol}'" if literal else mark
    sql = f"INSERT INTO {kind} (symbol, {', '.join(columns)}) VALUES ({key}, {', '.join([mark] * len(columns))})"
    if upsert:
        values = columns[2:]
        updates = ", ".join(f"{c} = excluded.{c}" for c in values)
        distinct = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
        changed = " OR ".join(f"{kind}.{c} {distinct} excluded.{c}" for c in values)
        sql += f" ON CONFLICT (symbol, ts, seq) DO UPDATE SET {updates} WHERE {changed}"
    return sql, not literal


class TickStore:
    """Reads and writes one kind of tick ("trades" or "quotes") in one database."""

    def __init__(self, db: Database, kind: TickKind) -> None:
        if kind not in TABLES:
            raise ValueError(f"unknown tick kind {kind!r} (expected trades or quotes)")
        self.db = db
        self.kind: TickKind = kind
        self.table = TABLES[kind]
        self.columns = COLUMNS[kind]

    # ------------------------------------------------------------------ writes
    def upsert(self, symbol: str, rows: Iterable[Sequence], conn: Connection | None = None) -> int:
        """Insert or update rows (identical rows are left untouched). Returns the rows sent."""
        return self._write(True, symbol, rows, conn)

    def insert(self, symbol: str, rows: Iterable[Sequence], conn: Connection | None = None) -> int:
        """Plain insert, for a symbol with no rows yet (faster than `upsert`)."""
        return self._write(False, symbol, rows, conn)

    def _write(self, upsert: bool, symbol: str, rows: Iterable[Sequence], conn: Connection | None) -> int:
        if conn is None:
            with self.db.begin() as own:
                return self._write(upsert, symbol, rows, own)
        sql, prefix = _write_sql(self.kind, conn.dialect.name, symbol, upsert)
        sent = 0
        source = iter(rows)
        while True:
            if prefix:
                batch = [(symbol, *row) for row in islice(source, BATCH_SIZE)]
            else:
                batch = [row if type(row) is tuple else tuple(row) for row in islice(source, BATCH_SIZE)]
            if not batch:
                return sent
            conn.exec_driver_sql(sql, batch)
            sent += len(batch)

    def delete(self, symbol: str, conn: Connection | None = None) -> int:
        statement = delete(self.table).where(self.table.c.symbol == symbol)
        if conn is None:
            with self.db.begin() as own:
                return own.execute(statement).rowcount
        return conn.execute(statement).rowcount

    # ------------------------------------------------------------------ reads
    def _select(self):  # type: ignore[no-untyped-def]
        return select(*(self.table.c[name] for name in self.columns))

    def read(self, symbol: str, start_ts: int, end_ts: int, limit: int | None = None) -> list[TickRow]:
        """Rows with start_ts <= ts < end_ts (microseconds), in time order."""
        c = self.table.c
        statement = (self._select().where(c.symbol == symbol, c.ts >= start_ts, c.ts < end_ts)
                     .order_by(c.ts, c.seq))
        if limit is not None:
            statement = statement.limit(limit)
        with self.db.connect() as conn:
            return [tuple(row) for row in conn.execute(statement)]

    def latest(self, symbol: str, before_ts: int | None = None) -> TickRow | None:
        """The last row of `symbol` (before `before_ts` when given)."""
        c = self.table.c
        statement = self._select().where(c.symbol == symbol)
        if before_ts is not None:
            statement = statement.where(c.ts < before_ts)
        statement = statement.order_by(c.ts.desc(), c.seq.desc()).limit(1)
        with self.db.connect() as conn:
            row = conn.execute(statement).first()
        return tuple(row) if row is not None else None

    def count(self, symbol: str, start_ts: int | None = None, end_ts: int | None = None,
              conn: Connection | None = None) -> int:
        c = self.table.c
        statement = select(func.count()).select_from(self.table).where(c.symbol == symbol)
        if start_ts is not None:
            statement = statement.where(c.ts >= start_ts)
        if end_ts is not None:
            statement = statement.where(c.ts < end_ts)
        if conn is not None:
            return conn.execute(statement).scalar_one()
        with self.db.connect() as own:
            return own.execute(statement).scalar_one()

    def summary(self, symbol: str) -> TickSummary | None:
        """First and last instant and row count of `symbol`, or None when it has no rows."""
        c = self.table.c
        statement = select(func.min(c.ts), func.max(c.ts), func.count()).where(c.symbol == symbol)
        with self.db.connect() as conn:
            first, last, rows = conn.execute(statement).one()
        return None if not rows else TickSummary(symbol, first, last, rows)

    def symbols(self) -> list[str]:
        with self.db.connect() as conn:
            return list(conn.execute(select(self.table.c.symbol).distinct().order_by(self.table.c.symbol)).scalars())
