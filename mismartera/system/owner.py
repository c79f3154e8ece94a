"""Who owns a run: this process's identity (pid, host, start time) and whether an owner is still alive.

A runs row records the identity of the process running it. Another process reading the row decides
whether that owner is gone: on the same host, its pid is not alive, or is alive but started at another
time (the pid was reused); on another host, whose processes cannot be seen, its heartbeat is older than
`STALE_AFTER`. The start time is the kernel's (`/proc/PID/stat`, clock ticks since boot); where there is
no /proc it is None and the pid alone decides.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

STALE_AFTER = timedelta(seconds=60)   # a run of another host with no heartbeat for this long is interrupted


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    started: int | None   # the process's start time in clock ticks since boot, when the OS says


def process_started(pid: int) -> int | None:
    """The start time of process `pid` (clock ticks since boot), or None when it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[19])   # field 22 of the whole line: starttime
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, owned by another user
        return True
    except OSError:
        return False
    return True


@cache
def host_name() -> str:
    return socket.gethostname()


def this_process() -> Owner:
    pid = os.getpid()
    return Owner(pid, host_name(), process_started(pid))


def owner_gone(pid: int | None, host: str | None, started: int | None, heartbeat: datetime | None,
               now: datetime) -> bool:
    """True when the run's owner is certainly not running it any more (see the module doc)."""
    if pid is not None and host == host_name():
        if not pid_alive(pid):
            return True
        if started is not None:
            current = process_started(pid)
            return current is not None and current != started
        return False
    # Another host (or a row written before owners were recorded): only the heartbeat can tell.
    return heartbeat is None or now - heartbeat > STALE_AFTER
