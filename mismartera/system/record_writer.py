"""`RecordWriter`: the run recorder's database writes, one job at a time, on a thread of their own.

The session's coordinator hands each batch (a day's orders, fills, equity row and progress) over as
a job and goes on replaying; the writer runs the jobs in the order they came, each in its own
transaction. SQLite and PostgreSQL drivers release the GIL while they work, so the writes overlap
with the replay instead of stopping it at every day's end.

The queue is bounded (a writer that falls behind slows the producer down rather than holding the
whole run in memory) and every wait has a timeout. A job that raises stops the writer: the error is
kept, and the producer's next `submit`/`drain`/`close` raises it as a `RecorderError`, since later
jobs (fills of orders that were never stored) cannot be written without it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from mismartera.errors import MismarteraError

TICK = 0.05             # seconds: the longest any wait goes without re-checking the writer
DRAIN_TIMEOUT = 30.0    # seconds a drain or close waits for the queued writes
QUEUE_JOBS = 64         # jobs waiting at most (a job is about a day of a backtest)
THREAD_NAME = "mismartera-recorder"

log = logging.getLogger("mismartera.system")


class RecorderError(MismarteraError):
    """The recorder could not write the run to the database (or not in time); the session fails."""


def describe(exc: BaseException) -> str:
    """One line for a database error: the driver's own error when SQLAlchemy wrapped one (never the SQL
    and its parameters), or a mismartera error's own message."""
    if isinstance(exc, MismarteraError):
        return exc.message.splitlines()[0] if exc.message else type(exc).__name__
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0]}" if text else type(inner).__name__


class RecordWriter:
    """Runs write jobs in order on one named daemon thread, started with the first job."""

    def __init__(self, what: str, max_jobs: int = QUEUE_JOBS) -> None:
        self.what = what                     # "recorder of run 5", for error messages
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=max_jobs)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.error: BaseException | None = None
        self._reported = False
        self.busy_since: float | None = None   # monotonic start of the write running now (None: idle)

    # ------------------------------------------------------------------ producer side (any thread)
    @property
    def failed(self) -> bool:
        return self.error is not None

    def check(self) -> None:
        """Raise the writer's stored failure (a RecorderError naming the database error)."""
        if self.error is not None:
            self._reported = True
            raise RecorderError(f"{self.what}: database write failed: {describe(self.error)}") from self.error

    def submit(self, job: Callable[[], None], timeout: float = DRAIN_TIMEOUT) -> None:
        """Queue `job` behind the ones before it; after `close` it runs here, at once."""
        self.check()
        with self._lock:
            closed = self._closed
            if not closed and self._thread is None:
                self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
                self._thread.start()
        if closed:
            job()
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(job, timeout=TICK)
                return
            except queue.Full:
                self.check()
                self._check_alive()
                if time.monotonic() > deadline:
                    raise RecorderError(f"{self.what}: the database writer took no new write for {timeout:g}s "
                                        "(it is stuck on a write)") from None

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Return once every job queued before this call is written; raise the writer's failure, or a
        RecorderError after `timeout` seconds."""
        self.check()
        if self._thread is None or (self._closed and not self._thread.is_alive()):
            return
        done = threading.Event()
        deadline = time.monotonic() + timeout
        self.submit(done.set, timeout)
        while not done.wait(TICK):
            self.check()
            self._check_alive()
            if time.monotonic() > deadline:
                raise RecorderError(f"{self.what}: queued writes not done after {timeout:g}s")

    def close(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Write what is queued and end the thread (within `timeout` seconds); later jobs run in the
        caller. Raises the writer's failure if it was not raised before."""
        with self._lock:
            self._closed = True
            thread = self._thread
        deadline = time.monotonic() + timeout
        try:
            if thread is not None and thread.is_alive() and self.error is None:
                self.drain(timeout)
        finally:
            self._stop.set()
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.error("%s: the database writer is still running after %gs", self.what, timeout)
                    raise RecorderError(f"{self.what}: the database writer did not finish within {timeout:g}s")
        if not self._reported:
            self.check()

    def _check_alive(self) -> None:
        thread = self._thread
        if thread is not None and not thread.is_alive() and self.error is None:
            raise RecorderError(f"{self.what}: the database writer stopped with writes still queued")

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        get = self._queue.get
        while True:
            try:
                job = get(timeout=TICK)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            self.busy_since = time.monotonic()
            try:
                job()
            except BaseException as exc:   # kept for the producer, never lost
                self.error = exc
                log.exception("%s: database write failed", self.what)
                return
            finally:
                self.busy_since = None
