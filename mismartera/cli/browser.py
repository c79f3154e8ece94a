"""`mismartera dashboard`: open the session's web dashboard in the default browser, or print its URL.

The URL carries the token in its fragment. It never goes on a browser's command line (other users
can read a process's argv): the browser is given a small 0600 page in the state dir, next to the
token file, that forwards to the URL. Without a browser (no display, e.g. over SSH) the URL is
printed for the trader to open through a tunnel.
"""

from __future__ import annotations

import html
import json
import sys
import webbrowser
from collections.abc import Mapping
from pathlib import Path

from rich.text import Text

from mismartera.cli.runtime import Runtime
from mismartera.commands.results import OpenDashboard
from mismartera.errors import ExitCode
from mismartera.system import discovery

FORWARD_FILE = "dashboard.html"


def has_browser(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """A graphical browser can be shown: a chosen one ($BROWSER), a desktop OS, or a display."""
    if environ.get("BROWSER"):
        return True
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def forward_page(state_dir: Path, url: str) -> Path:
    """A private page that sends the browser on to `url` (the token stays out of argv)."""
    quoted = json.dumps(url)
    text = ("<!doctype html><meta charset='utf-8'><meta name='referrer' content='no-referrer'>"
            f"<title>mismartera dashboard</title><script>location.replace({quoted});</script>"
            f"<a href=\"{html.escape(url)}\">open the dashboard</a>\n")
    path = state_dir / FORWARD_FILE
    discovery.write_atomically(path, text)
    return path


def open_dashboard(rt: Runtime, request: OpenDashboard, *, as_json: bool = False) -> int:
    opened = False
    if not request.print_only and has_browser(rt.environ):
        page = forward_page(rt.ctx.settings.state_dir, request.url)
        try:
            opened = webbrowser.get().open(page.as_uri())
        except webbrowser.Error:
            opened = False
    plain = request.url.split("#", 1)[0]
    if as_json:
        rt.out.print_json(json.dumps({"url": plain if opened else request.url, "opened": opened}))
    elif opened:
        rt.out.print(Text(f"opened the dashboard ({plain}) in your browser"), soft_wrap=True)
    else:
        rt.out.print(Text(f"dashboard: {request.url}"), soft_wrap=True)
    return int(ExitCode.OK)
