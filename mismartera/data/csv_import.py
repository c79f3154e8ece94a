"""Import bars from a CSV file: check every row, then write the good ones in one transaction.

Two layouts are read (the header, if any, is matched case-insensitively; without a header the first
layout is assumed):

    Date,Time,Open,High,Low,Close,Volume          date YYYY-MM-DD or MM/DD/YYYY, time HH:MM[:SS]
    timestamp,open,high,low,close,volume[,trade_count,vwap]   ISO 8601, with or without an offset

Times without a zone are read in `tz` (the exchange's by default); every timestamp is the bar's
start and is stored as epoch seconds UTC. The whole file is parsed before anything is written, so
`strict` can refuse a file without touching the database, and the write is one transaction: a
failure or a kill midway leaves the database as it was.

Speed matters (a year of minute bars is ~100k rows a symbol), so the row loop avoids per-row
datetime work: the epoch of each (date, hour) is computed once and cached, and minutes and seconds
are added as integers. Messages for bad rows are worked out on a slow path only when a row fails.
"""

from __future__ import annotations

import csv
import gc
import io
import math
import time as _time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from mismartera.bars import INTERVAL_SECONDS
from mismartera.data.bar_store import BATCH_SIZE, BarRow, BarStore
from mismartera.errors import DataError, NotFound, UsageError
from mismartera.timekeeping.calendar import TimeManager

SHOWN_ERRORS = 20
INF = math.inf
DATE_TIME_COLUMNS = ("date", "time", "open", "high", "low", "close", "volume")
TIMESTAMP_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume", "trade_count", "vwap")
TIMESTAMP_ALIASES = {"timestamp": "timestamp", "datetime": "timestamp", "ts": "timestamp", "t": "timestamp",
                     "trade_count": "trade_count", "trades": "trade_count", "vwap": "vwap",
                     "date": "date", "time": "time", "open": "open", "high": "high", "low": "low",
                     "close": "close", "volume": "volume"}
EXPECTED_LAYOUTS = "Date,Time,Open,High,Low,Close,Volume or timestamp,open,high,low,close,volume[,trade_count,vwap]"


@dataclass(frozen=True)
class ParsedFile:
    """The good rows of a file (sorted by time) and what was wrong with the others."""

    layout: str
    rows: list[BarRow]
    lines: int
    errors: list[str]
    error_count: int


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
    extended_hours: int
    first_ts: int | None
    last_ts: int | None
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------------------------------------- parsing
def _hour_epoch_date_time(day_text: str, hour_text: str, tz: ZoneInfo) -> int:
    """Epoch of `day_text` (YYYY-MM-DD or MM/DD/YYYY) at `hour_text` o'clock in `tz`."""
    if "/" in day_text:
        month, day, year = day_text.split("/")
        when = date(int(year), int(month), int(day))
    else:
        when = date.fromisoformat(day_text)
    hour = int(hour_text)
    return int(datetime(when.year, when.month, when.day, hour, tzinfo=tz).timestamp())


def _iso_epoch(text: str, tz: ZoneInfo) -> int:
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=tz)
    return int(stamp.timestamp())


def _layout(header: list[str]) -> tuple[str, dict[str, int]] | None:
    """The layout and column positions named by a header row, or None if the row is not a header."""
    names = [cell.strip().lower().replace(" ", "_") for cell in header]
    if not names or names[0] not in TIMESTAMP_ALIASES or names[0] in ("open", "high", "low", "close", "volume"):
        return None
    mapped = []
    for name in names:
        if name not in TIMESTAMP_ALIASES:
            raise DataError(f"line 1: unknown column '{name}' (expected {EXPECTED_LAYOUTS})")
        mapped.append(TIMESTAMP_ALIASES[name])
    positions = {name: index for index, name in enumerate(mapped)}
    if len(positions) != len(mapped):
        raise DataError(f"line 1: a column is named twice (expected {EXPECTED_LAYOUTS})")
    if "date" in positions and "time" in positions:
        layout, required = "date,time", DATE_TIME_COLUMNS
    elif "timestamp" in positions:
        layout, required = "timestamp", TIMESTAMP_COLUMNS[:6]
    else:
        raise DataError(f"line 1: the header names no timestamp (expected {EXPECTED_LAYOUTS})")
    missing = [name for name in required if name not in positions]
    if missing:
        raise DataError(f"line 1: missing column(s) {', '.join(missing)} (expected {EXPECTED_LAYOUTS})")
    return layout, positions


def _number(name: str, text: str) -> tuple[float | None, str | None]:
    try:
        value = float(text)
    except ValueError:
        return None, f"{name} '{text}' is not a number"
    return value, None


def _diagnose(cells: list[str], positions: dict[str, int], layout: str, tz: ZoneInfo, step: int) -> str:
    """Why a row was rejected: the first problem found, in words (the slow path for bad rows only)."""
    width = max(positions.values()) + 1
    required = max(positions[n] for n in positions if n not in ("trade_count", "vwap")) + 1
    if not required <= len(cells) <= width:
        return f"expected {width} fields, found {len(cells)}"
    try:
        ts = _slow_ts(cells, positions, layout, tz)
    except (ValueError, OverflowError):
        if layout == "date,time":
            return (f"date/time '{cells[positions['date']]} {cells[positions['time']]}' is not a date "
                    "YYYY-MM-DD or MM/DD/YYYY with a time HH:MM[:SS]")
        return f"timestamp '{cells[positions['timestamp']]}' is not an ISO 8601 date-time"
    if step and ts % 60:
        return f"timestamp {datetime.fromtimestamp(ts, tz).isoformat()} is not on a whole minute"
    values: dict[str, float] = {}
    for name in ("open", "high", "low", "close", "volume"):
        value, problem = _number(name, cells[positions[name]].strip())
        if problem:
            return problem
        values[name] = value  # type: ignore[assignment]
    for name in ("open", "high", "low", "close"):
        if not 0.0 < values[name] < INF:
            return f"{name} {cells[positions[name]].strip()} is not a positive price"
    text = {name: cells[positions[name]].strip() for name in ("open", "high", "low", "close", "volume")}
    for other in ("close", "open", "low"):
        if values["high"] < values[other]:
            return f"high {text['high']} is below {other} {text[other]}"
    for other in ("open", "close"):
        if values["low"] > values[other]:
            return f"low {text['low']} is above {other} {text[other]}"
    if not 0.0 <= values["volume"] < INF:
        why = "is negative" if values["volume"] < 0 else "is not finite"
        return f"volume {text['volume']} {why}"
    for name in ("trade_count", "vwap"):
        if name in positions and positions[name] < len(cells) and cells[positions[name]].strip():
            raw = cells[positions[name]].strip()
            try:
                value = int(raw) if name == "trade_count" else float(raw)
            except ValueError:
                return f"{name} '{raw}' is not a {'whole number' if name == 'trade_count' else 'number'}"
            if not 0 <= value < INF:
                return f"{name} {raw} is negative"
    return "invalid row"


def _day_base(key: str, tz: ZoneInfo) -> int:
    """Epoch of midnight for a cache key `YYYY-MM-DD` (+ separator and zone suffix for ISO stamps).

    Dates are YYYY-MM-DD or MM/DD/YYYY. Returns -1 when the fast path cannot be used for that day:
    the local offset changes during the day (a DST switch), a fractional-second suffix, or an
    unusual shape (those rows go through the slow, exact path).
    """
    if "/" in key:
        month, day_of_month, year = key.split("/")
        day, suffix = date(int(year), int(month), int(day_of_month)), ""
    else:
        if len(key) < 10 or key[4] != "-" or key[7] != "-" or (len(key) > 10 and key[10] not in "T "):
            return -1
        day, suffix = date.fromisoformat(key[:10]), key[11:]
    if suffix.startswith("."):
        return -1
    if suffix:
        return int(datetime.fromisoformat(f"{day.isoformat()}T00:00:00{suffix}").timestamp())
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    late = datetime(day.year, day.month, day.day, 23, 59, tzinfo=tz)
    if midnight.utcoffset() != late.utcoffset():
        return -1
    return int(midnight.timestamp())


def _day_base_or_slow(key: str, tz: ZoneInfo) -> int:
    try:
        return _day_base(key, tz)
    except ValueError:
        return -1


def _slow_ts(cells: list[str], positions: dict[str, int], layout: str, tz: ZoneInfo) -> int:
    """The row's timestamp by the exact, general path; ValueError when it is not a valid date-time."""
    if layout == "date,time":
        day_text, time_text = cells[positions["date"]].strip(), cells[positions["time"]].strip()
        parts = time_text.split(":")
        if len(parts) not in (2, 3) or not all(p.isdigit() and 1 <= len(p) <= 2 for p in parts) \
                or any(len(p) != 2 for p in parts[1:]):
            raise ValueError(time_text)
        minute, second = int(parts[1]), int(parts[2]) if len(parts) == 3 else 0
        if minute > 59 or second > 59:
            raise ValueError(time_text)
        return _hour_epoch_date_time(day_text, parts[0], tz) + minute * 60 + second
    return _iso_epoch(cells[positions["timestamp"]], tz)


# Seconds after midnight of every whole minute, as written "HH:MM" or "HH:MM:00".
_MINUTE_OFFSETS = {f"{h:02d}:{m:02d}{tail}": h * 3600 + m * 60
                   for h in range(24) for m in range(60) for tail in ("", ":00")}


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small tuples.

    The rows hold no reference cycles, but every allocation counts toward a collection, and the
    collector would walk the growing row list again and again (it halves the import speed).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_csv(text: str, tz: ZoneInfo, interval: str = "1m", progress: Any = None) -> ParsedFile:
    """Check every row of a CSV text; return the good rows sorted by time and the problems found."""
    with _no_gc():
        return _parse(text, tz, interval, progress)


def _parse(text: str, tz: ZoneInfo, interval: str, progress: Any) -> ParsedFile:
    step = INTERVAL_SECONDS[interval] if INTERVAL_SECONDS[interval] < 86_400 else 0
    reader = csv.reader(io.StringIO(text))
    first = next(reader, None)
    while first is not None and not any(cell.strip() for cell in first):
        first = next(reader, None)
    if first is None:
        raise DataError("the file has no rows (expected a header and bars, or bars only)")
    found = _layout(first)
    if found is None:
        layout, positions = "date,time", {name: i for i, name in enumerate(DATE_TIME_COLUMNS)}
        pending: list[list[str]] = [first]
    else:
        layout, positions = found
        pending = []
    two_columns = layout == "date,time"
    prices = [positions[n] for n in ("open", "high", "low", "close", "volume")]
    pick = itemgetter(*([positions["date"], positions["time"]] if two_columns else [positions["timestamp"]]), *prices)
    i_n, i_w = positions.get("trade_count", -1), positions.get("vwap", -1)
    extras = i_n >= 0 or i_w >= 0
    width = max(positions.values()) + 1
    offsets = _MINUTE_OFFSETS
    days: dict[str, int] = {}
    seen: set[int] | None = None  # built only if the file turns out not to be in time order
    last_ts = -1
    rows: list[BarRow] = []
    append = rows.append
    errors: list[str] = []
    error_count = 0
    lines = 0
    source = chain(pending, reader)
    # Line numbers assume one physical line per row (no quoted line breaks, which bar files never have).
    next_line = reader.line_num if pending else reader.line_num + 1
    while True:
        chunk = list(islice(source, 50_000))
        if not chunk:
            break
        for index, cells in enumerate(chunk, start=next_line):
            try:
                if len(cells) > width:
                    raise ValueError
                if two_columns:
                    key, minute_text, so, sh, sl, sc, sv = pick(cells)
                else:
                    stamp, so, sh, sl, sc, sv = pick(cells)
                    key, minute_text = stamp[:11] + stamp[19:], stamp[11:19]
                base = days.get(key)
                if base is None:
                    base = days[key] = _day_base_or_slow(key, tz)
                offset = offsets.get(minute_text)
                ts = base + offset if base >= 0 and offset is not None else _slow_ts(cells, positions, layout, tz)
                o = float(so)
                h = float(sh)
                low = float(sl)
                c = float(sc)
                v = float(sv)
                if not (0.0 < low <= o <= h < INF and low <= c <= h and 0.0 <= v < INF) or (step and ts % 60):
                    raise ValueError
                trades = vwap = None
                if extras:
                    if 0 <= i_n < len(cells) and cells[i_n]:
                        trades = int(cells[i_n])
                        if trades < 0:
                            raise ValueError
                    if 0 <= i_w < len(cells) and cells[i_w]:
                        vwap = float(cells[i_w])
                        if not 0.0 <= vwap < INF:
                            raise ValueError
            except (ValueError, IndexError, OverflowError, TypeError):
                if len(cells) < width and not any(cell.strip() for cell in cells):
                    continue  # a blank line
                lines += 1
                error_count += 1
                if len(errors) < SHOWN_ERRORS:
                    errors.append(f"line {index}: {_diagnose(cells, positions, layout, tz, step)}")
                continue
            lines += 1
            if ts <= last_ts:
                if seen is None:
                    seen = {row[0] for row in rows}
                if ts in seen:
                    error_count += 1
                    if len(errors) < SHOWN_ERRORS:
                        when = datetime.fromtimestamp(ts, tz).isoformat()
                        errors.append(f"line {index}: duplicate timestamp {when} "
                                      "(an earlier line has the same time)")
                    continue
            if seen is not None:
                seen.add(ts)
            else:
                last_ts = ts
            append((ts, o, h, low, c, v, trades, vwap))
        next_line += len(chunk)
        if progress is not None:
            progress.advance(len(chunk))
    if seen is not None:
        rows.sort(key=lambda row: row[0])
    return ParsedFile(layout, rows, lines, errors, error_count)


# ---------------------------------------------------------------------------------------------- importing
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


def extended_hours(tm: TimeManager, stamps: list[int], tz: ZoneInfo) -> int:
    """How many of the sorted `stamps` fall outside the regular sessions."""
    if not stamps:
        return 0
    first = datetime.fromtimestamp(stamps[0], tz).date()
    last = datetime.fromtimestamp(stamps[-1], tz).date()
    regular = 0
    for session in tm.sessions(first, last):
        regular += bisect_left(stamps, int(session.close.timestamp())) - bisect_left(stamps, int(
            session.open.timestamp()))
    return len(stamps) - regular


def import_file(store: BarStore, tm: TimeManager, path: Path, symbol: str, interval: str = "1m",
                tz: ZoneInfo | None = None, strict: bool = False, progress: Any = None) -> ImportSummary:
    """Check and import one CSV file of `symbol` bars; see the module docstring for the rules."""
    if interval not in INTERVAL_SECONDS:
        raise UsageError(f"unknown interval '{interval}' (expected one of {', '.join(INTERVAL_SECONDS)})")
    zone = tz or ZoneInfo("America/New_York")
    tm.calendar  # noqa: B018 - load the calendar first, so the measured rate is the import's own
    started = _time.perf_counter()
    text = read_text(path)
    total = text.count("\n") + 1
    if progress is not None:
        progress.update(total=total, description=f"checking {path.name}")
    parsed = parse_csv(text, zone, interval, progress)
    del text
    if parsed.error_count and (strict or not parsed.rows):
        more = parsed.error_count - len(parsed.errors)
        tail = [f"… and {more} more bad row(s)"] if more > 0 else []
        why = "--strict" if strict else "no good rows"
        raise DataError(f"{path.name}: {parsed.error_count} bad row(s) of {parsed.lines}, nothing imported ({why})\n"
                        + "\n".join(parsed.errors + tail))
    if not parsed.rows:
        raise DataError(f"{path.name}: no bars in the file (expected rows after the header)")
    rows = parsed.rows
    first_ts, last_ts = rows[0][0], rows[-1][0]
    if progress is not None:
        progress.update(completed=0, total=len(rows), description=f"writing {symbol} {interval}")
    try:
        with store.db.begin() as conn, _no_gc():
            before = store.count(symbol, interval, first_ts, last_ts + 1, conn=conn)
            # Nothing stored in the file's span: a plain insert is safe and faster than an upsert.
            write = store.insert if before == 0 else store.upsert
            for start in range(0, len(rows), BATCH_SIZE):
                write(symbol, interval, rows[start:start + BATCH_SIZE], conn=conn)
                if progress is not None:
                    progress.advance(min(BATCH_SIZE, len(rows) - start))
            after = store.count(symbol, interval, first_ts, last_ts + 1, conn=conn)
    except IntegrityError:
        raise DataError(f"another import wrote {symbol} {interval} bars at the same time; nothing was imported "
                        "from this file (run the import again)") from None
    extended = extended_hours(tm, [r[0] for r in rows], zone) if interval != "1d" else 0
    return ImportSummary(
        path=str(path), symbol=symbol, interval=interval, layout=parsed.layout, rows_read=parsed.lines,
        imported=len(rows), new=after - before, skipped=parsed.error_count, extended_hours=extended,
        first_ts=first_ts, last_ts=last_ts, seconds=_time.perf_counter() - started, errors=parsed.errors,
    )
