"""PostgreSQL connections that never wait forever.

The server enforces `statement_timeout` on a statement it is running, and TCP keepalives notice a
host that is gone. Neither helps when the server process is alive but frozen (stopped, swapping, a
hung disk): its kernel still acknowledges every packet. So the client keeps its own deadline too:
`BoundedConnection` (psycopg 3) waits on the socket in steps of at most a second, and gives up
after `wait_limit` seconds, or within a second of `waits.abort_waits()` (the process is stopping),
closing the connection and raising `OperationalError` with one line saying why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors

from mismartera.data.waits import aborting as _aborting

_STEP = 1.0


class BoundedConnection(psycopg.Connection):
    """A psycopg connection whose every wait on the server has a deadline (see the module doc)."""

    wait_limit: float = 25.0

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = self.wait_limit if timeout is None else min(timeout, self.wait_limit)
        deadline = time.monotonic() + limit
        while True:
            step = max(0.0, min(_STEP, deadline - time.monotonic()))
            try:
                return super().wait(gen, interval, step)
            except errors._WaitTimeout:  # the generator keeps its place: waiting again resumes it
                if _aborting.is_set() or time.monotonic() >= deadline:
                    self.pgconn.finish()  # its state is unknown now: never reuse it
                    why = "the process is stopping" if _aborting.is_set() else f"no answer within {limit:g} s"
                    raise psycopg.OperationalError(f"the database server did not answer ({why})") from None


def bounded_connector(wait_limit: float) -> Callable[[Any, Any, tuple, dict], BoundedConnection]:
    """A `do_connect` event handler for SQLAlchemy that makes `BoundedConnection`s."""

    def connect(dialect: Any, record: Any, cargs: tuple, cparams: dict) -> BoundedConnection:
        if _aborting.is_set():  # stopping: no new connection (each could wait its connect timeout)
            raise psycopg.OperationalError("the database server was not contacted (the process is stopping)")
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_limit = wait_limit
        return connection

    return connect
