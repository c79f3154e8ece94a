"""How this process takes part in "one session per data home": the hooks `main` gives the
`AppContext` — find another process's session (the session commands then go through its API),
host this process's own session (serve the control API, write the discovery file), and, in
one-shot mode, hand a new session to a detached `serve` host."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from rich.console import Console
from rich.text import Text

from mismartera.commands.context import AppContext


def session_hooks(kind: str, err: Console, environ: Mapping[str, str], *, one_shot: bool) -> dict[str, Any]:
    """Keyword arguments for AppContext: `kind` names this process in the discovery file
    ("shell", "script", "one-shot"); `environ` is passed on to a detached host."""

    def attach_host(ctx: AppContext, manager: Any) -> None:
        from mismartera.api.host import SessionHost

        SessionHost(ctx, manager, kind, warn=lambda text: err.print(Text(text, style="yellow"))).attach()

    detached = partial(_detach, environ=dict(environ)) if one_shot else None
    return {"locate_owner": _locate_owner, "attach_host": attach_host, "detach": detached}


# The control API's client side is imported when a command asks for the session, not at start-up
# (a one-shot `data high-low` never does).
def _locate_owner(ctx: AppContext) -> Any:
    from mismartera.api.remote import locate_owner

    return locate_owner(ctx)


def _detach(ctx: AppContext, environ: dict[str, str]) -> Any:
    from mismartera.api.remote import detach

    return detach(ctx, environ=environ)
