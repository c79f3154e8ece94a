"""Import one CSV file of bars: check every row (`csv_parse`), write the good ones all or nothing.

The file is read as a stream and rows are written as they are checked, on a background thread, so
memory stays flat whatever the file's size. A bad file under `--strict` (or a file with no good
row), a failure or a kill midway leaves the database as it was before the file. Re-importing a file
changes nothing (idempotent upserts; a series with no bars yet takes a plain, faster insert).

SQLite has one writer at a time, so an import must not hold the write lock while it reads a big
file (a backtest beside it, or a second import, would wait for all of it). The rows are staged in a
TEMP table of the import's own connection, which takes no lock on the database, and published with
one `INSERT … SELECT` in one short write transaction (about a second per million rows, all in
SQLite's C code): readers see the file whole or not at all, and a kill before the publish leaves
nothing behind (the temp table goes with the connection). A per-import marker on stored rows was
the other choice; it would put a filter on every read and could not hide an update of an existing
bar. PostgreSQL lets writers of other rows go on during a transaction (MVCC), so there the rows go
straight into `bars` in one transaction.
"""

from __future__ import annotations

import queue
import threading
import time as _time
from array import array
from bisect import bisect_left
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mismartera.bars import INTERVAL_SECONDS
from mismartera.data.bar_store import BATCH_SIZE, COLUMNS, BarRow, BarStore
from mismartera.data.bar_versions import mark_stale
from mismartera.data.csv_parse import ParsedFile, RowLimits, parse_csv, pause_gc
from mismartera.data.database import database_errors, write_transaction
from mismartera.data.ranges import normalize_symbol
from mismartera.errors import DataError, NotFound, UsageError
from mismartera.exchange import EXCHANGE_TZ
from mismartera.files import os_error_line
from mismartera.timekeeping.calendar import TimeManager


@dataclass(frozen=True)
class ImportSummary:
    path: str
    symbol: str
    interval: str
    layout: str
    rows_read: int
    imported: int
    new: int
    skipped: int
    extended_hours: int | None
    first_ts: int | None
    last_ts: int | None
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


def open_csv(path: Path) -> IO[str]:
    """The file opened for reading as UTF-8 text (a byte-order mark skipped), or a one-line error."""
    if not path.exists():
        raise NotFound(f"no such file: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder (expected a CSV file)")
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None


def count_lines(path: Path) -> int:
    """Lines in the file (for the progress bar), counted in binary chunks without decoding."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def extended_hours(tm: TimeManager, stamps: array | list[int]) -> int | None:
    """How many of the sorted `stamps` fall outside the regular sessions (None beyond the calendar)."""
    if not stamps:
        return 0
    first = tm.to_exchange(datetime.fromtimestamp(stamps[0], UTC)).date()
    last = tm.to_exchange(datetime.fromtimestamp(stamps[-1], UTC)).date()
    try:
        sessions = tm.sessions(first, last)
    except UsageError:  # bars before 2000 or far in the future: nothing to compare with
        return None
    regular = 0
    for session in sessions:
        regular += (bisect_left(stamps, int(session.close.timestamp()))
                    - bisect_left(stamps, int(session.open.timestamp())))
    return len(stamps) - regular


class _BackgroundWriter:
    """Writes batches on its own thread while the file is still being checked.

    sqlite3 and psycopg release the GIL while the database works, so checking the next chunk
    overlaps writing the last one. The connection is used by this thread only until `finish`.
    A write error is kept and raised in the caller's thread (at the next `put`, or at `finish`).
    """

    def __init__(self, write: Callable[[list[BarRow]], Any]) -> None:
        self._write = write
        self._queue: queue.Queue[list[BarRow] | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="csv-import-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self.error is None:
                try:
                    self._write(batch)
                except BaseException as exc:  # handed to the caller's thread
                    self.error = exc

    def put(self, rows: list[BarRow]) -> None:
        for start in range(0, len(rows), BATCH_SIZE):
            if self.error is not None:
                raise self.error
            self._queue.put(rows[start:start + BATCH_SIZE])

    def finish(self) -> None:
        """Wait for every batch to be written; raise the write error, if any."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


def _bad_rows_error(path: Path, parsed: ParsedFile, why: str) -> DataError:
    more = parsed.error_count - len(parsed.errors)
    tail = [f"… and {more} more bad row(s)"] if more > 0 else []
    return DataError(f"{path.name}: {parsed.error_count} bad row(s) of {parsed.lines}, nothing imported ({why})\n"
                     + "\n".join(parsed.errors + tail))


_STAGE = "temp.mismartera_import"
_STAGE_INSERT = f"INSERT INTO {_STAGE} VALUES ({', '.join('?' * len(COLUMNS))})"


def import_file(store: BarStore, tm: TimeManager, path: Path, symbol: str, interval: str = "1m",
                tz: ZoneInfo | None = None, strict: bool = False, progress: Any = None,
                limits: RowLimits | None = None) -> ImportSummary:
    """Check and import one CSV file of `symbol` bars; see the module docstring for the rules.

    Rows are written as they are checked; when the file turns out bad (`strict` and a bad row, or
    no good row at all) nothing is published.
    """
    if interval not in INTERVAL_SECONDS:
        raise UsageError(f"unknown interval '{interval}' (expected one of {', '.join(INTERVAL_SECONDS)})")
    symbol = normalize_symbol(symbol)
    zone = tz or EXCHANGE_TZ
    tm.preload()  # load the session table first, so the measured rate is the import's own
    started = _time.perf_counter()
    handle = open_csv(path)
    try:
        if progress is not None:
            progress.update(total=count_lines(path), description=f"importing {path.name}")
        with handle, store.db.writing_as(f"data import-file {path.name} {symbol}"):
            check = _Check(path, zone, interval, strict, progress, limits or RowLimits(), handle)
            if store.db.dialect == "sqlite":
                parsed, new = _import_staged(store, symbol, interval, check)
            else:
                parsed, new = _import_one_transaction(store, symbol, interval, check)
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a UTF-8 text file (expected CSV)") from None
    except OSError as exc:
        raise DataError(os_error_line(exc, "importing", path)) from None
    stamps = parsed.stamps if parsed.in_order else array("q", sorted(parsed.stamps))
    extended = extended_hours(tm, stamps) if interval != "1d" else 0
    return ImportSummary(
        path=str(path), symbol=symbol, interval=interval, layout=parsed.layout, rows_read=parsed.lines,
        imported=parsed.good, new=new, skipped=parsed.error_count, extended_hours=extended,
        first_ts=stamps[0], last_ts=stamps[-1], seconds=_time.perf_counter() - started, errors=parsed.errors,
    )


@dataclass
class _Check:
    """Reads and checks the file, handing the good rows to `write` as they come."""

    path: Path
    zone: ZoneInfo
    interval: str
    strict: bool
    progress: Any
    limits: RowLimits
    handle: IO[str]

    def run(self, write: Callable[[list[BarRow]], Any]) -> ParsedFile:
        writer = _BackgroundWriter(write)
        try:
            parsed = parse_csv(self.handle, self.zone, self.interval, self.progress, sink=writer.put,
                               limits=self.limits)
        finally:
            writer.finish()
        if self.progress is not None:
            self.progress.update(completed=parsed.lines, total=parsed.lines)
        if parsed.error_count and (self.strict or not parsed.good):
            raise _bad_rows_error(self.path, parsed, "--strict" if self.strict else "no good rows")
        if not parsed.good:
            raise DataError(f"{self.path.name}: no bars in the file (expected rows after the header)")
        return parsed


def _import_staged(store: BarStore, symbol: str, interval: str, check: _Check) -> tuple[ParsedFile, int]:
    """SQLite: stage into a TEMP table (no lock on the database), publish in one short write."""
    with database_errors(store.db.url), store.db.engine.connect() as conn, pause_gc():
        # The staged rows need no rollback journal (a failure drops the table) and a modest cache of
        # their own (bounded: larger files spill to the temp file, memory stays flat).
        conn.exec_driver_sql("PRAGMA temp.journal_mode=OFF")
        conn.exec_driver_sql("PRAGMA temp.cache_size=-16000")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_STAGE}")
        conn.exec_driver_sql(f"CREATE TABLE {_STAGE} (ts INTEGER NOT NULL, open REAL NOT NULL, "
                             "high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL, "
                             "trade_count INTEGER, vwap REAL)")
        try:
            parsed = check.run(lambda batch: stage_rows(conn, batch))
            conn.commit()
            with write_transaction(conn):  # the write lock, waited for if another writer has it
                return parsed, _publish(store, conn, symbol, interval, parsed.in_order)
        finally:
            with suppress(SQLAlchemyError):  # a broken connection takes its temp table with it
                if conn.in_transaction():
                    conn.rollback()
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_STAGE}")
                conn.commit()


def stage_rows(conn: Connection, rows: list[BarRow]) -> None:
    """Write a batch of checked rows into the import's temp table."""
    conn.exec_driver_sql(_STAGE_INSERT, rows)


def _publish(store: BarStore, writer: Connection, symbol: str, interval: str, in_order: bool) -> int:
    """Move the staged rows into `bars` in the writer's transaction (on the connection that holds the
    temp table); returns how many bars are new."""
    before = store.count(symbol, interval, conn=writer)
    columns = ", ".join(COLUMNS)
    select = f"SELECT ?, ?, {columns} FROM {_STAGE} WHERE true" + ("" if in_order else " ORDER BY ts")
    sql = f"INSERT INTO bars (symbol, interval, {columns}) {select}"
    if before:
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        changed = " OR ".join(f"bars.{c} IS NOT excluded.{c}" for c in COLUMNS[1:])
        sql += f" ON CONFLICT (symbol, interval, ts) DO UPDATE SET {updates} WHERE {changed}"
    inserted = writer.exec_driver_sql(sql, (symbol, interval)).rowcount
    first, last = writer.exec_driver_sql(f"SELECT min(ts), max(ts) FROM {_STAGE}").one()
    if first is not None:   # in the same transaction as the rows: the replay cache sees the change with them
        mark_stale(writer, symbol, int(first), int(last), interval)
    return store.count(symbol, interval, conn=writer) - before if before else inserted


def _import_one_transaction(store: BarStore, symbol: str, interval: str, check: _Check) -> tuple[ParsedFile, int]:
    """PostgreSQL (and other servers): every row in one transaction, rolled back if the file is bad."""
    try:
        with store.db.begin() as conn, pause_gc():
            before = store.count(symbol, interval, conn=conn)
            # A series with no bars yet cannot conflict: a plain insert is safe and faster than an upsert.
            write = store.insert if before == 0 else store.upsert
            parsed = check.run(lambda batch: write(symbol, interval, batch, conn=conn))
            return parsed, store.count(symbol, interval, conn=conn) - before
    except IntegrityError:
        raise DataError(f"another import wrote {symbol} {interval} bars at the same time; nothing was imported "
                        "from this file (run the import again)") from None
