"""The process is stopping: every wait on the database gives up.

One event shared by `database` (SQLite's write-lock retries) and `postgres` (the client-side deadline
on a server's answer), in a module of its own so that neither imports the other for it. SIGTERM sets
it (`abort_waits`); nothing ever clears it.
"""

from __future__ import annotations

import threading

aborting = threading.Event()


def abort_waits() -> None:
    """The process is stopping (SIGTERM): waits on the database give up within a second."""
    aborting.set()
