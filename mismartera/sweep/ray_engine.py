"""The Ray engine (`--engine ray`): the only module that imports Ray (`pip install 'mismartera[cluster]'`).

Without an address it starts a local Ray instance for the sweep (and shuts it down after); with
`--address ray://host:10001` (Ray Client) or `auto` it joins an existing cluster. The sweep's bars
are put into the object store once, as columns, and each task gets them from there, so no node
needs the database. Tasks hand their `PointResult` back to the driver, which writes it.

A task whose worker process dies is retried once by Ray (`max_retries=1`); if it dies again the
point is reported failed and the sweep goes on. Ctrl-C cancels the tasks still queued or running.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mismartera.errors import ExternalServiceError, UsageError
from mismartera.sweep.columns import BarColumns
from mismartera.sweep.point import FAILED, PointResult, PointTask, quiet_worker_logging, run_point

CONNECT_TIMEOUT = 10.0   # seconds to reach a cluster's address before giving up
POLL = 0.25
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])   # the folder holding the mismartera package

log = logging.getLogger("mismartera.sweep")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'mismartera[cluster]'") from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast, in one line, when a cluster address does not answer (Ray's own client retries
    for a long time before it gives up)."""
    if address == "auto":
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    if not parts.hostname or parts.port is None:
        raise UsageError(f"--address {address}: expected ray://HOST:PORT, HOST:PORT or auto")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as exc:
        raise ExternalServiceError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
                                   f"(is it running? expected ray://HOST:10001 or auto)") from None


def _remote_point(columns: BarColumns, task: PointTask) -> PointResult:
    quiet_worker_logging()
    return run_point(task, columns)


class RayEngine:
    """Runs points as Ray tasks, on a local instance or an existing cluster."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.workers = workers
        self.address = address
        self._ray = _import_ray()
        self._started_here = False

    def describe(self) -> str:
        where = self.address or "a local instance"
        return f"ray on {where}" + (f", {self.workers} worker(s)" if self.workers else "")

    def open(self) -> None:
        """Start or join Ray (an unreachable address fails here, before the sweep is recorded)."""
        ray = self._ray
        if self.address:
            check_reachable(self.address)
        if ray.is_initialized():   # a Ray the caller started (tests, notebooks): used as it is
            return
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
                                   "configure_logging": False}
        if self.address:
            # The cluster's nodes get this package with the job (a laptop's checkout need not be installed there).
            options["runtime_env"] = {"py_modules": [str(Path(PACKAGE_ROOT) / "mismartera")]}
        else:
            options["num_cpus"] = self.workers
            options["runtime_env"] = {"env_vars": {"PYTHONPATH": PACKAGE_ROOT}}
        try:
            ray.init(address=self.address, **options)
        except ConnectionError as exc:
            raise ExternalServiceError(f"cannot connect to Ray at {self.address or 'a local instance'}: "
                                       f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        self._started_here = True

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
            self._started_here = False

    def run(self, tasks: list[PointTask], columns: BarColumns, on_result: Callable[[PointResult], None]) -> None:
        """Run every task (after `open`); `on_result` gets each outcome on the driver as it arrives."""
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=1)(_remote_point)
        shared = ray.put(columns)
        limit = self.workers or len(tasks)
        queued = list(reversed(tasks))
        running: dict[Any, PointTask] = {}
        try:
            while queued or running:
                while queued and len(running) < limit:
                    task = queued.pop()
                    if self.address:   # a cluster's nodes cannot read this machine's calendar cache
                        task = replace(task, calendar_cache=None)
                    running[remote.remote(shared, task)] = task
                done, _ = ray.wait(list(running), num_returns=1, timeout=POLL)
                for ref in done:
                    task = running.pop(ref)
                    on_result(self._outcome(ray, ref, task))
        except BaseException:
            for ref in running:
                ray.cancel(ref, force=True)
            raise

    @staticmethod
    def _outcome(ray: Any, ref: Any, task: PointTask) -> PointResult:
        began = time.perf_counter()
        try:
            return ray.get(ref)
        except ray.exceptions.WorkerCrashedError:
            return PointResult(task.index, task.params, FAILED, "the Ray worker died (retried once)",
                               time.perf_counter() - began)
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()
            return PointResult(task.index, task.params, FAILED,
                               f"Ray task failed: {first[0] if first else type(exc).__name__}",
                               time.perf_counter() - began)
