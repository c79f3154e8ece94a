"""The state of this mismartera process's user interface: the `AppContext`, the two consoles
(stdout for results, stderr for errors and progress), the debug flag, and what the current mode
allows (a live display, leaving the shell). Built once in `main`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rich.console import Console

from mismartera.cli.redact import Redactor
from mismartera.commands.context import AppContext


@dataclass
class Runtime:
    ctx: AppContext
    out: Console
    err: Console
    debug: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)  # for $NAME in scripts (main passes the environment)
    redactor: Redactor = field(default_factory=Redactor)
    interactive: bool = False      # the REPL is running (live panels and questions are possible)
    script_depth: int = 0          # > 0 while a script runs: no live display, echo each command
    quiet: bool = False            # scripts: no echo of the commands (stdout holds only their output)
    exit_requested: bool = False   # `exit` / `quit` was run
    ask: Callable[[str], bool] | None = None  # the REPL's yes/no question (None: answer no)

    @property
    def live_allowed(self) -> bool:
        """A rich Live display needs the interactive shell on a terminal and no script running."""
        return self.interactive and self.script_depth == 0 and self.out.is_terminal and sys.stdin.isatty()


_current: Runtime | None = None
_terminated = False


def mark_terminated() -> None:
    """SIGTERM arrived: the shell leaves instead of treating the interrupt as Ctrl-C."""
    global _terminated
    _terminated = True


def terminated() -> bool:
    return _terminated


def install(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def installed() -> bool:
    return _current is not None


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("mismartera.cli.runtime.install() was not called")
    return _current


def out_console() -> Console:
    return current().out


def err_console() -> Console:
    return current().err


def ask_yes_no(console: Console) -> Callable[[str], bool]:
    """A confirm() for AppContext: asks on the terminal; answers no when stdin is not a terminal or a
    script is running (a script never waits for a person)."""

    def confirm(question: str) -> bool:
        if not (sys.stdin.isatty() and console.is_terminal):
            return False
        if _current is not None and _current.script_depth > 0:
            return False
        if _current is not None and _current.ask is not None:
            return _current.ask(question)
        try:
            answer = console.input(f"{question} [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    return confirm
