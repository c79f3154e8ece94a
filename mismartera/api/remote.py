"""The session of another process, steered through its control API.

`RemoteSystem` has the methods of `SystemManager` that the session commands call and returns the
same view types, decoded from the JSON the routes answer (which is the commands' `--json`). So a
command run in a second process uses the same handler, result object and renderer as in the owner's
own shell, and an error comes back as the same exception: same output, same exit code.

`locate_owner` is what `AppContext.session` asks: the live owner of this data home's session, if it
is another process. `detach` starts a `mismartera serve` host in the background for a one-shot
`system start` without --wait, and hands the new session to it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mismartera.api.client import ApiClient
from mismartera.api.decode import decode
from mismartera.api.host import forget_stale, owner_taken
from mismartera.commands.context import AppContext
from mismartera.errors import Interrupted, MismarteraError, WaitTimeout
from mismartera.system import discovery
from mismartera.system.discovery import OwnerRecord
from mismartera.system.state import SystemState
from mismartera.system.status import AccountView, FillView, OrderView, PositionView, SystemStatus

log = logging.getLogger("mismartera.api")

RUN_HEADER = "x-mismartera-run"
WAIT_CHUNK = 30.0           # seconds per long poll of /system/wait
PROGRESS_CHUNK = 1.0        # … while a progress display is shown
REQUEST_MARGIN = 15.0       # a long poll's HTTP timeout: its wait plus this
HOST_START_TIMEOUT = 30.0   # a detached `serve` host must be reachable within this
STOP_TIMEOUT = 10.0


class RemoteSystem:
    """The session owned by the process in `record`, through its API (the token is read from the
    state dir's token file, never passed around)."""

    remote = True

    def __init__(self, app: AppContext, record: OwnerRecord) -> None:
        self.app = app
        self.record = record
        self._client: ApiClient | None = None

    def __repr__(self) -> str:
        return f"RemoteSystem({self.record.where}, {self.record.api_url})"

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            token = discovery.read_token(self.app.settings.state_dir)
            if token is None or self.record.port is None:
                raise MismarteraError(f"the session in {self.record.where} has no control API token in "
                                      f"{self.app.settings.state_dir} (is it still starting?)")
            self._client = ApiClient(self.record.api_host, self.record.port, token)
        return self._client

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, **kwargs)[0]

    # ------------------------------------------------------------------ lifecycle
    def status(self) -> SystemStatus:
        return decode(SystemStatus, self._call("GET", "/system/status"))

    def start(self, config: Any, speed: float | None = None, resume: int | None = None) -> SystemStatus:
        """Start a session in the owner (an idle `serve` host). The config file is read and checked
        here, with the CLI's messages, and sent as a body (paths are this process's); `resume`
        continues a stored backtest run instead."""
        from mismartera.config.session import SessionConfig, load_session_config

        if self.status().state.active:
            raise owner_taken(self.record)
        body: dict[str, Any] = {"speed": speed}
        if resume is not None:
            body["resume"] = resume
        else:
            cfg = config if isinstance(config, SessionConfig) else load_session_config(config)
            body["config"] = cfg.model_dump(mode="json")
        return decode(SystemStatus, self._call("POST", "/system/start", body=body))

    def pause(self) -> SystemStatus:
        data = self._call("POST", "/system/pause")
        return SystemStatus(SystemState(data["state"]), clock=decode(datetime, data.get("clock")),
                            run_id=data.get("run_id"))

    def resume(self) -> SystemStatus:
        data = self._call("POST", "/system/resume")
        return SystemStatus(SystemState(data["state"]), run_id=data.get("run_id"))

    def stop(self, timeout: float = STOP_TIMEOUT) -> SystemStatus:
        data = self._call("POST", "/system/stop", query={"timeout": timeout}, timeout=timeout + REQUEST_MARGIN)
        return SystemStatus(SystemState(data["state"]), run_id=data.get("run_id"), message=data.get("message", ""))

    def wait(self, timeout: float | None = None, progress: Any = None, progress_factory: Any = None) -> SystemStatus:
        """Long polls of the owner's wait until the session ends; WaitTimeout after `timeout` seconds."""
        if progress is None and progress_factory is not None:
            current = self.status()
            if current.state.active and current.days_total:
                made = progress_factory("waiting", current.days_total, "days")
                try:
                    return self.wait(timeout, made)
                finally:
                    made.close()
        deadline = None if timeout is None else time.monotonic() + timeout
        chunk = PROGRESS_CHUNK if progress is not None else WAIT_CHUNK
        while True:
            step = chunk if deadline is None else max(0.001, min(chunk, deadline - time.monotonic()))
            try:
                data = self._call("POST", "/system/wait", query={"timeout": round(step, 3)},
                                  timeout=step + REQUEST_MARGIN)
                return decode(SystemStatus, data)
            except WaitTimeout as exc:
                if deadline is not None and time.monotonic() >= deadline - 0.001:
                    raise WaitTimeout(re.sub(r"after [0-9.]+s", f"after {timeout:g}s", exc.message)) from None
            if progress is not None:
                current = self.status()
                progress.update(completed=round(current.progress * current.days_total, 2),
                                description=f"{current.message or current.state.value} {current.day or ''}".strip())

    def run(self, config: Any, speed: float | None = None, progress_factory: Any = None,
            timeout: float | None = None, resume: int | None = None) -> SystemStatus:
        """Start a session in the owner and wait for its end; Ctrl-C stops it (exit 130), as at home."""
        self.start(config, speed, resume)
        try:
            return self.wait(timeout, progress_factory=progress_factory)
        except KeyboardInterrupt:
            status = self._stop_quietly()
            raise Interrupted(f"interrupted: session stopped (run {status.run_id})") from None
        except WaitTimeout:
            self._stop_quietly()
            raise

    def _stop_quietly(self) -> SystemStatus:
        try:
            return self.stop(STOP_TIMEOUT)
        except (MismarteraError, KeyboardInterrupt):
            return self.status()

    # ------------------------------------------------------------------ reports (stored in the shared database)
    def report(self, run_id: int | None = None) -> tuple[Any, list[Any]]:
        """The owner decides whether the run has a report yet (its errors are the ones shown); the
        rows are then read from the database both processes share."""
        from mismartera.system.runs import RunHistory

        data = self._call("GET", "/system/report", query={"run": run_id})
        history = RunHistory(self.app.db)
        info = history.run(int(data["run"]["id"]))
        return info, history.daily(info.id)

    def export_report_csv(self, path: str, run_id: int | None = None) -> tuple[Any, int]:
        from mismartera.system.runs import write_report_csv

        info, days = self.report(run_id)
        return info, write_report_csv(path, info, days)

    # ------------------------------------------------------------------ account and orders
    def _run_call(self, path: str, query: dict[str, Any]) -> tuple[Any, int]:
        data, headers = self.client.request("GET", path, query=query)
        return data, int(headers.get(RUN_HEADER, "0"))

    def account(self, run_id: int | None = None) -> tuple[int, AccountView]:
        balance, rid = self._run_call("/account/balance", {"run": run_id})
        rows, _ = self._run_call("/account/positions", {"run": rid if run_id is not None else None})
        positions = tuple(decode(PositionView, row) for row in rows)
        return rid, AccountView(balance["initial_cash"], balance["cash"], balance["equity"], balance["buying_power"],
                                balance["realized_pnl"], balance["unrealized_pnl"], positions)

    def orders(self, status: str | None = None, run_id: int | None = None) -> tuple[int, list[OrderView]]:
        rows, rid = self._run_call("/account/orders", {"status": status, "run": run_id})
        return rid, [decode(OrderView, row) for row in rows]

    def fills(self, run_id: int | None = None) -> tuple[int, list[FillView]]:
        rows, rid = self._run_call("/account/fills", {"run": run_id})
        return rid, [decode(FillView, row) for row in rows]

    def submit_order(self, symbol: str, side: str, quantity: float, limit: float | None = None,
                     stop: float | None = None, tif: str = "day") -> OrderView:
        body = {"symbol": symbol, "side": side, "quantity": quantity, "limit": limit, "stop": stop, "tif": tif}
        return decode(OrderView, self._call("POST", "/orders", body=body))

    def cancel_order(self, order_id: int) -> OrderView:
        return decode(OrderView, self._call("POST", f"/orders/{order_id}/cancel"))


def _mine(record: OwnerRecord) -> bool:
    return record.pid == os.getpid() and record.host == socket.gethostname()


def locate_owner(ctx: AppContext) -> RemoteSystem | None:
    """Another live process's session of this data home, or None (no owner, or this process is it).
    A stale discovery file is cleared on the way, and its run marked as not running."""
    record = discovery.find_owner(ctx.settings.state_dir, on_stale=forget_stale(ctx))
    if record is None or _mine(record):
        return None
    return RemoteSystem(ctx, record)


class DetachedHost(RemoteSystem):
    """A `serve` host this process just started for one session: if that session cannot start, the
    host is stopped again rather than left behind."""

    def __init__(self, app: AppContext, record: OwnerRecord, pid: int) -> None:
        super().__init__(app, record)
        self.pid = pid

    def start(self, config: Any, speed: float | None = None, resume: int | None = None) -> SystemStatus:
        try:
            return super().start(config, speed, resume)
        except BaseException:
            _end(self.pid)
            raise


def _exited(pid: int) -> int | None:
    """The exit code of our child `pid` once it has ended (reaping it), else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if done else None


def _end(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM our child and reap it (SIGKILL after `timeout`)."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _exited(pid) is None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(0.05)
    except (ProcessLookupError, ChildProcessError):
        pass


def detach(ctx: AppContext, environ: Mapping[str, str]) -> DetachedHost:
    """Start `mismartera serve --once` in a session of its own (it outlives this process, like
    `docker run -d`, and leaves when its session ends) and return it once its API is reachable.
    `environ` is the host's environment (this process's: the same data home and keys). Spawned
    without a Popen object: nothing in this process waits for the host or warns about it."""
    state_dir = ctx.settings.state_dir
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "mismartera", "serve", "--once"], dict(environ),
                         file_actions=quiet, setsid=True)
    deadline = time.monotonic() + HOST_START_TIMEOUT
    while time.monotonic() < deadline:
        record = discovery.read_record(state_dir)
        if record is not None and record.pid == pid and discovery.read_token(state_dir):
            return DetachedHost(ctx, record, pid)
        code = _exited(pid)
        if code is not None:
            other = discovery.find_owner(state_dir)
            if other is not None and not _mine(other):
                raise owner_taken(other)
            raise MismarteraError(f"the session host (mismartera serve) exited at once with code {code}; "
                                  f"see {ctx.settings.log_file}")
        time.sleep(0.05)
    _end(pid)
    raise WaitTimeout(f"the session host (mismartera serve, pid {pid}) was not reachable within "
                      f"{HOST_START_TIMEOUT:g}s; see {ctx.settings.log_file}")


__all__ = ["DetachedHost", "RemoteSystem", "detach", "locate_owner"]
