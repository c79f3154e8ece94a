"""Read trades or quotes from a CSV file: check every row and say by line number what is wrong.

Layouts (a header line, matched case-insensitively, may name the columns in any order; without one
the columns are taken in this order):

    trades   timestamp,price,size[,exchange,conditions,id]
    quotes   timestamp,bid_price,bid_size,ask_price,ask_size[,bid_exchange,ask_exchange,conditions]

Timestamps are ISO 8601 with up to microseconds; one without an offset is read in `tz`. A file of
trades is large (a liquid symbol trades a million times a day), so the work is done a column at a
time by pandas' C reader and vectorised checks; the per-row messages are built only for bad rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mismartera.data.csv_parse import pause_gc
from mismartera.data.tick_store import MICROS
from mismartera.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

SHOWN_ERRORS = 20
LAYOUTS: dict[str, tuple[str, ...]] = {
    "trades": ("timestamp", "price", "size", "exchange", "conditions", "id"),
    "quotes": ("timestamp", "bid_price", "bid_size", "ask_price", "ask_size", "bid_exchange", "ask_exchange",
               "conditions"),
}
REQUIRED = {"trades": 3, "quotes": 5}
ALIASES = {"ts": "timestamp", "t": "timestamp", "datetime": "timestamp", "time": "timestamp",
           "trade_id": "id", "bid": "bid_price", "ask": "ask_price"}
MAX_TEXT = 64  # exchange codes and conditions (the column width in the database)


def layout_text(kind: str) -> str:
    columns = LAYOUTS[kind]
    required = REQUIRED[kind]
    return ",".join(columns[:required]) + "[," + ",".join(columns[required:]) + "]"


@dataclass(frozen=True)
class ParsedTicks:
    """The good rows of a file, sorted by time (file order kept within a microsecond), and the bad ones."""

    kind: str
    rows: list[tuple]
    lines: int
    errors: list[str]
    error_count: int


def _columns(kind: str, first: list[str]) -> tuple[list[str], bool]:
    """The column names of the file and whether its first line is a header."""
    known = LAYOUTS[kind]
    names = [ALIASES.get(cell.strip().lower(), cell.strip().lower()) for cell in first]
    if names and names[0] == "timestamp":
        unknown = [n for n in names if n not in known]
        missing = [n for n in known[:REQUIRED[kind]] if n not in names]
        if unknown or missing or len(set(names)) != len(names):
            what = (f"unknown column(s) {', '.join(unknown)}" if unknown else
                    f"missing column(s) {', '.join(missing)}" if missing else "a column named twice")
            raise DataError(f"header has {what} (expected {layout_text(kind)})")
        return names, True
    if not REQUIRED[kind] <= len(first) <= len(known):
        raise DataError(f"line 1 has {len(first)} field(s) (expected {layout_text(kind)}, header optional)")
    return list(known[:len(first)]), False


def _epoch_micros(stamps: pd.Series, tz: ZoneInfo) -> tuple[Any, Any]:
    """Epoch microseconds of ISO 8601 texts (int64 array) and a mask of those that did not parse."""
    import numpy as np
    import pandas as pd

    text = stamps
    # An offset ends the text: "Z", "+hh:mm" or "-hh:mm" (a bare date, 10 characters, has a '-' there too).
    aware = (text.str[-1] == "Z") | (text.str[-6].isin(("+", "-")) & (text.str.len() > 10))
    out = np.zeros(len(text), dtype="int64")
    bad = np.zeros(len(text), dtype=bool)
    for mask, localize in ((aware.to_numpy(), False), ((~aware).to_numpy(), True)):
        if not mask.any():
            continue
        part = text[mask]
        if localize:
            parsed = pd.to_datetime(part, format="ISO8601", errors="coerce")
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        else:
            parsed = pd.to_datetime(part, format="ISO8601", errors="coerce", utc=True)
        missing = parsed.isna().to_numpy()
        values = parsed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        out[mask] = np.where(missing, 0, values.astype("int64"))
        bad[mask] = missing
    return out, bad


def _seq(ts: Any) -> Any:
    """`number_within_microsecond` for a sorted int64 array, vectorised."""
    import numpy as np

    index = np.arange(len(ts))
    starts = np.ones(len(ts), dtype=bool)
    starts[1:] = ts[1:] != ts[:-1]
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def _rows(kind: str, stamps: Any, numbers: dict[str, Any], texts: dict[str, list | None]) -> list[tuple]:
    """Row tuples sorted by time (stable: file order within a microsecond), each with its `seq`."""
    import numpy as np

    ordered = len(stamps) < 2 or bool((stamps[1:] >= stamps[:-1]).all())
    order = None if ordered else np.argsort(stamps, kind="stable")
    ts = stamps if order is None else stamps[order]
    columns: list[list] = [ts.tolist(), _seq(ts).tolist()]
    for name in LAYOUTS[kind][1:REQUIRED[kind]]:
        columns.append((numbers[name] if order is None else numbers[name][order]).tolist())
    for name in LAYOUTS[kind][REQUIRED[kind]:]:
        values = texts.get(name)
        if values is None:
            columns.append([None] * len(ts))
        else:
            columns.append(values if order is None else [values[i] for i in order.tolist()])
    return list(zip(*columns, strict=True))


def _parse_clean(raw: bytes, kind: str, names: list[str], header: bool, tz: ZoneInfo) -> ParsedTicks | None:
    """The fast path, for a file with no bad row: pyarrow's multi-threaded CSV reader and its strict
    timestamp casts. Returns None at the first sign of trouble; `parse_ticks` then finds every bad row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    numeric = LAYOUTS[kind][1:REQUIRED[kind]]
    try:
        table = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if header else 0),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: (pa.float64() if n in numeric else pa.string()) for n in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
        stamps = table.column("timestamp")
        try:
            parsed = pc.cast(stamps, pa.timestamp("us", "UTC"))
        except pa.ArrowInvalid:  # no offsets: local times in `tz` (a time in a DST gap or overlap fails)
            parsed = pc.assume_timezone(pc.cast(stamps, pa.timestamp("us")), tz.key)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    ts = parsed.cast(pa.int64()).to_numpy()
    numbers = {}
    for name in numeric:
        column = table.column(name).to_numpy()
        floor_ok = column > 0 if name == "price" else column >= 0
        if not (np.isfinite(column) & floor_ok).all():
            return None
        numbers[name] = column
    texts: dict[str, list | None] = {}
    for name in LAYOUTS[kind][REQUIRED[kind]:]:
        if name not in names:
            continue
        column = table.column(name)
        if len(column) and pc.max(pc.utf8_length(column)).as_py() > MAX_TEXT:
            return None
        if name == "id":
            if pc.all(pc.match_substring_regex(column, r"^(\d{1,18})?$")).as_py() not in (True, None):
                return None
            texts[name] = [int(v) if v else None for v in column.to_pylist()]
        else:
            texts[name] = [v or None for v in column.to_pylist()]
    return ParsedTicks(kind=kind, rows=_rows(kind, ts, numbers, texts), lines=table.num_rows, errors=[],
                       error_count=0)


def parse_ticks(data: str | bytes, kind: str, tz: ZoneInfo) -> ParsedTicks:
    """Check every row of a trades or quotes CSV text; see the module docstring for the layouts."""

    raw = data.encode() if isinstance(data, str) else data
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    first_line = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    if not first_line.strip():
        raise DataError(f"the file is empty (expected {layout_text(kind)})")
    names, header = _columns(kind, first_line.split(","))
    with pause_gc():  # a million small tuples: the cyclic collector would walk them again and again
        clean = _parse_clean(raw, kind, names, header, tz)
        if clean is not None:
            return clean
        return _parse_checked(raw, kind, names, header, tz)


def _parse_checked(raw: bytes, kind: str, names: list[str], header: bool, tz: ZoneInfo) -> ParsedTicks:
    """The slow path: every cell read as text and checked, each bad row named by its line."""
    import numpy as np
    import pandas as pd

    numeric = LAYOUTS[kind][1:REQUIRED[kind]]
    options: dict[str, Any] = {"header": None, "skiprows": 1 if header else 0, "names": names,
                               "keep_default_na": False, "na_filter": False, "skip_blank_lines": False,
                               "on_bad_lines": "error", "engine": "c"}
    try:  # every cell as text, so that each bad one can be named
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, **options)
    except pd.errors.ParserError as exc:
        raise DataError(f"unreadable CSV ({str(exc).strip()}); expected {layout_text(kind)}") from None
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file (expected CSV)") from None
    count = len(frame)
    first_line_no = 2 if header else 1
    reasons = np.full(count, "", dtype=object)

    def flag(mask: Any, reason: str) -> None:
        fresh = mask & (reasons == "")
        reasons[fresh] = reason

    flag((frame.apply(lambda column: column.str.len()).sum(axis=1) == 0).to_numpy(), "blank line")
    stamps, bad_time = _epoch_micros(frame["timestamp"], tz)
    flag(bad_time, "timestamp is not an ISO 8601 time (e.g. 2024-11-01T09:30:00.123456-04:00), "
                   "or does not exist in that zone")
    values: dict[str, Any] = {}
    for name in numeric:
        column = pd.to_numeric(frame[name].str.strip(), errors="coerce").to_numpy(dtype="float64")
        values[name] = column
        flag(~np.isfinite(column), f"{name} '{{}}' is not a number")
        floor_ok = column > 0 if name == "price" else column >= 0
        flag(np.isfinite(column) & ~floor_ok,
             f"{name} {{}} must be {'positive' if name == 'price' else 'zero or more'}")
    texts: dict[str, Any] = {}
    for name in LAYOUTS[kind][REQUIRED[kind]:]:
        if name not in frame:
            texts[name] = None
            continue
        column = frame[name].str.strip()
        if name == "id":
            whole = column.str.fullmatch(r"\d{1,18}").to_numpy(dtype=bool)
            flag((column != "").to_numpy() & ~whole, "id '{}' is not a whole number")
            texts[name] = column
        else:
            flag((column.str.len() > MAX_TEXT).to_numpy(), f"{name} is longer than {MAX_TEXT} characters")
            texts[name] = column
    good = reasons == ""
    errors: list[str] = []
    bad_index = np.flatnonzero(~good)
    for index in bad_index[:SHOWN_ERRORS]:
        reason = str(reasons[index])
        if "{}" in reason:
            field = reason.split(" ", 1)[0]
            cell = frame["timestamp" if field == "timestamp" else field].iat[index]
            reason = reason.replace("{}", str(cell)[:40])
        errors.append(f"line {index + first_line_no}: {reason}")
    texts_kept: dict[str, list | None] = {}
    for name in LAYOUTS[kind][REQUIRED[kind]:]:
        column = texts[name]
        if column is None:
            texts_kept[name] = None
        else:
            picked = column.to_numpy()[good].tolist()
            texts_kept[name] = [(int(v) if v else None) if name == "id" else (v or None) for v in picked]
    rows = _rows(kind, stamps[good], {n: values[n][good] for n in numeric}, texts_kept)
    return ParsedTicks(kind=kind, rows=rows, lines=count, errors=errors,
                       error_count=int(bad_index.size))


def micros_text(ts: int, tz: ZoneInfo) -> str:
    """ISO 8601 text of epoch microseconds in `tz` (microseconds shown when not zero)."""
    from datetime import datetime

    seconds, micros = divmod(ts, MICROS)
    return datetime.fromtimestamp(seconds, tz).replace(microsecond=micros).isoformat()
