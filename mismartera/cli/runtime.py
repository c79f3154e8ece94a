"""The state of this mismartera process's user interface: the `AppContext`, the two consoles
(stdout for results, stderr for errors and progress) and the debug flag. Built once in `main`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rich.console import Console

from mismartera.commands.context import AppContext


@dataclass
class Runtime:
    ctx: AppContext
    out: Console
    err: Console
    debug: bool = False


_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("mismartera.cli.runtime.install() was not called")
    return _current


def out_console() -> Console:
    return current().out


def err_console() -> Console:
    return current().err


def ask_yes_no(console: Console):
    """A confirm() for AppContext: asks on the terminal; answers no when stdin is not a terminal."""

    def confirm(question: str) -> bool:
        if not (sys.stdin.isatty() and console.is_terminal):
            return False
        try:
            answer = console.input(f"{question} [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    return confirm
