"""Write stored bars to a CSV file that `data import-file` reads back exactly.

Timestamps are ISO 8601 with the exchange's offset (so a person can read them and the importer needs
no `--tz`); floats are written with `repr`, the shortest text that parses back to the same double,
so export → delete → import gives identical bars.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mismartera.data.bar_store import BarRow, BarStore
from mismartera.errors import DataError, NotFound
from mismartera.exchange import EXCHANGE_TZ

HEADER = "timestamp,open,high,low,close,volume,trade_count,vwap\n"


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def csv_lines(rows: Iterable[BarRow], tz: ZoneInfo = EXCHANGE_TZ) -> Iterator[str]:
    """The CSV text of bar rows, header first, one line at a time (each ending in a newline)."""
    yield HEADER
    for ts, o, h, low, c, v, n, w in rows:
        stamp = datetime.fromtimestamp(ts, tz).isoformat()
        vwap = "" if w is None else repr(w)
        yield f"{stamp},{o!r},{h!r},{low!r},{c!r},{_number(v)},{_number(n)},{vwap}\n"


def export_csv(store: BarStore, symbol: str, interval: str, start_ts: int, end_ts: int, path: Path,
               tz: ZoneInfo = EXCHANGE_TZ) -> int:
    """Write `symbol`'s bars with start_ts <= ts < end_ts to `path` (replaced whole). Returns the row count."""
    rows = store.read(symbol, interval, start_ts, end_ts)
    if not rows:
        raise NotFound(f"no {symbol} {interval} bars in that range (see 'data list')")
    if path.is_dir():
        raise DataError(f"{path} is a folder (expected a file name for the CSV)")
    temporary = path.with_name(path.name + ".partial")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            handle.writelines(csv_lines(rows, tz))
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise DataError(f"cannot write {path}: {exc.strerror}") from None
    return len(rows)
