"""Import trades or quotes of one symbol from a CSV file, and export them to one that reads back exactly.

The file is checked whole first (`tick_csv_parse`), then the good rows are written in one
transaction: under `--strict` a bad row (or a file with no good row) imports nothing. Re-importing
a file changes nothing: rows are keyed by (symbol, microsecond, place within the microsecond) and
written as upserts (a plain, faster insert when the symbol has no rows of that kind yet).
"""

from __future__ import annotations

import csv
import os
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from mismartera.data.csv_parse import pause_gc
from mismartera.data.tick_csv_parse import LAYOUTS, REQUIRED, ParsedTicks, micros_text, parse_ticks
from mismartera.data.tick_store import BATCH_SIZE, TickStore
from mismartera.errors import DataError, NotFound, UsageError
from mismartera.exchange import EXCHANGE_TZ


@dataclass(frozen=True)
class TickImportSummary:
    path: str
    symbol: str
    kind: str
    rows_read: int
    imported: int
    new: int
    skipped: int
    first_ts: int | None
    last_ts: int | None
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise NotFound(f"no such file: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder (expected a CSV file)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None


def _bad_rows_error(path: Path, parsed: ParsedTicks, why: str) -> DataError:
    more = parsed.error_count - len(parsed.errors)
    tail = [f"… and {more} more bad row(s)"] if more > 0 else []
    return DataError(f"{path.name}: {parsed.error_count} bad row(s) of {parsed.lines}, nothing imported ({why})\n"
                     + "\n".join(parsed.errors + tail))


def import_ticks(store: TickStore, path: Path, symbol: str, tz: ZoneInfo | None = None, strict: bool = False,
                 progress: Any = None) -> TickImportSummary:
    """Check and import one CSV file of `symbol`'s trades or quotes (`store.kind`), in one transaction."""
    started = _time.perf_counter()
    raw = _read_bytes(path)
    try:
        parsed = parse_ticks(raw, store.kind, tz or EXCHANGE_TZ)
    except DataError as exc:
        raise DataError(f"{path.name}: {exc}") from None
    if parsed.error_count and (strict or not parsed.rows):
        raise _bad_rows_error(path, parsed, "--strict" if strict else "no good rows")
    if not parsed.rows:
        raise DataError(f"{path.name}: no {store.kind} in the file (expected rows of {store.kind} after the header)")
    if progress is not None:
        progress.update(total=len(parsed.rows), completed=0, description=f"writing {path.name}")
    try:
        with store.db.begin() as conn, pause_gc():
            before = store.count(symbol, conn=conn)
            write = store.insert if before == 0 else store.upsert
            for start in range(0, len(parsed.rows), BATCH_SIZE * 5):
                chunk = parsed.rows[start:start + BATCH_SIZE * 5]
                write(symbol, chunk, conn=conn)
                if progress is not None:
                    progress.advance(len(chunk))
            after = store.count(symbol, conn=conn)
    except IntegrityError:
        raise DataError(f"another import wrote {symbol} {store.kind} at the same time; nothing was imported "
                        "from this file (run the import again)") from None
    return TickImportSummary(path=str(path), symbol=symbol, kind=store.kind, rows_read=parsed.lines,
                             imported=len(parsed.rows), new=after - before, skipped=parsed.error_count,
                             first_ts=parsed.rows[0][0], last_ts=parsed.rows[-1][0],
                             seconds=_time.perf_counter() - started, errors=parsed.errors)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return value


def export_ticks(store: TickStore, symbol: str, start_ts: int, end_ts: int, path: Path,
                 tz: ZoneInfo = EXCHANGE_TZ) -> int:
    """Write `symbol`'s rows with start_ts <= ts < end_ts (microseconds) to `path`, in the layout
    `import_ticks` reads back exactly. Returns the row count."""
    rows = store.read(symbol, start_ts, end_ts)
    if not rows:
        raise NotFound(f"no {symbol} {store.kind} in that range (see 'data info {symbol}')")
    if path.is_dir():
        raise DataError(f"{path} is a folder (expected a file name for the CSV)")
    columns = LAYOUTS[store.kind]
    temporary = path.with_name(path.name + ".partial")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            extra = len(columns) - REQUIRED[store.kind]
            for row in rows:
                # row: ts, seq, numbers…, texts… (the seq is implied by the order of the lines)
                numbers = row[2:2 + REQUIRED[store.kind] - 1]
                texts = row[2 + REQUIRED[store.kind] - 1:][:extra]
                writer.writerow([micros_text(row[0], tz), *map(_cell, numbers), *map(_cell, texts)])
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise DataError(f"cannot write {path}: {exc.strerror}") from None
    return len(rows)
