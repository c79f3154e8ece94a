"""`ReplaySource`: a live session fed by stored bars (`api_config.data_api: "replay"`).

The whole live path runs — the stream, `LiveBarFeed`, the live clock, the end of day at the close —
but the bars are the store's 1m bars for `replay_config.start_date`..`end_date`. The clock starts
`minutes_before_open` before the first day's open and runs at `speed_multiplier`× real time; at 0
it moves as fast as the bars are taken. Each minute's bars are put on the stream when the clock
reaches the minute's end; after a day's close the clock jumps to the next day's pre-open (nobody
rehearses the night). A minute the store has no bar for is a stream gap: the feed asks `history`
(the store again) and the session reports what neither had. Traders use it to rehearse a live
setup on a past day; the parity tests run it against a backtest of the same bars.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, date, datetime, timedelta

from mismartera.bars import Bar
from mismartera.data.bar_store import BarStore
from mismartera.errors import ConfigError
from mismartera.sources.base import SourceSetup
from mismartera.timekeeping.calendar import TradingSession

log = logging.getLogger(__name__)

TICK = 0.05           # seconds: the longest a wait goes without re-checking stop
AFTER_CLOSE = 30      # replay seconds the clock runs past a close before the overnight jump


class ReplayClock:
    """Replay time in epoch seconds: `speed`× the monotonic clock from its anchor, or (speed 0)
    only where the stream moves it. Moves only forward. Safe to read from any thread."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.speed = speed
        self._anchor = (time.monotonic(), start.timestamp())   # swapped whole: readers never see half

    def epoch(self) -> float:
        wall, at = self._anchor
        return at + (time.monotonic() - wall) * self.speed if self.speed > 0 else at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)

    def jump(self, epoch: float) -> None:
        """Move to `epoch` unless the clock is already past it."""
        if epoch > self.epoch():
            self._anchor = (time.monotonic(), epoch)


class ReplayStream:
    """The stored bars of `sessions`, put on `bars` as the replay clock passes each minute's end.

    The queue holds one minute of bars: the stream waits for the session to take them, so at
    speed 0 the clock never runs far ahead of the bars the session has seen.
    """

    label = "replay"

    def __init__(self, store: BarStore, symbols: list[str], sessions: list[TradingSession], clock: ReplayClock,
                 lead: timedelta) -> None:
        self.bars: queue.Queue[Bar] = queue.Queue(maxsize=max(1, len(symbols)))
        self.reconnected = threading.Event()    # a replay never reconnects
        self.reconnects = 0
        self.error: str | None = None
        self.streamed = 0
        self._store = store
        self._symbols = list(symbols)
        self._sessions = list(sessions)
        self._clock = clock
        self._lead = lead
        self._state = "starting"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> str:
        return self._state

    @property
    def failed(self) -> bool:
        return self._state == "failed"

    def start(self) -> ReplayStream:
        self._state = "streaming"
        self._thread = threading.Thread(target=self._run, name="replay-stream", daemon=True)
        self._thread.start()
        return self

    def reconnect(self) -> bool:
        """A replay has no connection to drop: it is never silent while it plays."""
        return False

    def stop(self, timeout: float = 2.0) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._state != "failed":
            self._state = "stopped"
        return self._thread is None or not self._thread.is_alive()

    def _run(self) -> None:
        try:
            for index, session in enumerate(self._sessions):
                if index:
                    self._clock.jump((session.open - self._lead).timestamp())
                if not self._play(session):
                    return
            self._state = "ended"
        except Exception as exc:
            log.exception("the replay stream failed")
            self.error = f"the replay stream failed: {type(exc).__name__}: {exc}"
            self._state = "failed"

    def _play(self, session: TradingSession) -> bool:
        """One day's bars, minute by minute (symbols in config order); False when stopped."""
        start, end = int(session.open.timestamp()), int(session.close.timestamp())
        minutes: dict[int, list[Bar]] = {}
        for symbol, rows in self._store.read_many(self._symbols, "1m", start, end).items():
            for row in rows:
                minutes.setdefault(row[0], []).append(Bar.from_row(symbol, row))
        for minute in sorted(minutes):
            if not self._until(minute + 60):
                return False
            for bar in minutes[minute]:
                if not self._put(bar):
                    return False
        return self._until(end + AFTER_CLOSE)

    def _until(self, epoch: int) -> bool:
        """Let the clock reach `epoch` (wait at speed > 0, move it at speed 0); False when stopped."""
        clock = self._clock
        if clock.speed <= 0:
            clock.jump(epoch)
            return not self._stop.is_set()
        while (remaining := (epoch - clock.epoch()) / clock.speed) > 0:
            if self._stop.wait(min(TICK, remaining)):
                return False
        return not self._stop.is_set()

    def _put(self, bar: Bar) -> bool:
        while not self._stop.is_set():
            try:
                self.bars.put(bar, timeout=TICK)
            except queue.Full:
                continue
            self.streamed += 1
            return True
        return False


class ReplaySource:
    """Stored bars as a live source: days and pace from `replay_config`."""

    def __init__(self, setup: SourceSetup) -> None:
        replay = setup.config.replay_config
        if replay is None:
            raise ConfigError(f"{setup.config.session_name}: api_config.data_api 'replay' needs replay_config "
                              "(start_date, end_date)")
        self._store = setup.store
        self._symbols = setup.config.symbols
        self._sessions = setup.time.sessions(replay.start_date, replay.end_date)
        if not self._sessions:
            raise ConfigError(f"{setup.config.session_name}: no trading days between {replay.start_date} and "
                              f"{replay.end_date} (the exchange is closed on all of them)")
        self._lead = timedelta(minutes=replay.minutes_before_open)
        self._speed = replay.speed_multiplier
        self.clock = ReplayClock(self._sessions[0].open - self._lead, self._speed)

    def now(self) -> datetime:
        return self.clock.now()

    def sessions(self) -> list[TradingSession]:
        return list(self._sessions)

    def load_history(self, first: date, last: date, interval: str) -> None:
        """Nothing to fetch: the replay's history is the store's."""

    def history(self, symbol: str, first_ts: int, last_ts: int) -> list[Bar]:
        return [Bar.from_row(symbol, row) for row in self._store.read(symbol, "1m", first_ts, last_ts + 1)]

    def stream(self) -> ReplayStream:
        return ReplayStream(self._store, self._symbols, self._sessions, self.clock, self._lead)

    def describe(self) -> str:
        first, last = self._sessions[0].day, self._sessions[-1].day
        pace = f"{self._speed:g}x real time" if self._speed > 0 else "full speed"
        return f"replay {first}..{last} at {pace}"
