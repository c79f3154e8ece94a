"""`system watch`: the dashboard redrawn live (rich `Live`) until q, Esc or Ctrl-C.

The refresh thread only reads snapshots through the `Watch` request's status callable. Keys are
read from the terminal in cbreak mode with a timeout, and the terminal settings are restored
whatever happens; the live frame is transient, so leaving puts the terminal back as it was. When
the session ends while watching, the final frame stays and the `system report` hint is printed.
Outside the interactive shell (scripts, pipes) one frame is printed instead.
"""

from __future__ import annotations

import os
import select
import sys
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.control import Control
from rich.live import Live
from rich.text import Text

from mismartera.cli import runtime
from mismartera.cli.dashboard import dashboard
from mismartera.cli.render import WATCH_WIDTH
from mismartera.commands.results import Watch
from mismartera.errors import ExitCode

QUIT_KEYS = ("q", "Q", "\x1b")
FOOTER = "q, Esc or Ctrl-C: back to the prompt"


class KeyReader:
    """Single key presses from a terminal, without echo, each read waiting at most `timeout` seconds."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved: Any = None

    def __enter__(self) -> KeyReader:
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        import termios

        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def read(self, timeout: float) -> str | None:
        """One key (an escape sequence such as an arrow key comes back whole), or None on timeout."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        data = os.read(self.fd, 64)
        return data.decode("utf-8", errors="replace") if data else None


def hint(status: Any) -> str:
    if status.state.value == "failed":
        where = f" in {status.error_worker}" if status.error_worker else ""
        return f"session failed{where}: {status.error} — 'system report' shows what ran, 'system stop' resets"
    return f"session {status.state.value} — 'system report' shows the results"


def watch(request: Watch) -> int:
    """Show the dashboard; live in the interactive shell, one frame anywhere else."""
    rt = runtime.current()
    status = request.status()
    if not rt.live_allowed or not status.state.active:
        rt.out.print(dashboard(status), width=min(rt.out.width, WATCH_WIDTH))
        if not status.state.active and status.session_name:
            rt.out.print(Text(hint(status), style="bold"))
        elif not status.state.active:
            rt.out.print(Text("no session is running — start one with 'system start CONFIG'", style="dim"))
        return int(ExitCode.OK)
    return _live(rt, request, status)


def follow_terminal_size(console: Console) -> bool:
    """Give `console` the terminal's current size (rich keeps the size it started with when COLUMNS
    and LINES are set); True when it changed."""
    try:
        columns, lines = os.get_terminal_size(console.file.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    if (columns, lines) == tuple(console.size):
        return False
    console.size = (columns, lines)
    return True


def _live(rt: runtime.Runtime, request: Watch, first: Any) -> int:
    latest = {"status": first, "ended": False}
    follow_terminal_size(rt.out)

    def frame() -> Any:
        # After a resize the terminal has re-wrapped (or cut) the last frame, so moving up over its
        # old height no longer lands on its first line: clear the screen and draw from the top.
        # (Called by Live just before it draws, on its refresh thread or in `update`.)
        if follow_terminal_size(rt.out):
            rt.out.control(Control.home(), Control.clear())
        try:
            latest["status"] = request.status()
        except Exception:  # keep showing the last good snapshot
            pass
        if not latest["status"].state.active:
            latest["ended"] = True
        return dashboard(latest["status"], footer=None if latest["ended"] else FOOTER)

    interval = 1.0 / max(0.5, request.refresh_per_second)
    live = Live(get_renderable=frame, console=rt.out, refresh_per_second=request.refresh_per_second,
                transient=True, redirect_stdout=True, redirect_stderr=True)
    try:
        with KeyReader() as keys, live:
            while True:
                key = keys.read(interval)
                if key is not None and (key in QUIT_KEYS or key[:1] in ("q", "Q")):
                    break
                if latest["ended"] or not latest["status"].state.active:
                    latest["ended"] = True
                    live.transient = False  # the final frame stays on screen
                    live.update(frame(), refresh=True)
                    break
    except KeyboardInterrupt:
        pass
    if latest["ended"]:
        rt.out.print(Text(hint(latest["status"]), style="bold"))
    return int(ExitCode.OK)
