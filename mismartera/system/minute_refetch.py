"""`MinuteRefetcher`: no minute lost for good.

The live feed waits up to `gap_wait_seconds` for a minute missing from the stream; when the REST
backfill keeps failing that long, it releases the minute to the strategies without the bar (they
cannot wait longer) and hands (symbol, minute) here. This worker asks the REST API again, with a
backoff, until it answers, and stores what it returns, so the day in the database is whole once
REST has recovered (`data quality` shows it). A REST answer without the bar means the minute had
no trades: nothing to store, and nothing lost.

What is still missing when the session ends is listed in the run's summary (`missing_minutes`);
the next live session takes those up again (`earlier_missing`), and so does `data backfill`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mismartera.bars import Bar
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.schema import runs
from mismartera.errors import MismarteraError
from mismartera.system.detached import Abandoned, run_detached
from mismartera.system.worker import TICK, Worker

log = logging.getLogger("mismartera.system")

MINUTE = 60
MAX_BACKOFF = 120.0   # seconds: the longest wait between two tries while REST keeps failing
EARLIER_RUNS = 5      # live runs whose unfetched minutes a new session takes up again

Backfill = Callable[[str, int, int], Iterable[Bar]]


def minute_text(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


class MinuteRefetcher(Worker):
    """Fetches the minutes a live session released missing until they are stored.

    Args:
        store: where the fetched 1m bars go (None: fetch, count, store nothing — tests).
        backfill: (symbol, first bar start, last bar start) -> the REST API's 1m bars.
        retry_interval: seconds before the first retry after a failure (doubled up to 120 s).
        on_failure: as for every worker.
    """

    role = "refetch"

    def __init__(self, store: BarStore | None, backfill: Backfill, *, retry_interval: float = 5.0,
                 on_failure: Callable | None = None) -> None:
        super().__init__(inbox_size=1, on_failure=on_failure)
        self.store = store
        self._backfill = backfill
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._pending: dict[str, set[int]] = {}
        self._wake = threading.Event()
        self.missed: list[tuple[str, int]] = []     # every minute handed over, in order
        self.stored: set[tuple[str, int]] = set()   # those fetched and stored since
        self.no_trades: set[tuple[str, int]] = set()  # REST answered without a bar: nothing was lost
        self.last_error: str | None = None

    # ------------------------------------------------------------------ any thread
    def add(self, symbol: str, ts: int) -> None:
        """A minute released to the strategies without `symbol`'s bar: fetch it until stored."""
        with self._lock:
            self._pending.setdefault(symbol, set()).add(ts - ts % MINUTE)
            self.missed.append((symbol, ts))
        self._wake.set()

    def pending(self) -> list[tuple[str, int]]:
        with self._lock:
            return sorted((symbol, ts) for symbol, minutes in self._pending.items() for ts in minutes)

    def summary(self) -> list[dict[str, Any]]:
        """Each minute released missing, and whether it is stored now (for the run's summary)."""
        with self._lock:
            return [{"symbol": symbol, "ts": ts, "minute": minute_text(ts),
                     "stored": (symbol, ts) in self.stored, "no_trades": (symbol, ts) in self.no_trades}
                    for symbol, ts in self.missed]

    # ------------------------------------------------------------------ the thread
    def loop(self) -> None:
        backoff = 0.0
        due = 0.0
        self._describe()
        while not self.stopping:
            self._wake.wait(TICK * 4)
            self._wake.clear()
            if self.stopping:
                break
            if not self.pending() or time.monotonic() < due:
                self._describe()
                continue
            try:
                ok = run_detached(self.fetch_pending, f"{self.role}-request", lambda: self.stopping)
            except Abandoned:
                break
            backoff = 0.0 if ok else min(MAX_BACKOFF, backoff * 2 or self.retry_interval)
            due = time.monotonic() + backoff
            self._describe()
        self._describe()

    def fetch_pending(self) -> bool:
        """One try at every pending minute (one request per symbol); False when a request failed."""
        ok = True
        for symbol, minutes in self._snapshot():
            first, last = min(minutes), max(minutes)
            try:
                bars = list(self._backfill(symbol, first, last))
            except MismarteraError as exc:
                self.last_error = str(exc)
                log.info("re-fetch of %s %s..%s failed: %s", symbol, minute_text(first), minute_text(last), exc)
                ok = False
                continue
            self.last_error = None
            wanted = {bar.ts: bar for bar in bars if bar.symbol == symbol and bar.ts in minutes}
            if wanted and self.store is not None:
                self.store.upsert(symbol, "1m", [bar.to_row() for bar in sorted(wanted.values())])
            with self._lock:
                for ts in minutes:
                    (self.stored if ts in wanted else self.no_trades).add((symbol, ts))
                left = self._pending.get(symbol, set()) - minutes
                if left:
                    self._pending[symbol] = left
                else:
                    self._pending.pop(symbol, None)
            if wanted:
                log.info("re-fetched %d missing minute(s) of %s from %s", len(wanted), symbol, minute_text(first))
        return ok

    def _snapshot(self) -> list[tuple[str, set[int]]]:
        with self._lock:
            return [(symbol, set(minutes)) for symbol, minutes in sorted(self._pending.items()) if minutes]

    def _describe(self) -> None:
        left = sum(len(m) for m in list(self._pending.values()))
        detail = f"{len(self.missed)} minute(s) released missing, {len(self.stored)} re-fetched, {left} to fetch"
        if self.last_error:
            detail += f" (REST failing: {self.last_error})"
        self.beat(0, detail=detail)
        self.publish()


def earlier_missing(db: Database, store: BarStore | None = None, limit: int | None = EARLIER_RUNS
                    ) -> list[tuple[str, int]]:
    """Minutes earlier live runs (the last `limit`, None: all) released missing and never stored
    (from their summaries), less those `store` holds by now."""
    query = select(runs.c.summary).where(runs.c.mode == "live").order_by(runs.c.id.desc())
    with db.engine.connect() as conn:
        rows = conn.execute(query if limit is None else query.limit(limit)).all()
    out: set[tuple[str, int]] = set()
    for (summary,) in rows:
        for item in (summary or {}).get("missing_minutes") or []:
            if not item.get("stored") and not item.get("no_trades"):
                out.add((str(item["symbol"]), int(item["ts"])))
    if store is not None:
        out = {(symbol, ts) for symbol, ts in out if not store.read(symbol, "1m", ts, ts + 60)}
    return sorted(out)
