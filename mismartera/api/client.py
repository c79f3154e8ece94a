"""`ApiClient`: HTTP requests to a session's control API with its bearer token.

Built on `http.client` (nothing to import that the CLI does not already pay for). An error
response becomes the MismarteraError it stands for (`mismartera.api.errors.from_body`), so the
caller sees the owner's message and exit code.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode

from mismartera.api.errors import from_body
from mismartera.errors import ExternalServiceError

DEFAULT_TIMEOUT = 30.0


class ApiClient:
    def __init__(self, host: str, port: int, token: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self._token = token
        self.timeout = timeout

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        return f"ApiClient({self.url})"   # never the token

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                timeout: float | None = None) -> tuple[Any, dict[str, str]]:
        """Send one request; returns the decoded JSON body and the response headers (lower-case names)."""
        params = {k: v for k, v in (query or {}).items() if v is not None}
        target = path + ("?" + urlencode(params) if params else "")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            raise ExternalServiceError(f"cannot reach the session's control API at {self.url}: "
                                       f"{exc or type(exc).__name__}") from None
        finally:
            connection.close()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            raise ExternalServiceError(f"the control API at {self.url} answered HTTP {status} with no JSON") from None
        if status >= 400:
            raise from_body(decoded, status)
        return decoded, answer_headers
