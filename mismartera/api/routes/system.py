"""`/system/…`: start, pause, resume, stop, wait for, and report on the session (the `system` commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from mismartera.api.routes.common import context, result
from mismartera.commands.context import AppContext
from mismartera.commands.system import (
    pause_result,
    report_result,
    resume_result,
    runs_result,
    start_result,
    status_result,
    stop_result,
)
from mismartera.config.session import parse_session_config
from mismartera.errors import UsageError

router = APIRouter(prefix="/system", tags=["system"])

MAX_WAIT = 600.0


class StartRequest(BaseModel):
    """A session config: a file path (on the owner's machine) or the config itself."""

    model_config = ConfigDict(extra="forbid")
    path: str | None = None
    config: dict[str, Any] | None = None
    speed: float | None = None
    resume: int | None = None   # continue this stored backtest run instead (no path or config then)


@router.get("/status", summary="The session's state, clock, progress, account and workers (system status)")
def status(ctx: AppContext = Depends(context)) -> JSONResponse:
    return result(status_result(ctx.system.status()))


@router.post("/start", summary="Start a session from a config file path or a config body (system start)")
def start(body: StartRequest, ctx: AppContext = Depends(context)) -> JSONResponse:
    if body.resume is not None:
        if body.path is not None or body.config is not None:
            raise UsageError("\"resume\" continues a run with its own config: give no \"path\" or \"config\" with it")
        return result(start_result(ctx.system.start(None, body.speed, resume=body.resume), "resumed"))
    if (body.path is None) == (body.config is None):
        raise UsageError("give the session config once: as \"path\" (a file) or as \"config\" (the JSON itself)")
    config = parse_session_config(body.config) if body.config is not None else Path(str(body.path))
    return result(start_result(ctx.system.start(config, body.speed)))


@router.post("/pause", summary="Pause the session (system pause)")
def pause(ctx: AppContext = Depends(context)) -> JSONResponse:
    return result(pause_result(ctx.system.pause(), ctx.time.to_exchange))


@router.post("/resume", summary="Resume a paused session (system resume)")
def resume(ctx: AppContext = Depends(context)) -> JSONResponse:
    return result(resume_result(ctx.system.resume()))


@router.post("/stop", summary="Stop the session between bars (system stop)")
def stop(timeout: float = Query(10.0, description="seconds to wait for the threads"),
         ctx: AppContext = Depends(context)) -> JSONResponse:
    return result(stop_result(ctx.system.stop(timeout)))


@router.post("/wait", summary="Wait until the session ends: a long poll, 504 when still running (system wait)")
def wait(timeout: float = Query(30.0, description=f"give up after this many seconds (at most {MAX_WAIT:g})"),
         ctx: AppContext = Depends(context)) -> JSONResponse:
    if not 0 < timeout <= MAX_WAIT:
        raise UsageError(f"--timeout {timeout:g} is out of range (expected more than 0 and at most {MAX_WAIT:g} "
                         "seconds per request)")
    return result(status_result(ctx.system.wait(timeout)))


@router.get("/report", summary="A run's report, the latest by default (system report)")
def report(run: int | None = Query(None, description="the run (default: the latest)"),
           ctx: AppContext = Depends(context)) -> JSONResponse:
    info, days = ctx.system.report(run)
    return result(report_result(info, days), info.id)


@router.get("/runs", summary="The latest runs (system runs)")
def runs(limit: int = Query(20, description="how many runs"), ctx: AppContext = Depends(context)) -> JSONResponse:
    return result(runs_result(ctx.system.runs(limit)))
