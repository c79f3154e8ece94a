"""The web dashboard: one page (`GET /`), its static files, and a stream of live updates.

The page and its files are public (like `/docs`): they hold no session data. Everything the page
shows comes from routes that need the bearer token: the existing `/system/…` and `/account/…`
routes, and `/dashboard/events`, a server-sent-events stream of

- `status`: the status snapshot as `system status --json` prints it, at most twice a second, and
  only when it changed;
- `equity`: points of the equity curve as they complete: each finished day of the run (from the
  stored daily equity, the same rows `system report` reads) and, in a live session, each minute.

The page reads the stream with `fetch` (an `EventSource` cannot send a bearer header).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mismartera.api.guard import PUBLIC_PREFIXES
from mismartera.commands.results import to_jsonable
from mismartera.commands.system import status_result
from mismartera.errors import UsageError

router = APIRouter(tags=["dashboard"])

STATIC = resources.files("mismartera.api") / "static"
STATIC_PREFIX = PUBLIC_PREFIXES[0]    # the guard lets the page and these files through without the token
FILES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
STATUS_INTERVAL = 0.5      # seconds: the snapshot at most twice a second
DAYS_INTERVAL = 1.0        # seconds: the stored daily equity is read at most this often
KEEPALIVE = 15.0           # seconds: a comment line so proxies and tunnels keep the stream open



def _static(name: str) -> bytes:
    return (STATIC / name).read_bytes()


@router.get("/", include_in_schema=False)
def page() -> Response:
    return Response(_static("index.html"), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"})


@router.get(STATIC_PREFIX + "{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    if name not in FILES:
        raise UsageError(f"no dashboard file named {name!r} (the files are: {', '.join(sorted(FILES))})")
    return Response(_static(name), media_type=f"{FILES[name]}; charset=utf-8", headers={"Cache-Control": "no-cache"})


def sse(event: str, data: Any) -> bytes:
    """One server-sent event: `event: NAME` and its JSON on one `data:` line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


class EquityFeed:
    """The equity points of one run not yet sent on one stream: completed days from the stored daily
    equity (the rows `system report` reads; asked for only while days are missing, at most once a
    second), and in a live session one point a minute."""

    def __init__(self, system: Any) -> None:
        self.system = system
        self.run_id: int | None = None
        self.days_sent = 0
        self.final = False
        self.asked = 0.0
        self.minute: str | None = None

    def daily(self, status: Any) -> list[dict[str, Any]] | None:
        """New finished days (blocking: a database read, run in the thread pool); None: nothing new."""
        if status.run_id is None:
            return None
        if status.run_id != self.run_id:
            self.run_id, self.days_sent, self.final, self.asked, self.minute = status.run_id, 0, False, 0.0, None
        over = not status.state.active
        expected = status.days_total if over else max(status.day_index - 1, 0)
        now = time.monotonic()
        if self.final or (self.days_sent >= expected and not over) or now - self.asked < DAYS_INTERVAL:
            return None
        self.asked = now
        days = self.system.history().daily(status.run_id)
        self.final = over and status.state.value in ("stopped", "failed")
        fresh = days[self.days_sent:]
        self.days_sent = len(days)
        return [{"t": d.day.isoformat(), "equity": d.equity, "kind": "day"} for d in fresh]

    def minutely(self, status: Any) -> list[dict[str, Any]]:
        """A live session's equity, once per minute of its clock."""
        if status.mode != "live" or status.clock is None or status.account is None:
            return []
        minute = to_jsonable(status.clock)[:16]
        if minute == self.minute:
            return []
        self.minute = minute
        return [{"t": minute, "equity": status.account.equity, "kind": "minute"}]


async def events(request: Request, system: Any) -> AsyncIterator[bytes]:
    """The stream: a `hello`, then status and equity events until the client goes away."""
    feed = EquityFeed(system)
    last = ""
    quiet = 0.0
    yield sse("hello", {"interval": STATUS_INTERVAL})
    while not await request.is_disconnected():
        status = system.status()
        body = json.dumps(to_jsonable(status_result(status)), separators=(",", ":"), default=str)
        if body != last:
            last, quiet = body, 0.0
            yield f"event: status\ndata: {body}\n\n".encode()
        points = await run_in_threadpool(feed.daily, status) or []
        points += feed.minutely(status)
        if points:
            yield sse("equity", {"run_id": status.run_id, "points": points})
        quiet += STATUS_INTERVAL
        if quiet >= KEEPALIVE:
            quiet = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(STATUS_INTERVAL)


@router.get("/dashboard/events", summary="Live updates for the dashboard (server-sent events: status, equity)")
def event_stream(request: Request) -> StreamingResponse:
    system = request.app.state.ctx.without_interface().system
    return StreamingResponse(events(request, system), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
