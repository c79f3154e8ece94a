"""Carry out what a general command asks of the shell (`clear`, `exit`, `history`, `serve`, `dashboard`),
in whichever mode this process is in (REPL, script, one-shot). `run FILE` is carried out by
`mismartera.cli.script`, which runs its lines through dispatch."""

from __future__ import annotations

from mismartera.cli import runtime
from mismartera.cli.render import render
from mismartera.commands.results import ClearScreen, Column, ExitShell, OpenDashboard, ServeSessions, ShowHistory, Table
from mismartera.errors import ExitCode


def perform(request: ClearScreen | ExitShell | ShowHistory | ServeSessions | OpenDashboard,
            as_json: bool = False) -> int:
    """Act on one request; returns the exit code."""
    rt = runtime.current()
    if isinstance(request, ClearScreen):
        if rt.out.is_terminal and rt.script_depth == 0:
            rt.out.clear()
        return int(ExitCode.OK)
    if isinstance(request, ExitShell):
        rt.exit_requested = True
        return int(ExitCode.OK)
    if isinstance(request, ShowHistory):
        from mismartera.cli.history import read_history  # prompt_toolkit (80 ms): only when asked

        everything = read_history(rt.ctx.settings.history_file)
        entries = everything[-request.limit:]
        first = len(everything) - len(entries) + 1
        render(rt.out, Table("History", (Column("#", "n", "int"), Column("Command", "command")),
                             [(first + i, line) for i, line in enumerate(entries)],
                             data=[{"n": first + i, "command": line} for i, line in enumerate(entries)]),
               as_json=as_json)
        return int(ExitCode.OK)
    if isinstance(request, ServeSessions):
        from mismartera.cli.serve import serve

        return serve(rt, request)
    if isinstance(request, OpenDashboard):
        from mismartera.cli.browser import open_dashboard

        return open_dashboard(rt, request, as_json=as_json)
    raise TypeError(f"not a shell request: {request!r}")
