"""Long results in the interactive shell go through a pager (`$PAGER`, else `less`), as psql and pgcli
do: a table taller than the terminal would otherwise scroll its head out of sight.

`less` gets `-SRXF` unless `$LESS` says otherwise: long lines scroll sideways instead of wrapping
(-S), colours pass through (-R), the text stays on screen after quitting (-X), and a result that
fits one screen is printed without paging (-F). Scripts, pipes and one-shot commands never page.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.pager import Pager

from mismartera.commands.results import Group, Table

LESS_FLAGS = "-SRXF"
MARGIN = 3   # lines kept for the prompt and the toolbar


class ShellPager(Pager):
    """Shows content through the user's pager command (a shell command line, like `$PAGER`)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.command = environ.get("PAGER") or "less"
        self.env = {**environ, "LESS": environ.get("LESS") or LESS_FLAGS}

    def show(self, content: str) -> None:
        try:
            proc = subprocess.Popen(self.command, shell=True, stdin=subprocess.PIPE, env=self.env,
                                    text=True, encoding="utf-8", errors="replace")
        except OSError:   # no pager: print it as it is
            print(content, end="")
            return
        try:
            proc.communicate(content)
        except (BrokenPipeError, KeyboardInterrupt):   # quit before the end, or Ctrl-C in the pager
            pass
        finally:
            if proc.poll() is None:
                proc.wait()


def table_rows(result: Any) -> int:
    """Rows of the tables in a result (what makes a result long)."""
    if isinstance(result, Table):
        return len(result.rows)
    if isinstance(result, Group):
        return sum(table_rows(part) for part in result.parts)
    return 0


def wants_pager(console: Console, result: Any) -> bool:
    """True in the interactive shell (no script running, a terminal) for a result taller than the screen."""
    from mismartera.cli import runtime

    if not runtime.installed():
        return False
    rt = runtime.current()
    if not rt.live_allowed or console is not rt.out:
        return False
    return table_rows(result) > max(1, console.height - MARGIN)
