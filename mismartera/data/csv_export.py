"""Write stored bars to a CSV file that `data import-file` reads back exactly.

Timestamps are ISO 8601 with the exchange's offset (so a person can read them and the importer needs
no `--tz`); floats are written with `repr`, the shortest text that parses back to the same double,
so export → delete → import gives identical bars.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from mismartera.data.bar_store import BarRow, BarStore
from mismartera.errors import DataError, NotFound
from mismartera.exchange import EXCHANGE_TZ
from mismartera.files import os_error_line

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
    """Write `symbol`'s bars with start_ts <= ts < end_ts to `path`. Returns the row count.

    A regular file (or a missing one) is replaced whole, atomically: a reader sees the old file or
    the new one, and a failure (disk full) leaves the old one. A symbolic link is followed (the file it
    points to is replaced, the link stays). A FIFO or a device is written to as it is (`-o /dev/stdout`,
    a pipe to another program); a folder is refused.
    """
    rows = store.read(symbol, interval, start_ts, end_ts)
    if not rows:
        raise NotFound(f"no {symbol} {interval} bars in that range (see 'data list')")
    target = path.resolve() if path.is_symlink() else path
    try:
        found = target.stat()
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise DataError(os_error_line(exc, "writing", path)) from None
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise DataError(f"{path} is a folder (expected a file name for the CSV)")
    try:
        if found is not None and not stat.S_ISREG(found.st_mode):
            with _open_special(target, path, found.st_mode) as handle:  # a FIFO or a device: write through
                handle.writelines(csv_lines(rows, tz))
        else:
            _replace(target, csv_lines(rows, tz), found.st_mode if found is not None else None)
    except OSError as exc:
        raise DataError(os_error_line(exc, "writing", path)) from None
    return len(rows)


def _open_special(target: Path, path: Path, mode: int) -> IO[str]:
    """A FIFO or device opened for writing. A FIFO nobody reads would block the open forever, so it
    is opened without waiting, and refused when no reader is there yet."""
    flags = os.O_WRONLY | (os.O_NONBLOCK if stat.S_ISFIFO(mode) else 0)
    try:
        handle = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise DataError(f"nothing is reading from the FIFO {path} (start the reader first)") from None
        raise
    if flags & os.O_NONBLOCK:
        os.set_blocking(handle, True)
    return os.fdopen(handle, "w", encoding="utf-8", newline="")


def _replace(path: Path, lines: Iterable[str], mode: int | None) -> None:
    """Write `lines` to a temporary file beside `path` and rename it over `path`; the old file's mode is
    kept (a new file gets the usual 0666 less the umask)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.writelines(lines)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
