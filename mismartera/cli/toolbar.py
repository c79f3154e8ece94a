"""The REPL's bottom toolbar: a one-line summary of the latest `SystemStatus` snapshot.

It is redrawn about twice a second while the user types, so it only reads: `ctx.has_system()` (no
engine is created just to say `stopped`) and `ctx.system.status()`, which swaps in no work and does
no I/O. The same summary, as plain text, ends a script run.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from mismartera.commands.context import AppContext
from mismartera.exchange import EXCHANGE_TZ

if TYPE_CHECKING:  # the snapshot type only; importing the system package would load the engine
    from prompt_toolkit.formatted_text import StyleAndTextTuples

    from mismartera.system.status import SystemStatus

log = logging.getLogger("mismartera.cli.toolbar")

STATE_STYLES = {
    "stopped": "bg:#444444 #ffffff",
    "starting": "bg:#005f87 #ffffff",
    "running": "bg:#008700 #ffffff bold",
    "paused": "bg:#af8700 #000000 bold",
    "stopping": "bg:#005f87 #ffffff",
    "failed": "bg:#af0000 #ffffff bold",
}
HINT = "help · Tab completes · Ctrl-R searches history · Ctrl-D leaves"


def money(value: float, *, signed: bool = False) -> str:
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def summary_parts(status: SystemStatus | None) -> list[str]:
    """The toolbar's fields after the state, as short strings."""
    if status is None or (status.state.value == "stopped" and status.run_id is None and not status.session_name):
        return ["no session — system start CONFIG", HINT]
    parts: list[str] = []
    title = " ".join(p for p in (status.mode, status.session_name) if p)
    if title:
        parts.append(title)
    if status.clock is not None:
        parts.append(status.clock.astimezone(EXCHANGE_TZ).strftime("%Y-%m-%d %H:%M:%S ET"))
    if status.days_total:
        parts.append(f"day {status.day_index}/{status.days_total}")
    if status.mode != "live" and (status.days_total or status.progress):
        parts.append(f"{status.progress * 100:.0f}%")
    if status.bars_per_second:
        parts.append(f"{status.bars_per_second:,.0f} bars/s")
    if status.account is not None:
        parts.append(f"equity {money(status.account.equity)} ({money(status.account.pnl, signed=True)})")
    if status.error:
        where = f"{status.error_worker}: " if status.error_worker else ""
        parts.append(f"error {where}{status.error}")
    elif status.message:
        parts.append(status.message)
    return parts


def summary_line(status: SystemStatus | None) -> str:
    """The whole summary as one plain line, e.g. for the end of a script."""
    state = status.state.value if status is not None else "stopped"
    return " │ ".join([state, *summary_parts(status)])


def current_status(ctx: AppContext) -> SystemStatus | None:
    """The latest snapshot, or None when no engine exists yet (never creates one)."""
    if not ctx.has_system():
        return None
    return ctx.system.status()


def toolbar_fragments(ctx: AppContext, width: int | None = None) -> StyleAndTextTuples:
    """prompt_toolkit formatted text for the bottom toolbar; never raises."""
    try:
        status = current_status(ctx)
    except Exception as exc:  # a broken snapshot must not take the prompt down
        log.debug("toolbar: status unavailable: %r", exc)
        return [("bg:#af0000 #ffffff", f" status unavailable: {type(exc).__name__} ")]
    state = status.state.value if status is not None else "stopped"
    text = " │ ".join(summary_parts(status))
    if width is not None:
        room = max(0, width - len(state) - 4)
        text = text if len(text) <= room else text[: max(0, room - 1)] + "…"
    fragments: StyleAndTextTuples = [(STATE_STYLES.get(state, ""), f" {state} "), ("", f" {text}")]
    return fragments


class Toolbar:
    """The toolbar callable for prompt_toolkit. prompt_toolkit asks for the toolbar on every redraw
    (each keystroke too); the status is read at most every `max_age` seconds, so typing never pays
    for building a snapshot."""

    def __init__(self, ctx: AppContext, width: Any = None, max_age: float = 0.25) -> None:
        self.ctx = ctx
        self.width = width or (lambda: None)
        self.max_age = max_age
        self._made = -1.0
        self._fragments: StyleAndTextTuples = []

    def __call__(self) -> StyleAndTextTuples:
        now = time.monotonic()
        if now - self._made >= self.max_age:
            self._fragments = toolbar_fragments(self.ctx, self.width())
            self._made = now
        return self._fragments
