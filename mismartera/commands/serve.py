"""`serve`: a headless session host (tmux, systemd, docker): the control API, no prompt."""

from __future__ import annotations

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Arg, Option, command
from mismartera.commands.results import ServeSessions


@command("", "serve", help="Host sessions headless: serve the control API, start CONFIG if given, run until "
                          "SIGTERM / Ctrl-C",
         args=(Arg("path", "a session-config file to start at once", required=False, complete="config",
                   metavar="CONFIG"),
               Option("api_port", "the control API's port (default: api.port, else a free one)", type=int,
                      metavar="N"),
               Option("api_host", "the address to listen on (default 127.0.0.1; another one is reachable from "
                                  "other machines)", metavar="HOST"),
               Option("speed", "replay speed of CONFIG: 0 = as fast as possible, N = N× real time", type=float),
               Option("once", "exit when the first session ends (how one-shot `system start` detaches)",
                      type=bool)),
         description="Prints the API URL on its first line, logs to stdout and the log file, accepts `system start` "
                     "over the API, and stops its session cleanly on SIGTERM or SIGINT (exit 0).",
         examples=("serve", "serve config/live_paper.json", "serve config/demo.json --api-port 8765"))
def serve(ctx: AppContext, path: str | None = None, api_port: int | None = None, api_host: str | None = None,
          speed: float | None = None, once: bool = False) -> ServeSessions:
    return ServeSessions(path, api_host, api_port, speed, once)
