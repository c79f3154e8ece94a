"""How the process answers signals: a graceful stop first, and an end guaranteed within `EXIT_DEADLINE`.

- SIGTERM and SIGHUP (the terminal was closed) raise KeyboardInterrupt in the main thread, as Ctrl-C
  does, and mark the process as terminating: a one-shot command or script stops its session and exits
  130; the shell stops its session as `system stop` does and leaves.
- Ctrl-C (SIGINT) interrupts the command at hand. In a one-shot command or a script, a second Ctrl-C
  means "leave now": like SIGTERM it sets the deadline below. In the shell, Ctrl-C never ends the shell.
- Once terminating, a timer ends the process `EXIT_DEADLINE` seconds later whatever is still running
  (a stuck strategy, a database that does not answer), saying so on stderr. Further signals change
  nothing: the graceful stop in progress is not interrupted again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from mismartera.data.waits import abort_waits

EXIT_DEADLINE = 15.0      # seconds from a terminating signal to the end of the process, at the latest
EXIT_CODE = 130
ABORT_WAITS_AFTER = EXIT_DEADLINE / 2

log = logging.getLogger("mismartera.cli")
_lock = threading.Lock()
_terminating: str | None = None     # what asked the process to end ("SIGTERM", "a second Ctrl-C", …)
_interrupts = 0
_interactive = False


def terminating() -> str | None:
    """Why the process is ending (a signal's name), or None."""
    return _terminating


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name))
_saved: dict[int, object] = {}


def install(interactive: bool = False) -> None:
    """Install the handlers (main thread only). `interactive`: the shell, where Ctrl-C never exits."""
    global _interactive
    _interactive = interactive
    for number in _SIGNALS:
        _saved.setdefault(number, signal.getsignal(number))
    signal.signal(signal.SIGTERM, _on_terminate)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _on_terminate)
    signal.signal(signal.SIGINT, _on_interrupt)


def set_interactive(interactive: bool) -> None:
    global _interactive
    _interactive = interactive


def _on_terminate(signum: int, frame: FrameType | None) -> None:
    first = _begin_exit(signal.Signals(signum).name)
    if first:
        raise KeyboardInterrupt


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    global _interrupts
    if _terminating is not None:
        return   # already leaving: let the graceful stop finish (the deadline holds)
    _interrupts += 1
    if _interrupts >= 2 and not _interactive:
        _begin_exit("a second Ctrl-C")
    raise KeyboardInterrupt


def _begin_exit(reason: str) -> bool:
    """Mark the process as ending and arm the deadline; True the first time."""
    global _terminating
    with _lock:
        if _terminating is not None:
            return False
        _terminating = reason
    from mismartera.cli import runtime

    runtime.mark_terminated()
    log.warning("%s: stopping gracefully, exiting within %gs", reason, EXIT_DEADLINE)
    timer = threading.Timer(EXIT_DEADLINE, _exit_now, args=(reason,))
    timer.name = "mismartera-exit-deadline"
    timer.daemon = True
    timer.start()
    # Half-way, waits on the database give up (a frozen server, a file locked by another writer), so
    # the graceful stop ends with its one-line error rather than at the deadline; a healthy database
    # has had the time to record the run's end.
    aborter = threading.Timer(ABORT_WAITS_AFTER, abort_waits)
    aborter.name = "mismartera-abort-waits"
    aborter.daemon = True
    aborter.start()
    return True


def _exit_now(reason: str) -> None:
    """The deadline passed: end the process at once (a run left active is found interrupted later)."""
    message = f"mismartera: still running {EXIT_DEADLINE:g}s after {reason}; exiting now\n"
    log.error("%s", message.strip())
    try:
        sys.stderr.write(message)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    logging.shutdown()
    os._exit(EXIT_CODE)


def restore() -> None:
    """Put back the handlers `install` replaced (when `main` returns to a caller in the same process)."""
    global _terminating, _interrupts
    for number, handler in _saved.items():
        signal.signal(number, handler)  # type: ignore[arg-type]
    _saved.clear()
    if _terminating is None:
        _interrupts = 0
