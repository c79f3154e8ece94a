"""Read bars from CSV text: find the layout, check every row, and say exactly what is wrong with bad ones.

Two layouts are read (the header, if any, is matched case-insensitively; without a header the first
layout is assumed):

    Date,Time,Open,High,Low,Close,Volume          date YYYY-MM-DD or MM/DD/YYYY, time HH:MM[:SS]
    timestamp,open,high,low,close,volume[,trade_count,vwap]   ISO 8601, with or without an offset

Times without a zone are read in `tz`; every timestamp is the bar's start, as epoch seconds UTC.
A local time that does not exist in `tz` (the hour skipped when clocks go forward) or happens twice
(when they go back) is a bad row: the file must give such times with their UTC offset.

Out-of-range values are bad rows, never stored (`RowLimits`): a bar time before 1970 or from 2100
on, a price or vwap that is not finite, not positive or above `max_price`, a volume or trade count
that is negative, not finite or above `max_volume`.

The text is read as a stream (a file object or any iterable of lines): with a `sink`, the good rows
go out a chunk at a time and only their timestamps are kept, so memory stays flat whatever the size.

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
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain, islice
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from mismartera.bars import INTERVAL_SECONDS
from mismartera.data.bar_store import BarRow
from mismartera.data.ranges import END_TS, FIRST_TS
from mismartera.errors import DataError
from mismartera.timekeeping.calendar import wall_time_problem

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


SHOWN_TEXT = 40              # characters of a bad field quoted in a message


@dataclass(frozen=True)
class RowLimits:
    """The largest values a bar may carry (beyond them a row is bad, not stored)."""

    max_price: float = 1e9
    max_volume: float = 1e13


class RowProblem(ValueError):
    """A row is bad for a reason worth its own words (its message is the row's error)."""


@dataclass(frozen=True)
class ParsedFile:
    """The good rows of a file (sorted by time; empty when they went to a sink) and what was wrong with
    the others. `stamps` holds every good row's time in file order; `in_order` says whether the file was
    already sorted."""

    layout: str
    rows: list[BarRow]
    lines: int
    errors: list[str]
    error_count: int
    stamps: array = field(default_factory=lambda: array("q"))
    in_order: bool = True

    @property
    def good(self) -> int:
        return len(self.stamps)


def shown(text: str) -> str:
    """A field as quoted in a message: cut to `SHOWN_TEXT` characters."""
    return text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT] + f"… ({len(text):,} characters)"


def _localize(wall: datetime, tz: ZoneInfo) -> int:
    """Epoch of a naive exchange-local `wall` time in `tz`; RowProblem when it does not exist or is ambiguous."""
    problem = wall_time_problem(wall, tz)
    if problem:
        raise RowProblem(problem)
    return _in_range(int(wall.replace(tzinfo=tz).timestamp()), wall.isoformat())


def _in_range(ts: int, text: str) -> int:
    if not FIRST_TS <= ts < END_TS:
        raise RowProblem(f"timestamp {shown(text)} is outside 1970-2099 (expected a bar time from "
                         "1970-01-01 to 2099-12-31)")
    return ts


def _wall_date(day_text: str) -> date:
    """A date written YYYY-MM-DD or MM/DD/YYYY."""
    if "/" in day_text:
        month, day, year = day_text.split("/")
        if len(year) != 4:  # "11/1/24" must not become the year 24
            raise ValueError(day_text)
        return date(int(year), int(month), int(day))
    return date.fromisoformat(day_text)


def _iso_epoch(text: str, tz: ZoneInfo) -> int:
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        return _localize(stamp, tz)
    if not 1970 <= stamp.year <= 2099:
        raise RowProblem(f"timestamp {shown(text.strip())} is outside 1970-2099 (expected a bar time from "
                         "1970-01-01 to 2099-12-31)")
    return _in_range(int(stamp.timestamp()), text.strip())


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
        return None, f"{name} '{shown(text)}' is not a number"
    return value, None


def _diagnose(cells: list[str], positions: dict[str, int], layout: str, tz: ZoneInfo, step: int,
              limits: RowLimits) -> str:
    """Why a row was rejected: the first problem found, in words (the slow path for bad rows only)."""
    width = max(positions.values()) + 1
    required = max(positions[n] for n in positions if n not in ("trade_count", "vwap")) + 1
    if not required <= len(cells) <= width:
        return f"expected {width} fields, found {len(cells)}"
    try:
        ts = _slow_ts(cells, positions, layout, tz)
    except RowProblem as why:
        return str(why)
    except (ValueError, OverflowError):
        if layout == "date,time":
            return (f"date/time '{shown(cells[positions['date']])} {shown(cells[positions['time']])}' is not a "
                    "date YYYY-MM-DD or MM/DD/YYYY with a time HH:MM[:SS]")
        return f"timestamp '{shown(cells[positions['timestamp']])}' is not an ISO 8601 date-time"
    if step and ts % 60:
        return f"timestamp {datetime.fromtimestamp(ts, tz).isoformat()} is not on a whole minute"
    values: dict[str, float] = {}
    for name in ("open", "high", "low", "close", "volume"):
        value, problem = _number(name, cells[positions[name]].strip())
        if problem:
            return problem
        values[name] = value  # type: ignore[assignment]
    text = {name: shown(cells[positions[name]].strip()) for name in ("open", "high", "low", "close", "volume")}
    for name in ("open", "high", "low", "close"):
        if not math.isfinite(values[name]):
            return f"{name} {text[name]} is not a finite number"
        if not values[name] > 0.0:
            return f"{name} {text[name]} is not a positive price"
        if values[name] > limits.max_price:
            return f"{name} {text[name]} is above the largest price allowed ({limits.max_price:g})"
    for other in ("close", "open", "low"):
        if values["high"] < values[other]:
            return f"high {text['high']} is below {other} {text[other]}"
    for other in ("open", "close"):
        if values["low"] > values[other]:
            return f"low {text['low']} is above {other} {text[other]}"
    if not math.isfinite(values["volume"]):
        return f"volume {text['volume']} is not finite"
    if values["volume"] < 0:
        return f"volume {text['volume']} is negative"
    if values["volume"] > limits.max_volume:
        return f"volume {text['volume']} is above the largest volume allowed ({limits.max_volume:g})"
    for name in ("trade_count", "vwap"):
        if name in positions and positions[name] < len(cells) and cells[positions[name]].strip():
            raw = cells[positions[name]].strip()
            try:
                value = int(raw) if name == "trade_count" else float(raw)
            except ValueError:
                return f"{name} '{shown(raw)}' is not a {'whole number' if name == 'trade_count' else 'number'}"
            largest = limits.max_volume if name == "trade_count" else limits.max_price
            if not math.isfinite(value):
                return f"{name} {shown(raw)} is not finite"
            if value < 0:
                return f"{name} {shown(raw)} is negative"
            if value > largest:
                return f"{name} {shown(raw)} is above the largest {name} allowed ({largest:g})"
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
    if not 1970 <= day.year <= 2099:
        return -1  # the slow path says why
    if suffix:
        base = int(datetime.fromisoformat(f"{day.isoformat()}T00:00:00{suffix}").timestamp())
    else:
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        late = datetime(day.year, day.month, day.day, 23, 59, tzinfo=tz)
        if midnight.utcoffset() != late.utcoffset():
            return -1
        base = int(midnight.timestamp())
    return base if base >= FIRST_TS and base + 86_400 <= END_TS else -1


def _day_base_or_slow(key: str, tz: ZoneInfo) -> int:
    try:
        return _day_base(key, tz)
    except (ValueError, OverflowError):
        return -1


def _slow_ts(cells: list[str], positions: dict[str, int], layout: str, tz: ZoneInfo) -> int:
    """The row's timestamp by the exact, general path; ValueError when it is not a valid date-time."""
    if layout == "date,time":
        day_text, time_text = cells[positions["date"]].strip(), cells[positions["time"]].strip()
        parts = time_text.split(":")
        if len(parts) not in (2, 3) or not all(p.isdigit() and 1 <= len(p) <= 2 for p in parts) \
                or any(len(p) != 2 for p in parts[1:]):
            raise ValueError(time_text)
        hour, minute, second = int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(time_text)
        day = _wall_date(day_text)
        if not 1970 <= day.year <= 2099:
            raise RowProblem(f"date {shown(day_text)} is outside 1970-2099 (expected a bar time from "
                             "1970-01-01 to 2099-12-31)")
        wall = datetime(day.year, day.month, day.day) + timedelta(hours=hour, minutes=minute, seconds=second)
        return _localize(wall, tz)
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


def parse_csv(text: str | Iterable[str], tz: ZoneInfo, interval: str = "1m", progress: Any = None,
              sink: Callable[[list[BarRow]], None] | None = None, limits: RowLimits | None = None) -> ParsedFile:
    """Check every row of CSV text (a string, or a stream of lines such as an open file); return the
    problems found and, without a `sink`, the good rows sorted by time.

    `sink`, when given, receives the good rows of each chunk as soon as it is checked (so they can be
    written while the rest is still being read) and the rows are not kept.
    """
    lines = io.StringIO(text) if isinstance(text, str) else text
    with pause_gc():
        return _parse(lines, tz, interval, progress, sink, limits or RowLimits())


def _rows_of(reader: Any, line: Callable[[], int]) -> Iterator[list[str]]:
    """The csv reader's rows; a row the csv module refuses becomes a DataError naming its line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise DataError(f"line {line()}: field longer than {csv.field_size_limit():,} characters "
                                "(a bar file's fields are short: is this a CSV file of bars?)") from None
            raise DataError(f"line {line()}: not a CSV row ({exc})") from None


def _parse(lines: Iterable[str], tz: ZoneInfo, interval: str, progress: Any,
           sink: Callable[[list[BarRow]], None] | None, limits: RowLimits) -> ParsedFile:
    step = INTERVAL_SECONDS[interval] if INTERVAL_SECONDS[interval] < 86_400 else 0
    raw = csv.reader(lines)
    reader = _rows_of(raw, lambda: raw.line_num)
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
    max_price, max_volume = limits.max_price, limits.max_volume
    days: dict[str, int] = {}
    seen: set[int] | None = None  # built only if the file turns out not to be in time order
    last_ts: float = -1
    kept: list[BarRow] = []       # every good row, when there is no sink
    stamps = array("q")
    errors: list[str] = []
    error_count = 0
    source = chain(pending, reader)
    # Line numbers assume one physical line per row (no quoted line breaks, which bar files never have).
    next_line = raw.line_num if pending else raw.line_num + 1
    while True:
        chunk = list(islice(source, CHUNK_ROWS))
        if not chunk:
            break
        rows: list[BarRow] = []
        append = rows.append
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
                        if not 0 <= trades <= max_volume:
                            raise ValueError
                    if sw:
                        vwap = float(sw)
                        if not 0.0 <= vwap <= max_price:
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
                            if not 0 <= trades <= max_volume:
                                raise ValueError
                        if 0 <= i_w < len(cells) and cells[i_w]:
                            vwap = float(cells[i_w])
                            if not 0.0 <= vwap <= max_price:
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
                # NaN fails every comparison, so it is caught here too.
                if not (0.0 < low <= o <= h <= max_price and low <= c <= h and 0.0 <= v <= max_volume):
                    raise ValueError
            except (ValueError, IndexError, OverflowError, TypeError):
                if len(cells) < width and not any(cell.strip() for cell in cells):
                    continue  # a blank line
                error_count += 1
                if len(errors) < SHOWN_ERRORS:
                    errors.append(f"line {index}: {_diagnose(cells, positions, layout, tz, step, limits)}")
                continue
            if ts > last_ts:  # the usual case: a file in time order cannot repeat a time
                last_ts = ts
                append((ts, o, h, low, c, v, trades, vwap))
                continue
            if seen is None:  # out of order: from now on every row is checked against a set
                seen = set(stamps)
                seen.update(row[0] for row in rows)
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
        stamps.extend(map(_FIRST, rows))
        if rows:
            if sink is not None:
                sink(rows)
            else:
                kept.extend(rows)
        if progress is not None:
            progress.advance(len(chunk))
    if seen is not None:
        kept.sort(key=_FIRST)
    return ParsedFile(layout, kept, len(stamps) + error_count, errors, error_count, stamps, seen is None)


_FIRST = itemgetter(0)
