"""The control API's server: uvicorn in a daemon thread of its own, so it never outlives its process.

The listening socket is bound (and listening) before the thread starts, so the port is known at
once — the discovery file can name it — and a client that connects while the thread is still
importing FastAPI waits in the socket's backlog instead of being refused. The thread imports
FastAPI and uvicorn only when the first client knocks: a session nobody asks about pays nothing
for its API (the first request waits for the import, a fraction of a second).
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from mismartera.errors import UsageError

log = logging.getLogger("mismartera.api")

STOP_TIMEOUT = 5.0
KNOCK_STEP = 0.5   # seconds between checks of the stop request while no client has come
LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot serve the control API on {host}:{port}: {exc.strerror or exc} "
                         "(choose another --api-port, or 0 for a free one)") from None
    sock.set_inheritable(False)
    return sock


class ApiServer:
    """Serves `make_app()` (a FastAPI app, built on the server thread) on a bound socket."""

    def __init__(self, make_app: Callable[[], Any], host: str = LOOPBACK, port: int = 0) -> None:
        self.make_app = make_app
        self.host = host
        self.socket = bind(host, port)
        self.port: int = self.socket.getsockname()[1]
        self._server: Any = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="control-api", daemon=True)

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def _first_client(self) -> bool:
        """Wait until a connection is pending (True) or a stop is requested (False)."""
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([self.socket], [], [], KNOCK_STEP)
            except (OSError, ValueError):
                return False
            if ready:
                return True
        return False

    def _run(self) -> None:
        try:
            if not self._first_client():
                return
            import uvicorn

            # A long poll (/system/wait) must not hold the process at exit: open requests get a second.
            config = uvicorn.Config(self.make_app(), log_config=None, access_log=False, log_level="warning",
                                    lifespan="off", timeout_keep_alive=5, server_header=False,
                                    timeout_graceful_shutdown=1)
            self._server = uvicorn.Server(config)
            self._ready.set()
            if not self._stopping.is_set():
                self._server.run(sockets=[self.socket])
        except Exception:
            log.exception("the control API stopped with an error")
        finally:
            self._ready.set()
            try:
                self.socket.close()   # clients queued in the backlog are refused, not left waiting
            except OSError:
                pass

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def serving(self) -> bool:
        """The first client has come and the app is built."""
        return self._ready.is_set()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask uvicorn to finish (open requests get a moment), join the thread, close the socket."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            if self._server is not None:   # set on the thread once the first client came
                self._server.should_exit = True
            self._thread.join(0.1)
        if self._thread.is_alive() and self._server is not None:
            self._server.force_exit = True
            self._thread.join(1.0)
        try:
            self.socket.close()
        except OSError:
            pass
