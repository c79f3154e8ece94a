"""The local engine: a process pool from the standard library (`concurrent.futures`), no extra install.

Workers are spawned (not forked: the parent may be a shell with threads running), receive the
sweep's bar columns once through the pool's initializer, ignore SIGINT (Ctrl-C is the parent's to
handle) and run one point per task. Results come back to the parent, which writes them.

Ctrl-C: the parent sets the shared stop event; a running point stops between bars and comes back
as interrupted, queued points are cancelled; finished points were already written.

A worker process that dies (killed, out of memory) breaks the whole pool: the points that were in
flight are retried once each, alone in a fresh pool so a crashing point cannot take others down
with it, and reported as failed points if they die again. The sweep goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from mismartera.sweep.columns import BarColumns
from mismartera.sweep.point import FAILED, INTERRUPTED, PointResult, PointTask, quiet_worker_logging, run_point

POLL = 0.25            # seconds between looks at the futures (Ctrl-C lands within this)
STOP_GRACE = 10.0      # seconds running points get to stop after Ctrl-C

_COLUMNS: BarColumns | None = None
_STOP: Any = None


def _init_worker(columns: BarColumns, stop: Any) -> None:
    global _COLUMNS, _STOP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_worker_logging()
    _COLUMNS, _STOP = columns, stop


def _run(task: PointTask) -> PointResult:
    assert _COLUMNS is not None
    return run_point(task, _COLUMNS, _STOP.is_set)


def default_workers() -> int:
    return os.cpu_count() or 1


class LocalEngine:
    """Runs points on `workers` processes of this machine."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._context = multiprocessing.get_context("spawn")

    def describe(self) -> str:
        return f"local, {self.workers} worker(s)"

    def open(self) -> None:
        """Nothing to set up: the pool is made per run."""

    def close(self) -> None:
        """Nothing to tear down: each run's pool is shut down when it ends."""

    def run(self, tasks: list[PointTask], columns: BarColumns, on_result: Callable[[PointResult], None]) -> None:
        """Run every task; `on_result` gets each outcome in the parent as it arrives."""
        stop = self._context.Event()
        suspects = self._round(tasks, columns, on_result, stop, self.workers)
        for task in suspects:   # in flight when a worker died: once more, each alone
            for lost in self._round([task], columns, on_result, stop, 1):
                on_result(PointResult(lost.index, lost.params, FAILED, "the worker process died (retried once)"))

    def _round(self, tasks: list[PointTask], columns: BarColumns, on_result: Callable[[PointResult], None],
               stop: Any, workers: int) -> list[PointTask]:
        """Run tasks in pools of `workers`; returns the tasks that were in flight when a worker died."""
        remaining = list(tasks)
        suspects: list[PointTask] = []
        while remaining:
            pool = ProcessPoolExecutor(max_workers=min(workers, len(remaining)), mp_context=self._context,
                                       initializer=_init_worker, initargs=(columns, stop))
            futures: dict[Future, PointTask] = {pool.submit(_run, task): task for task in remaining}
            handed: set[Future] = set()
            started: set[Future] = set()
            try:
                broken = self._collect(futures, on_result, handed, started)
            except BaseException as exc:
                stop.set()
                for future in futures:
                    future.cancel()
                if isinstance(exc, KeyboardInterrupt):
                    self._drain(futures, on_result, handed)
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True, cancel_futures=True)
            # Seen running when the pool broke: one of them killed it. When none was seen (it broke
            # within one poll), every task the break took down is a suspect.
            in_flight = [f for f in broken if f in started] or broken
            suspects.extend(futures[f] for f in in_flight)
            remaining = [futures[f] for f in broken if f not in in_flight]
        return suspects

    @staticmethod
    def _collect(futures: dict[Future, PointTask], on_result: Callable[[PointResult], None], handed: set[Future],
                 started: set[Future]) -> list[Future]:
        """Hand each result over as it comes; returns the futures a broken pool took down."""
        pending = set(futures)
        broken: list[Future] = []
        while pending:
            started.update(f for f in pending if f.running())
            done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(future)
                    continue
                handed.add(future)
                on_result(result)
        return broken

    @staticmethod
    def _drain(futures: dict[Future, PointTask], on_result: Callable[[PointResult], None],
               handed: set[Future]) -> None:
        """After Ctrl-C: collect what the running points hand back within the grace period."""
        running = [f for f in futures if not f.cancelled() and f not in handed]
        done, _ = wait(running, timeout=STOP_GRACE)
        for future in done:
            try:
                result = future.result()
            except Exception:
                continue
            if result.state != INTERRUPTED:
                on_result(result)
