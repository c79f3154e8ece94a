"""Read bars from CSV text: find the layout, check every row, and say exactly what is wrong with bad ones.

Two layouts are read (the header, if any, is matched case-insensitively; without a header the first
layout is assumed):

    Date,Time,Open,High,Low,Close,Volume          date YYYY-MM-DD or MM/DD/YYYY, time HH:MM[:SS]
    timestamp,open,high,low,close,volume[,trade_count,vwap]   ISO 8601, with or without an offset

Times without a zone are read in `tz`; every timestamp is the bar's start, as epoch seconds UTC.

Speed matters (a year of minute bars is ~100k rows a symbol), so the row loop avoids per-row
datetime work: the epoch of each day's midnight is computed once and cached, and the minute of
the day comes from a table of every "HH:MM"; the usual column orders are unpacked directly, and
a file in time order needs one comparison per row to rule out duplicates. Anything unusual (a
DST-switch day, seconds, other column orders) takes an exact slow path, and the message for a
bad row is worked out only when a row fails.
"""

from __future__ import annotations

import csv
import gc
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, islice
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from mismartera.bars import INTERVAL_SECONDS
from mismartera.data.bar_store import BarRow
from mismartera.errors import DataError

SHOWN_ERRORS = 20
CHUNK_ROWS = 20_000
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


def _hour_epoch_date_time(day_text: str, hour_text: str, tz: ZoneInfo) -> int:
    """Epoch of `day_text` (YYYY-MM-DD or MM/DD/YYYY) at `hour_text` o'clock in `tz`."""
    if "/" in day_text:
        month, day, year = day_text.split("/")
        if len(year) != 4:  # "11/1/24" must not become the year 24
            raise ValueError(day_text)
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
    required: tuple[str, ...]
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
        if len(year) != 4:
            raise ValueError(key)
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


_DATE_TIME, _TIMESTAMP_FULL, _OTHER = 0, 1, 2
_CANONICAL = {_DATE_TIME: {name: i for i, name in enumerate(DATE_TIME_COLUMNS)},
              _TIMESTAMP_FULL: {name: i for i, name in enumerate(TIMESTAMP_COLUMNS)}}

# Seconds after midnight of every whole minute, as written "HH:MM" or "HH:MM:00".
_MINUTE_OFFSETS = {f"{h:02d}:{m:02d}{tail}": h * 3600 + m * 60
                   for h in range(24) for m in range(60) for tail in ("", ":00")}


@contextmanager
def pause_gc() -> Iterator[None]:
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


def parse_csv(text: str, tz: ZoneInfo, interval: str = "1m", progress: Any = None,
              sink: Callable[[list[BarRow]], None] | None = None) -> ParsedFile:
    """Check every row of a CSV text; return the good rows sorted by time and the problems found.

    `sink`, when given, receives the good rows of each chunk as soon as it is checked (so they can
    be written while the rest is still being read).
    """
    with pause_gc():
        return _parse(text, tz, interval, progress, sink)


def _parse(text: str, tz: ZoneInfo, interval: str, progress: Any,
           sink: Callable[[list[BarRow]], None] | None) -> ParsedFile:
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
    # The usual column orders unpack a row directly; anything else goes through `pick`.
    if positions == _CANONICAL[_DATE_TIME]:
        shape = _DATE_TIME
    elif positions == _CANONICAL[_TIMESTAMP_FULL]:
        shape = _TIMESTAMP_FULL
    else:
        shape = _OTHER
    offsets = _MINUTE_OFFSETS
    days: dict[str, int] = {}
    seen: set[int] | None = None  # built only if the file turns out not to be in time order
    last_ts: float = -1
    rows: list[BarRow] = []
    append = rows.append
    errors: list[str] = []
    error_count = 0
    source = chain(pending, reader)
    # Line numbers assume one physical line per row (no quoted line breaks, which bar files never have).
    next_line = reader.line_num if pending else reader.line_num + 1
    sent = 0
    while True:
        chunk = list(islice(source, CHUNK_ROWS))
        if not chunk:
            break
        for index, cells in enumerate(chunk, start=next_line):
            try:
                trades = vwap = None
                if shape == _DATE_TIME:
                    key, minute_text, so, sh, sl, sc, sv = cells  # ValueError on a wrong field count
                elif shape == _TIMESTAMP_FULL:
                    stamp, so, sh, sl, sc, sv, sn, sw = cells
                    key, minute_text = stamp[:11] + stamp[19:], stamp[11:19]
                    if sn:
                        trades = int(sn)
                        if trades < 0:
                            raise ValueError
                    if sw:
                        vwap = float(sw)
                        if not 0.0 <= vwap < INF:
                            raise ValueError
                else:
                    if len(cells) > width:
                        raise ValueError
                    if two_columns:
                        key, minute_text, so, sh, sl, sc, sv = pick(cells)
                    else:
                        stamp, so, sh, sl, sc, sv = pick(cells)
                        key, minute_text = stamp[:11] + stamp[19:], stamp[11:19]
                    if extras:
                        if 0 <= i_n < len(cells) and cells[i_n]:
                            trades = int(cells[i_n])
                            if trades < 0:
                                raise ValueError
                        if 0 <= i_w < len(cells) and cells[i_w]:
                            vwap = float(cells[i_w])
                            if not 0.0 <= vwap < INF:
                                raise ValueError
                base = days.get(key)
                if base is None:
                    base = days[key] = _day_base_or_slow(key, tz)
                offset = offsets.get(minute_text)
                if base >= 0 and offset is not None:
                    ts = base + offset  # whole minutes by construction
                else:
                    ts = _slow_ts(cells, positions, layout, tz)
                    if step and ts % 60:
                        raise ValueError
                o = float(so)
                h = float(sh)
                low = float(sl)
                c = float(sc)
                v = float(sv)
                if not (0.0 < low <= o <= h < INF and low <= c <= h and 0.0 <= v < INF):
                    raise ValueError
            except (ValueError, IndexError, OverflowError, TypeError):
                if len(cells) < width and not any(cell.strip() for cell in cells):
                    continue  # a blank line
                error_count += 1
                if len(errors) < SHOWN_ERRORS:
                    errors.append(f"line {index}: {_diagnose(cells, positions, layout, tz, step)}")
                continue
            if ts > last_ts:  # the usual case: a file in time order cannot repeat a time
                last_ts = ts
                append((ts, o, h, low, c, v, trades, vwap))
                continue
            if seen is None:  # out of order: from now on every row is checked against a set
                seen = {row[0] for row in rows}
                last_ts = INF
            if ts in seen:
                error_count += 1
                if len(errors) < SHOWN_ERRORS:
                    when = datetime.fromtimestamp(ts, tz).isoformat()
                    errors.append(f"line {index}: duplicate timestamp {when} (an earlier line has the same time)")
                continue
            seen.add(ts)
            append((ts, o, h, low, c, v, trades, vwap))
        next_line += len(chunk)
        if sink is not None and len(rows) > sent:
            sink(rows[sent:])
            sent = len(rows)
        if progress is not None:
            progress.advance(len(chunk))
    if seen is not None:
        rows.sort(key=lambda row: row[0])
    return ParsedFile(layout, rows, len(rows) + error_count, errors, error_count)


