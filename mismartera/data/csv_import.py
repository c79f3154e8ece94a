"""Import one CSV file of bars: check every row (`csv_parse`), write the good ones in one transaction.

Rows are written as they are checked, on a background thread, all inside one transaction: a bad
file under `--strict` (or a file with no good row), a failure or a kill midway leaves the
database as it was before the file. Re-importing a file changes nothing (idempotent upserts; a
series with no bars yet takes a plain, faster insert).
"""

from __future__ import annotations

import queue
import threading
import time as _time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from mismartera.bars import INTERVAL_SECONDS
from mismartera.data.bar_store import BATCH_SIZE, BarRow, BarStore
from mismartera.data.csv_parse import ParsedFile, parse_csv, pause_gc
from mismartera.errors import DataError, NotFound, UsageError
from mismartera.exchange import EXCHANGE_TZ
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


def read_text(path: Path) -> str:
    """The file's text (UTF-8, a byte-order mark allowed), or a one-line error saying why not."""
    if not path.exists():
        raise NotFound(f"no such file: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder (expected a CSV file)")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a UTF-8 text file (expected CSV)") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None


def extended_hours(tm: TimeManager, stamps: list[int]) -> int | None:
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


def import_file(store: BarStore, tm: TimeManager, path: Path, symbol: str, interval: str = "1m",
                tz: ZoneInfo | None = None, strict: bool = False, progress: Any = None) -> ImportSummary:
    """Check and import one CSV file of `symbol` bars; see the module docstring for the rules.

    Rows are written as they are checked, all in one transaction; when the file turns out bad
    (`strict` and a bad row, or no good row at all) the transaction is rolled back.
    """
    if interval not in INTERVAL_SECONDS:
        raise UsageError(f"unknown interval '{interval}' (expected one of {', '.join(INTERVAL_SECONDS)})")
    zone = tz or EXCHANGE_TZ
    tm.preload()  # load the session table first, so the measured rate is the import's own
    started = _time.perf_counter()
    text = read_text(path)
    if progress is not None:
        progress.update(total=text.count("\n") + 1, description=f"importing {path.name}")
    try:
        with store.db.begin() as conn, pause_gc():
            before = store.count(symbol, interval, conn=conn)
            # A series with no bars yet cannot conflict: a plain insert is safe and faster than an upsert.
            write = store.insert if before == 0 else store.upsert
            writer = _BackgroundWriter(lambda batch: write(symbol, interval, batch, conn=conn))
            try:
                parsed = parse_csv(text, zone, interval, progress, sink=writer.put)
            finally:
                writer.finish()
            if progress is not None:
                progress.update(completed=parsed.lines, total=parsed.lines)
            if parsed.error_count and (strict or not parsed.rows):
                raise _bad_rows_error(path, parsed, "--strict" if strict else "no good rows")
            if not parsed.rows:
                raise DataError(f"{path.name}: no bars in the file (expected rows after the header)")
            after = store.count(symbol, interval, conn=conn)
    except IntegrityError:
        raise DataError(f"another import wrote {symbol} {interval} bars at the same time; nothing was imported "
                        "from this file (run the import again)") from None
    rows = parsed.rows  # sorted by time
    extended = extended_hours(tm, [r[0] for r in rows]) if interval != "1d" else 0
    return ImportSummary(
        path=str(path), symbol=symbol, interval=interval, layout=parsed.layout, rows_read=parsed.lines,
        imported=len(rows), new=after - before, skipped=parsed.error_count, extended_hours=extended,
        first_ts=rows[0][0], last_ts=rows[-1][0], seconds=_time.perf_counter() - started, errors=parsed.errors,
    )
