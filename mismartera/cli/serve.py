"""`mismartera serve`: a headless session host for tmux, systemd or docker.

No prompt: the control API (its URL on the first line of stdout, the dashboard's with the token in
its fragment on the second), the log on stdout and in the
log file, the session of CONFIG started at once when given, and later sessions started over the
API (`system start` from any other process). SIGTERM or Ctrl-C stops the session between bars and
the process exits 0 once it has stopped cleanly.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from rich.text import Text

from mismartera.api.host import SessionHost
from mismartera.cli.logs import FORMAT, RedactSecrets
from mismartera.cli.runtime import Runtime
from mismartera.commands.results import ServeSessions
from mismartera.errors import ExitCode, MismarteraError, UsageError
from mismartera.system import discovery
from mismartera.system.dashboard_link import dashboard_url

log = logging.getLogger("mismartera.serve")

IDLE_STEP = 0.5      # seconds between checks of the stop request while idle
STOP_TIMEOUT = 15.0


def serve(rt: Runtime, request: ServeSessions) -> int:
    """Host sessions until SIGTERM / SIGINT; returns the exit code."""
    if rt.interactive or rt.script_depth > 0:
        raise UsageError("serve runs as a process of its own: mismartera serve [CONFIG] (in a terminal, tmux or "
                         "a service)")
    if request.speed is not None and request.config is None:
        raise UsageError("--speed needs CONFIG (the session to start)")
    ctx = rt.ctx
    ctx.attach_host = None      # this host, not the one-shot default, owns the sessions here
    ctx.detach = None
    manager = ctx.system
    host = SessionHost(ctx, manager, "serve", api_host=request.api_host, api_port=request.api_port,
                       persistent=True, warn=lambda text: rt.err.print(Text(text, style="yellow"))).attach()
    try:
        host.open()
        rt.out.print(Text(f"mismartera serve: control API at {host.api_url} (pid {os.getpid()}; token in "
                          f"{discovery.token_path(ctx.settings.state_dir)})"), soft_wrap=True)
        if host.api_url is not None:
            rt.out.print(Text(f"dashboard: {dashboard_url(host.api_url, host.token)}"), soft_wrap=True)
        sys.stdout.flush()
        _log_to_stdout()
        if request.config:
            manager.start(Path(request.config), request.speed)
            if manager.start_note:
                log.warning("%s", manager.start_note)   # what the start reconciled, on stdout with the log
        idle = threading.Event()
        while not (request.once and _session_over(manager)):
            idle.wait(IDLE_STEP)
        log.info("the session has ended; bye")
        return int(ExitCode.OK)
    except KeyboardInterrupt:
        log.info("stop requested (signal)")
        return _stop(rt, manager)
    finally:
        host.close()


def _session_over(manager: object) -> bool:
    """A session was started here and has stopped (a failed one waits for `system stop`)."""
    return manager.run_id is not None and manager.state.value == "stopped"   # type: ignore[attr-defined]


def _stop(rt: Runtime, manager: object) -> int:
    status = manager.status()   # type: ignore[attr-defined]
    if not (status.state.active or status.state.value == "failed"):
        log.info("no session running; bye")
        return int(ExitCode.OK)
    try:
        stopped = manager.stop(STOP_TIMEOUT)   # type: ignore[attr-defined]
    except MismarteraError as exc:
        log.error("could not stop the session: %s", exc.message)
        return int(exc.exit_code)
    log.info("session stopped (run %s): %s", stopped.run_id, stopped.message)
    return int(ExitCode.OK)


def _log_to_stdout() -> None:
    """The host's log on stdout too (the file handler keeps its copy), secrets masked the same way."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    for existing in root.handlers:
        for found in existing.filters:
            if isinstance(found, RedactSecrets):
                handler.addFilter(found)
                break
    root.addHandler(handler)
