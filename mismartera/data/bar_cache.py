"""`BarCache`: the replay's columnar copy of 1m bars, one file per symbol and UTC month.

The database stays the source of truth. A file holds one month of one symbol's 1m bars as numpy
columns and is named for the month's version in the database (`mismartera.data.bar_versions`):

    <data dir>/bar_cache/<database key>/<SYMBOL>/<YYYYMM>.v<version>.bars

A read notes the versions first and then uses the file of exactly that version; a missing,
unreadable or corrupt file (checked by size and CRC-32) is rebuilt from the database, reading the
version before the bars, so a file's contents are never older than its name says. Another process
may write the same file at the same time: each writes a private temporary file and renames it into
place, and both hold the same bars. Files of older versions are removed when a month is rebuilt.

File layout: a 32-byte header (magic, row count, version, CRC-32 of the body), then the columns
back to back: ts (int64), open, high, low, close, volume (float64), trade_count (int64), vwap
(float64), and one null flag byte per row for trade_count and for vwap.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import shutil
import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from mismartera.config.settings import mask_url
from mismartera.data.bar_store import BarRow, BarStore
from mismartera.data.bar_versions import month_range, months_between, versions

MAGIC = b"MMBARS01"
_HEADER = struct.Struct("<8sqqI4x")   # magic, rows, version, crc32 of the body
_FLOATS = ("open", "high", "low", "close", "volume")
_NAME = re.compile(r"^(\d{6})\.v(-?\d+)\.bars$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class MonthColumns:
    """One month of one symbol's 1m bars, as columns (views on the file's bytes)."""

    version: int
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trade_count: np.ndarray
    vwap: np.ndarray
    trade_count_null: np.ndarray
    vwap_null: np.ndarray

    def rows(self, start_ts: int, end_ts: int) -> list[BarRow]:
        """The bars with start_ts <= ts < end_ts as storage rows, exactly as the database returns them."""
        first, last = np.searchsorted(self.ts, (start_ts, end_ts), side="left").tolist()
        if first >= last:
            return []
        part = slice(first, last)
        counts: list = self.trade_count[part].tolist()
        vwaps: list = self.vwap[part].tolist()
        if self.trade_count_null[part].any():
            for index in np.flatnonzero(self.trade_count_null[part]).tolist():
                counts[index] = None
        if self.vwap_null[part].any():
            for index in np.flatnonzero(self.vwap_null[part]).tolist():
                vwaps[index] = None
        return list(zip(self.ts[part].tolist(), self.open[part].tolist(), self.high[part].tolist(),
                        self.low[part].tolist(), self.close[part].tolist(), self.volume[part].tolist(),
                        counts, vwaps, strict=True))


    def prices(self, start_ts: int, end_ts: int) -> tuple[np.ndarray, ...]:
        """open, high, low, close, volume of the bars with start_ts <= ts < end_ts (views, no copy)."""
        first, last = np.searchsorted(self.ts, (start_ts, end_ts), side="left").tolist()
        return tuple(column[first:last] for column in (self.open, self.high, self.low, self.close, self.volume))


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    files: int
    bytes: int
    symbols: int
    stale: int     # files whose version is no longer the database's


def encode(rows: Sequence[BarRow], version: int) -> bytes:
    """The file's bytes for `rows` (time-ordered storage rows) at `version`."""
    n = len(rows)
    columns = list(zip(*rows, strict=True)) if n else [()] * 8
    counts = [0 if value is None else value for value in columns[6]]
    vwaps = [0.0 if value is None else value for value in columns[7]]
    body = b"".join((
        np.asarray(columns[0], dtype=np.int64).tobytes(),
        *(np.asarray(columns[i], dtype=np.float64).tobytes() for i in range(1, 6)),
        np.asarray(counts, dtype=np.int64).tobytes(),
        np.asarray(vwaps, dtype=np.float64).tobytes(),
        np.fromiter((value is None for value in columns[6]), dtype=np.uint8, count=n).tobytes(),
        np.fromiter((value is None for value in columns[7]), dtype=np.uint8, count=n).tobytes(),
    ))
    return _HEADER.pack(MAGIC, n, version, zlib.crc32(body)) + body


def decode(data: bytes | mmap.mmap, version: int) -> MonthColumns | None:
    """The columns in `data`, or None when it is not a sound file of `version`."""
    if len(data) < _HEADER.size:
        return None
    magic, n, stored, crc = _HEADER.unpack_from(data)
    if magic != MAGIC or stored != version or n < 0 or len(data) != _HEADER.size + n * 66:
        return None
    body = memoryview(data)[_HEADER.size:]
    if zlib.crc32(body) != crc:
        return None
    at = 0

    def take(dtype: type, width: int) -> np.ndarray:
        nonlocal at
        array: np.ndarray = np.frombuffer(body, dtype=dtype, count=n, offset=at)
        at += n * width
        return array

    ts = take(np.int64, 8)
    open_, high, low, close, volume = (take(np.float64, 8) for _ in _FLOATS)
    counts, vwaps = take(np.int64, 8), take(np.float64, 8)
    count_null, vwap_null = take(np.uint8, 1), take(np.uint8, 1)
    return MonthColumns(version, ts, open_, high, low, close, volume, counts, vwaps, count_null, vwap_null)


class BarCache:
    """The columnar 1m-bar cache of one database, under `root` (normally `<data dir>/bar_cache`).

    Args:
        store: the database's bar store (the source of truth).
        root: the cache folder shared by every database; each database gets its own sub-folder.
    """

    def __init__(self, store: BarStore, root: Path) -> None:
        self.store = store
        key = hashlib.sha256(mask_url(store.db.url).encode()).hexdigest()[:16]
        self.root = Path(root)
        self.folder = self.root / key
        self._held: dict[str, tuple[int, MonthColumns]] = {}   # symbol -> (month, columns): the last used
        self.rebuilt = 0

    # ------------------------------------------------------------------ the replay's read
    def read_many(self, symbols: Sequence[str], start_ts: int, end_ts: int) -> dict[str, list[BarRow]]:
        """Each symbol's 1m bars with start_ts <= ts < end_ts, as `BarStore.read_many` returns them."""
        out: dict[str, list[BarRow]] = {symbol: [] for symbol in symbols}
        if end_ts <= start_ts:
            return out
        for month in months_between(start_ts, end_ts - 1):
            for symbol, columns in self.months(list(out), month).items():
                out[symbol].extend(columns.rows(start_ts, end_ts))
        return out

    def read_prices(self, symbols: Sequence[str], start_ts: int, end_ts: int) -> dict[str, tuple[np.ndarray, ...]]:
        """Each symbol's open, high, low, close, volume columns for start_ts <= ts < end_ts: what
        `read_many` returns as rows, as float64 arrays (for the day-at-a-time indicators)."""
        parts: dict[str, list[tuple[np.ndarray, ...]]] = {symbol: [] for symbol in symbols}
        for month in months_between(start_ts, max(start_ts, end_ts - 1)):
            for symbol, columns in self.months(list(parts), month).items():
                parts[symbol].append(columns.prices(start_ts, end_ts))
        return {symbol: found[0] if len(found) == 1 else tuple(np.concatenate(c) for c in zip(*found, strict=True))
                for symbol, found in parts.items()}

    def months(self, symbols: Sequence[str], month: int) -> dict[str, MonthColumns]:
        """`month` of each symbol, current with the database: from memory, the file, or rebuilt."""
        found: dict[str, MonthColumns] = {}
        wanted = [s for s in symbols if self._held.get(s, (None,))[0] != month]
        found.update({s: self._held[s][1] for s in symbols if s not in wanted})
        if wanted:
            with self.store.db.connect() as conn:
                current = versions(conn, wanted, "1m", [month])
            missing = []
            for symbol in wanted:
                version = current.get((symbol, month), 0)
                columns = self._load(symbol, month, version)
                if columns is None:
                    missing.append((symbol, version))
                else:
                    found[symbol] = columns
            if missing:
                found.update(self._rebuild(missing, month))
            for symbol in wanted:
                self._held[symbol] = (month, found[symbol])
        return found

    def forget(self) -> None:
        """Drop the months held in memory (the next read checks the versions again)."""
        self._held.clear()

    # ------------------------------------------------------------------ files
    def path(self, symbol: str, month: int, version: int) -> Path:
        safe = _SAFE.sub(lambda m: f"%{ord(m.group()):02X}", symbol)
        return self.folder / safe / f"{month}.v{version}.bars"

    def _load(self, symbol: str, month: int, version: int) -> MonthColumns | None:
        """The file mapped into memory (its pages live in the OS page cache, not in this process's
        heap, so a long replay's months come and go without fragmenting it), or None."""
        try:
            with self.path(symbol, month, version).open("rb") as handle:
                if os.fstat(handle.fileno()).st_size < _HEADER.size:
                    return None
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        return decode(mapped, version)

    def _rebuild(self, wanted: list[tuple[str, int]], month: int) -> dict[str, MonthColumns]:
        """Write the files of `wanted` (symbol, version noted before this read) from the database."""
        start, end = month_range(month)
        rows = self.store.read_many([s for s, _ in wanted], "1m", start, end)
        out = {}
        for symbol, version in wanted:
            data = encode(rows[symbol], version)
            self._write(self.path(symbol, month, version), data)
            columns = decode(data, version)
            assert columns is not None
            out[symbol] = columns
            self.rebuilt += 1
        return out

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except OSError:   # a read-only or full disk: the replay goes on from the bytes in memory
            temporary.unlink(missing_ok=True)
            return
        prefix = path.name.split(".v", 1)[0] + ".v"
        for old in path.parent.glob(prefix + "*.bars"):
            if old != path:
                old.unlink(missing_ok=True)

    # ------------------------------------------------------------------ data cache info|rebuild|clear
    def rebuild(self, symbols: Sequence[str] | None = None) -> int:
        """Rewrite every month that holds 1m bars of `symbols` (all stored symbols by default) from the
        database. Returns the files written."""
        series = [s for s in self.store.series() if s.interval == "1m" and (symbols is None or s.symbol in symbols)]
        written = 0
        for summary in series:
            for month in months_between(summary.first_ts, summary.last_ts):
                with self.store.db.connect() as conn:
                    version = versions(conn, [summary.symbol], "1m", [month]).get((summary.symbol, month), 0)
                self._rebuild([(summary.symbol, version)], month)
                written += 1
        self.forget()
        return written

    def clear(self) -> int:
        """Remove this database's cache files. Returns how many there were."""
        count = sum(1 for _ in self.folder.glob("*/*.bars")) if self.folder.exists() else 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.forget()
        return count

    def info(self) -> CacheInfo:
        files = sorted(self.folder.glob("*/*.bars")) if self.folder.exists() else []
        size = 0
        stale = 0
        by_symbol: dict[str, list[tuple[int, int]]] = {}
        for file in files:
            size += file.stat().st_size
            match = _NAME.match(file.name)
            if match:
                by_symbol.setdefault(unquote(file.parent.name), []).append((int(match[1]), int(match[2])))
        with self.store.db.connect() as conn:
            for symbol, held in by_symbol.items():
                current = versions(conn, [symbol], "1m", [month for month, _ in held])
                stale += sum(1 for month, version in held if current.get((symbol, month), 0) != version)
        return CacheInfo(self.folder, len(files), size, len(by_symbol), stale)
