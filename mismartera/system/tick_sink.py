"""`TickSink`: live trades and quotes from the stream, into SessionData at once and the database in batches.

The stream thread calls `add` for every trade or quote: SessionData's latest trade/quote of the
symbol is replaced (what `ctx.last_trade` / `ctx.quote` return), and the row joins a buffer. The
sink's own thread ("tick-writer") writes the buffer every `flush_seconds` (or sooner once
`batch_rows` are waiting) as one upsert per symbol and kind, so a busy symbol costs one transaction
a second, not one per trade. `stop` writes what is left and returns within its timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from mismartera.bars import quote_from_row, trade_from_row
from mismartera.data.database import Database
from mismartera.data.tick_store import TickKind, TickStore
from mismartera.system.session_data import SessionData

log = logging.getLogger(__name__)


class TickSink:
    """Batches live ticks into the database and keeps SessionData's latest trade and quote.

    Args:
        db: where the rows go.
        data: the session's SessionData.
        kinds: the tick streams subscribed ("trades", "quotes").
        flush_seconds: the longest a row waits before it is written.
        batch_rows: write sooner once this many rows wait.
    """

    def __init__(self, db: Database, data: SessionData, kinds: Iterable[TickKind], flush_seconds: float = 1.0,
                 batch_rows: int = 5000) -> None:
        self.stores: dict[str, TickStore] = {kind: TickStore(db, kind) for kind in kinds}
        self.data = data
        self.flush_seconds = flush_seconds
        self.batch_rows = batch_rows
        self._lock = threading.Lock()
        self._buffer: dict[tuple[str, str], list[tuple]] = {}
        self._waiting = 0
        self._last: dict[tuple[str, str], tuple[int, int]] = {}   # (kind, symbol) -> (last ts, its seq)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.received = 0
        self.written = 0
        self.error: str | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tick-writer", daemon=True)
            self._thread.start()

    def add(self, kind: str, symbol: str, row: tuple) -> None:
        """One trade or quote from the stream (a store row without its seq); see `AlpacaBarStream.subscribe_ticks`."""
        if kind not in self.stores:
            return
        full = self._with_seq(kind, symbol, row)
        if symbol in self.data.symbols:
            if kind == "trades":
                self.data.set_trade(trade_from_row(symbol, full))
            else:
                self.data.set_quote(quote_from_row(symbol, full))
        with self._lock:
            self._buffer.setdefault((kind, symbol), []).append(full)
            self._waiting += 1
            self.received += 1
            if self._waiting >= self.batch_rows:
                self._wake.set()

    def _with_seq(self, kind: str, symbol: str, row: tuple) -> tuple:
        ts = row[0]
        last = self._last.get((kind, symbol))
        seq = last[1] + 1 if last is not None and last[0] == ts else 0
        self._last[(kind, symbol)] = (ts, seq)
        return (ts, seq, *row[1:])

    def flush(self) -> int:
        """Write every waiting row now (one transaction); returns how many were written."""
        with self._lock:
            batch, self._buffer, self._waiting = self._buffer, {}, 0
        if not batch:
            return 0
        count = 0
        first = next(iter(self.stores.values()))
        with first.db.begin() as conn:
            for (kind, symbol), rows in batch.items():
                count += self.stores[kind].upsert(symbol, rows, conn=conn)
        self.written += count
        return count

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # kept and logged: live trading goes on without tick storage
                self.error = f"storing ticks failed: {exc}"
                log.exception("tick-writer: storing ticks failed")

    def stop(self, timeout: float = 5.0) -> bool:
        """Write what is left and end the thread; False when it did not end within `timeout`."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
        try:
            self.flush()
        except Exception:
            log.exception("tick-writer: storing the last ticks failed")
        return True
