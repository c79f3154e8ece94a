"""`LiveBarFeed`: the stream's bars turned into the engine's contract — every minute of every
symbol at most once, minutes in time order, missing minutes backfilled through the source's history call.

Alpaca's stream sends each symbol's bars in order but drops whatever was sent while a socket was
down, and IEX sends no bar for a minute without trades. The feed holds each minute until it is
settled for every symbol — its bar arrived, a later bar of that symbol arrived (so this one will
not), or `grace` seconds passed after the minute ended — and asks `backfill` for the symbols
still missing before releasing it. After a reconnect it backfills at once instead of waiting.
A minute REST has no bar for either (no trades) is released without that symbol.

Everything runs in the caller's thread (the engine's coordinator): `next_minute()` waits on the
stream's queue with a timeout, so the caller can check its stop flag between calls.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from mismartera.bars import Bar
from mismartera.errors import MismarteraError, UsageError

log = logging.getLogger(__name__)

MINUTE = 60
Backfill = Callable[[str, int, int], Iterable[Bar]]   # (symbol, first ts, last ts) -> 1m bars in that range


class BarSource(Protocol):
    """What the feed needs of `AlpacaBarStream`."""

    bars: queue.Queue[Bar]
    reconnected: threading.Event


class LiveBarFeed:
    """Ordered, gap-free minutes from a live bar source.

    Args:
        source: the running `AlpacaBarStream` (its `bars` queue and `reconnected` event).
        symbols: the session's symbols, in config order (the order within a minute).
        backfill: fetches stored-or-REST 1m bars of one symbol for [first, last] bar starts.
        now: the session clock in epoch seconds (the wall clock in live mode).
        start_ts: the first minute (bar start) to deliver; earlier bars are ignored.
        grace: seconds after a minute ends before a symbol without its bar is backfilled.
        is_trading_minute: minutes outside it are never waited for or backfilled (a bar that
            arrives for one, say pre-market, is still delivered in order).
        give_up_after: seconds a failing backfill may hold a minute (after the grace) before it is
            released without the missing bars (counted in `unfilled`; the session's
            `gap_wait_seconds` less the grace).
        retry_interval: seconds between backfill requests after one failed.
        on_missing: told (symbol, minute) for each bar a minute was released without because the
            backfill kept failing (the session re-fetches it in the background until stored).
    """

    def __init__(self, source: BarSource, symbols: Sequence[str], backfill: Backfill, now: Callable[[], float], *,
                 start_ts: int, grace: float = 5.0, is_trading_minute: Callable[[int], bool] | None = None,
                 give_up_after: float = 120.0, retry_interval: float = 5.0,
                 on_missing: Callable[[str, int], None] | None = None) -> None:
        if not symbols:
            raise UsageError("the live feed needs at least one symbol")
        if start_ts % MINUTE:
            raise UsageError(f"start_ts must be on a minute boundary, got {start_ts}")
        self.symbols = [s.upper() for s in symbols]
        self._rank = {s: i for i, s in enumerate(self.symbols)}
        self._source = source
        self._backfill = backfill
        self._now = now
        self._grace = grace
        self._is_trading = is_trading_minute or (lambda ts: True)
        self._give_up_after = give_up_after
        self._retry_interval = retry_interval
        self._retry_at = 0.0
        self._next = start_ts                         # the next minute to release
        self._pending: dict[int, dict[str, Bar]] = {}  # minute -> symbol -> bar
        self._latest: dict[str, int] = {}             # symbol -> latest bar start seen
        self._asked: dict[str, int] = {}              # symbol -> last minute already asked of backfill
        # counters for status
        self.delivered = 0
        self.duplicates = 0
        self.backfilled = 0
        self.unfilled = 0
        self.backfill_error: str | None = None
        self._on_missing = on_missing
        self.late: list[tuple[int, float]] = []     # (minute, seconds after its end) of minutes released late
        self.missing: list[tuple[str, int]] = []    # (symbol, minute) released without its bar
        self._from_rest: set[int] = set()           # minutes pending with a backfilled bar
        self.last_stream_bar = now()                # clock seconds when the stream last brought a bar

    @property
    def next_ts(self) -> int:
        """The bar start of the next minute to be released."""
        return self._next

    def move_to(self, start_ts: int) -> None:
        """Release from `start_ts` on (the next session's first minute): minutes before it are
        dropped, bars already queued for later minutes are kept."""
        if start_ts % MINUTE:
            raise UsageError(f"start_ts must be on a minute boundary, got {start_ts}")
        self._next = max(self._next, start_ts)
        self._pending = {minute: slot for minute, slot in self._pending.items() if minute >= self._next}
        self.last_stream_bar = max(self.last_stream_bar, self._now())   # a night is no silence

    # ------------------------------------------------------------------ consuming
    def next_minute(self, timeout: float) -> list[Bar]:
        """The bars of the next settled minute (symbols in config order), or [] if none settled
        within `timeout` seconds. A minute with no bar at all is skipped, not returned empty."""
        remaining = max(0.0, timeout)
        while True:
            self._take(block_for=0.0)
            if self._source.reconnected.is_set():
                self._source.reconnected.clear()
                self._fill_through(self._last_ended_minute(), reason="reconnect")
            bars = self._release()
            if bars is not None:
                return bars
            if remaining <= 0:
                return []
            step = min(remaining, 0.05 + self._seconds_until_due())
            self._take(block_for=step)
            remaining -= step

    def _take(self, block_for: float) -> None:
        """Move what the stream queued into `_pending` (waiting up to `block_for` for the first)."""
        try:
            bar = self._source.bars.get(timeout=block_for) if block_for > 0 else self._source.bars.get_nowait()
        except queue.Empty:
            return
        self.last_stream_bar = self._now()
        while True:
            self._add(bar)
            try:
                bar = self._source.bars.get_nowait()
            except queue.Empty:
                return

    def _add(self, bar: Bar) -> None:
        if bar.symbol not in self._rank or bar.interval != "1m":
            return
        minute = bar.ts - bar.ts % MINUTE
        if minute < self._next or bar.symbol in self._pending.get(minute, {}):
            self.duplicates += 1
            return
        self._pending.setdefault(minute, {})[bar.symbol] = bar
        self._latest[bar.symbol] = max(self._latest.get(bar.symbol, minute), minute)

    # ------------------------------------------------------------------ settling minutes
    def _last_ended_minute(self) -> int:
        """The start of the last minute that has ended on the clock."""
        now = int(self._now())
        return now - now % MINUTE - MINUTE

    def _seconds_until_due(self) -> float:
        due = self._next + MINUTE + self._grace
        return max(0.0, due - self._now())

    def _release(self) -> list[Bar] | None:
        """Release the next minute if it is settled; skip empty settled minutes."""
        while True:
            minute = self._next
            if not self._pending and minute > self._last_ended_minute():
                return None   # nothing queued and the minute has not ended yet
            slot = self._pending.get(minute, {})
            missing = [s for s in self.symbols if s not in slot]
            if missing:
                overdue = self._now() >= minute + MINUTE + self._grace
                if not overdue and any(self._latest.get(s, -1) <= minute for s in missing):
                    return None   # the stream may still bring them
            if missing and self._is_trading(minute):
                self._fill(missing, minute)
                slot = self._pending.get(minute, {})
                missing = [s for s in self.symbols if s not in slot]
                if missing and self.backfill_error is not None:
                    if self._now() < minute + MINUTE + self._grace + self._give_up_after:
                        return None   # the REST API failed: try again on a later call
                    self.unfilled += len(missing)
                    log.warning("releasing %s without %s: backfill kept failing (%s)",
                                _clock_text(minute), ", ".join(missing), self.backfill_error)
                    self._released_missing(missing, minute)
            self._pending.pop(minute, None)
            self._next = minute + MINUTE
            if minute in self._from_rest:
                self._from_rest.discard(minute)   # it waited for a backfill: strategies see it late
                self.late.append((minute, round(self._now() - (minute + MINUTE), 1)))
            if slot:
                bars = sorted(slot.values(), key=lambda b: self._rank[b.symbol])
                self.delivered += len(bars)
                return bars
            if not self._pending and self._next > self._last_ended_minute():
                return None

    def _released_missing(self, symbols: list[str], minute: int) -> None:
        for symbol in symbols:
            self.missing.append((symbol, minute))
            if self._on_missing is not None:
                self._on_missing(symbol, minute)

    def _fill(self, symbols: list[str], minute: int) -> None:
        """Backfill `symbols` from `minute` through the last ended minute, one request each."""
        for symbol in symbols:
            if self._asked.get(symbol, -1) >= minute:
                continue   # asked already (REST had no bar: no trades that minute)
            self._fetch(symbol, minute, self._gap_end(symbol, minute))

    def _fill_through(self, last: int, reason: str) -> None:
        first = self._next
        if last < first:
            return
        log.info("backfilling from %s after a %s", _clock_text(first), reason)
        for symbol in self.symbols:
            end = self._gap_end(symbol, first)
            if end >= first and self._next_pending(symbol, first) != first:
                self._fetch(symbol, first, end)

    def _next_pending(self, symbol: str, first: int) -> int | None:
        later = [m for m, slot in self._pending.items() if m >= first and symbol in slot]
        return min(later) if later else None

    def _gap_end(self, symbol: str, first: int) -> int:
        """The last minute of `symbol`'s gap starting at `first`: before its next queued bar, or
        the last ended minute."""
        following = self._next_pending(symbol, first + MINUTE)
        last = self._last_ended_minute() if following is None else following - MINUTE
        return max(first, last)

    def _fetch(self, symbol: str, first: int, last: int) -> None:
        if self.backfill_error is not None and self._now() < self._retry_at:
            return   # the last request failed moments ago: do not hammer the REST API
        try:
            bars = list(self._backfill(symbol, first, last))
        except MismarteraError as exc:
            self.backfill_error = str(exc)
            self._retry_at = self._now() + self._retry_interval
            log.warning("backfill of %s %s..%s failed: %s", symbol, _clock_text(first), _clock_text(last), exc)
            return
        self.backfill_error = None
        self._asked[symbol] = max(self._asked.get(symbol, -1), last)
        for bar in bars:
            minute = bar.ts - bar.ts % MINUTE
            if bar.symbol == symbol and max(first, self._next) <= minute <= last \
                    and symbol not in self._pending.get(minute, {}):
                self._pending.setdefault(minute, {})[symbol] = bar
                self._from_rest.add(minute)
                self.backfilled += 1


def _clock_text(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M UTC")
