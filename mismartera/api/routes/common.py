"""What every route needs: the owner's context (without its terminal), the JSON of a result, and the
argument checks the CLI's parser makes, with the same messages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from mismartera.commands.context import AppContext
from mismartera.commands.results import to_jsonable
from mismartera.errors import UsageError
from mismartera.suggest import suffix

RUN_HEADER = "X-Mismartera-Run"


def context(request: Request) -> AppContext:
    """The owner's AppContext, with no progress display or questions on its screen."""
    return request.app.state.ctx.without_interface()


def result(value: Any, run_id: int | None = None) -> JSONResponse:
    """A command's result as its `--json` prints it."""
    headers = {RUN_HEADER: str(run_id)} if run_id is not None else None
    return JSONResponse(to_jsonable(value), headers=headers)


def choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    """`value` when it is one of `choices` (any case), else the parser's UsageError."""
    if value is None:
        return None
    lowered = {c.lower(): c for c in choices}
    if value.lower() not in lowered:
        raise UsageError(f"--{name}: '{value}' is not one of {', '.join(choices)}{suffix(value, choices)}")
    return lowered[value.lower()]
