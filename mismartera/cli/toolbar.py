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


# How much each field matters when the toolbar is too narrow for all: the lowest goes first.
# Equity and P&L (and a failure) stay whatever the width.
RANK_EQUITY, RANK_ERROR, RANK_CLOCK, RANK_DAY, RANK_PROGRESS, RANK_MESSAGE, RANK_TITLE, RANK_RATE, RANK_HINT = (
    10, 9, 7, 6, 5, 4, 3, 2, 1)


def ranked_parts(status: SystemStatus | None) -> list[tuple[int, str]]:
    """The toolbar's fields after the state, in display order, each with its rank (see RANK_*)."""
    if status is None or (status.state.value == "stopped" and status.run_id is None and not status.session_name):
        return [(RANK_EQUITY, "no session — system start CONFIG"), (RANK_HINT, HINT)]
    parts: list[tuple[int, str]] = []
    title = " ".join(p for p in (status.mode, status.session_name) if p)
    if title:
        parts.append((RANK_TITLE, title))
    if status.clock is not None:
        parts.append((RANK_CLOCK, status.clock.astimezone(EXCHANGE_TZ).strftime("%Y-%m-%d %H:%M:%S ET")))
    if status.days_total:
        parts.append((RANK_DAY, f"day {status.day_index}/{status.days_total}"))
    if status.mode != "live" and (status.days_total or status.progress):
        parts.append((RANK_PROGRESS, f"{status.progress * 100:.0f}%"))
    if status.bars_per_second:
        parts.append((RANK_RATE, f"{status.bars_per_second:,.0f} bars/s"))
    if status.account is not None:
        parts.append((RANK_EQUITY, f"equity {money(status.account.equity)} "
                                   f"({money(status.account.pnl, signed=True)})"))
    if status.error:
        where = f"{status.error_worker}: " if status.error_worker else ""
        parts.append((RANK_ERROR, f"error {where}{status.error}"))
    elif status.message:
        parts.append((RANK_MESSAGE, status.message))
    return parts


def summary_parts(status: SystemStatus | None) -> list[str]:
    """The toolbar's fields after the state, as short strings."""
    return [text for _, text in ranked_parts(status)]


SEPARATOR = " │ "


def fit(parts: list[tuple[int, str]], room: int | None) -> str:
    """The fields joined, dropping the least important ones until they fit in `room` characters (no
    limit when None); what still does not fit is cut with `…` at the end."""
    kept = list(parts)
    if room is None:
        return SEPARATOR.join(text for _, text in kept)
    while len(kept) > 1 and len(SEPARATOR.join(text for _, text in kept)) > room:
        lowest = min(rank for rank, _ in kept)
        if lowest >= RANK_ERROR:
            break
        index = max(i for i, (rank, _) in enumerate(kept) if rank == lowest)
        del kept[index]
    text = SEPARATOR.join(text for _, text in kept)
    return text if len(text) <= room else text[: max(0, room - 1)] + "…"


def summary_line(status: SystemStatus | None) -> str:
    """The whole summary as one plain line, e.g. for the end of a script."""
    state = status.state.value if status is not None else "stopped"
    return SEPARATOR.join([state, *summary_parts(status)])


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
    text = fit(ranked_parts(status), None if width is None else max(0, width - len(state) - 4))
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
