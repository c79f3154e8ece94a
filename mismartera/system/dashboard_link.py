"""The dashboard's address with the token in the URL fragment (`http://127.0.0.1:PORT/#token=…`).

Browsers never send a fragment to the server, so the token does not reach access logs or proxies;
the page moves it to session storage at once. The redactor (`mismartera.cli.redact`) masks the
`token=` part wherever such a URL would be written to the history file or the log.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from mismartera.system import discovery


def dashboard_url(api_url: str, token: str) -> str:
    return f"{api_url.rstrip('/')}/#token={quote(token, safe='')}"


def find_dashboard(state_dir: Path, api_url: str | None = None) -> str | None:
    """The dashboard of this data home's session host (its API at `api_url`, else the one the
    discovery file names), when a host is up and its token file is readable; else None."""
    if api_url is None:
        record = discovery.find_owner(state_dir)
        api_url = record.api_url if record is not None else None
    token = discovery.read_token(state_dir)
    if api_url is None or token is None:
        return None
    return dashboard_url(api_url, token)
