"""`SessionHost`: what makes a process the owner of its data home's session, reachable from others.

Attached to the process's `SystemManager` (by `mismartera.cli` when it creates one), it

- refuses a start while another live process owns the session (`a session is running in pid 4242
  (shell): stop it first or use system stop`, exit 3), after clearing a stale owner's record;
- on the first start, binds the control API's socket, writes the token file (0600) and starts
  the server thread; the server then stays up for the life of the process;
- claims the discovery file (pid, host, port, run id, kind, start time) and keeps its run id
  current; a shell, script or one-shot owner releases it when its session stops, a `serve` host
  (`persistent`) keeps it for its whole life;
- at exit stops the server and removes the discovery and token files.

Nothing here imports FastAPI: the app is built on the server's thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from mismartera.api.server import LOOPBACK, ApiServer, is_loopback
from mismartera.commands.context import AppContext
from mismartera.errors import StateError
from mismartera.system import discovery
from mismartera.system.discovery import OwnerRecord
from mismartera.system.state import SystemState
from mismartera.timekeeping.clock import WallClock

log = logging.getLogger("mismartera.api")

WILDCARD = ("0.0.0.0", "::", "")


def owner_taken(other: OwnerRecord) -> StateError:
    return StateError(f"a session is running in {other.where}: stop it first or use system stop")


def forget_stale(ctx: AppContext) -> Callable[[OwnerRecord], None]:
    """What to do with a dead owner's record: its run is not running any more."""

    def forget(record: OwnerRecord) -> None:
        log.warning("the session owner %s is gone; its discovery file was removed", record.where)
        if record.run_id is None:
            return
        from mismartera.system.runs import mark_not_running

        try:
            mark_not_running(ctx.db, record.run_id, f"its process ({record.where}) ended without stopping it")
        except Exception:
            log.exception("could not mark run %s as not running", record.run_id)

    return forget


class SessionHost:
    """Owner-side lifecycle of the control API and the discovery file for one SystemManager."""

    def __init__(self, ctx: AppContext, manager: Any, kind: str, *, api_host: str | None = None,
                 api_port: int | None = None, persistent: bool = False,
                 warn: Callable[[str], None] | None = None) -> None:
        self.ctx = ctx
        self.manager = manager
        self.kind = kind
        self.state_dir = ctx.settings.state_dir
        self.api_host = api_host or ctx.settings.api.host
        self.api_port = ctx.settings.api.port if api_port is None else api_port
        self.persistent = persistent
        self.warn = warn
        self.token = secrets.token_urlsafe(32)
        self.server: ApiServer | None = None
        self.record: OwnerRecord | None = None
        self._lock = threading.RLock()
        self._closed = False

    def attach(self) -> SessionHost:
        self.manager.start_guards.append(self.open)
        self.manager.listeners.append(self._on_state)
        self.manager.owner = lambda: self.record
        atexit.register(self.close)
        return self

    # ------------------------------------------------------------------ becoming the owner
    def open(self) -> OwnerRecord:
        """Own the session of this data home (start the API on first use); StateError when another
        live process owns it."""
        with self._lock:
            other = discovery.find_owner(self.state_dir, on_stale=forget_stale(self.ctx))
            if other is not None and not self._mine(other):
                raise owner_taken(other)
            server = self._serve()
            record = self.record or OwnerRecord(
                pid=os.getpid(), host=socket.gethostname(), kind=self.kind,
                started_at=WallClock().now().isoformat(timespec="seconds"),
                api_host=LOOPBACK if self.api_host in WILDCARD else self.api_host, port=server.port,
                run_id=self.manager.run_id)
            taken = discovery.claim(self.state_dir, record)
            if taken is not None:
                raise owner_taken(taken)
            self.record = record
            return record

    def _mine(self, record: OwnerRecord) -> bool:
        return self.record is not None and record.same_owner(self.record)

    def _serve(self) -> ApiServer:
        if self.server is None:
            if not is_loopback(self.api_host) and self.warn is not None:
                self.warn(f"warning: the control API listens on {self.api_host}, reachable beyond this machine; "
                          "anyone with the token can steer the session")
            server = ApiServer(self._make_app, self.api_host, self.api_port)
            discovery.write_token(self.state_dir, self.token)
            self.server = server.start()
            log.info("control API on %s:%s", self.api_host, server.port)
        return self.server

    def _make_app(self) -> Any:
        """On the server's thread: FastAPI is imported only now."""
        from mismartera.api import dashboard
        from mismartera.api.app import create_app

        return create_app(self.ctx, self.token, routers=(dashboard.router,))

    @property
    def api_url(self) -> str | None:
        return self.record.api_url if self.record is not None else None

    # ------------------------------------------------------------------ following the session
    def _on_state(self, state: SystemState) -> None:
        """Called under the manager's lock on every new state: quick file updates only."""
        with self._lock:
            record = self.record
            if record is None:
                return
            try:
                if state is SystemState.RUNNING and record.run_id != self.manager.run_id:
                    self.record = record.with_changes(run_id=self.manager.run_id)
                    discovery.update(self.state_dir, self.record)
                elif state is SystemState.STOPPED and not self.persistent:
                    self.record = None
                    discovery.release(self.state_dir)
            except OSError as exc:
                log.warning("could not update the discovery file: %s", exc)

    # ------------------------------------------------------------------ leaving
    def close(self) -> None:
        """Stop the server, remove the discovery and token files (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.server is not None:
                self.server.stop()
            discovery.release(self.state_dir)
            discovery.remove_token(self.state_dir, self.token)
            self.record = None
