"""`dashboard`: open the web dashboard of this data home's session host in the browser."""

from __future__ import annotations

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Option, command
from mismartera.commands.results import OpenDashboard
from mismartera.errors import StateError
from mismartera.system.dashboard_link import find_dashboard


@command("", "dashboard", help="Open the session's web dashboard in the browser (or print its URL when there is "
                              "no browser)",
         args=(Option("print", "only print the URL (with the token in its #fragment)", type=bool),),
         description="The session host (a shell, script or `serve` running a session) serves the dashboard on its "
                     "control API. The URL carries the token after '#', which browsers never send to a server.",
         examples=("dashboard", "dashboard --print"))
def dashboard(ctx: AppContext, print: bool = False) -> OpenDashboard:
    url = find_dashboard(ctx.settings.state_dir)
    if url is None:
        raise StateError("no session host is running for this data home (start one with: mismartera serve CONFIG, "
                         "or system start in a shell)")
    return OpenDashboard(url, print_only=print)
