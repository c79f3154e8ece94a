"""A small fake of Alpaca's HTTP APIs for tests: a `ThreadingHTTPServer` on 127.0.0.1, port 0, in a thread.

Routes are registered with a decorator, either for every server (`@route("GET", "/v2/stocks/bars")` at
module level, which is how other test modules add account, order or clock endpoints) or for one
server (`@server.route(...)`). Path parameters are written `{name}` and arrive in `request.params`.

Every request must carry `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`: missing keys get 401, wrong keys
403, as Alpaca answers. A test can queue failures (`fail(429, times=2, retry_after=1)`, `fail(500)`)
that are served before any route, or make the server hang (`hang(5)`) to exercise client timeouts.
Faults can also aim at one route (`fail_route("POST", "/v2/orders", 429, retry_after=25)`,
`hang_route("POST", "/v2/orders", 20)`: the order is placed, its answer held 20 s), or last while a
condition holds (`outage(lambda: clock.t < end, "/v2/stocks")`: a REST outage on a scripted clock).
Every request is recorded in `requests`.

    with FakeAlpaca() as server:             # or server = FakeAlpaca().start() … server.stop()
        server.add_bars("AAPL", rows)        # bar-store rows: (ts, open, high, low, close, volume, n, vwap)
        ... point ALPACA_DATA_URL at server.url, keys at API_KEY / SECRET_KEY ...
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "test-key-id"
SECRET_KEY = "test-secret-key"
TIMEFRAME_SECONDS = {"1Min": 60, "5Min": 300, "15Min": 900, "30Min": 1800, "1Hour": 3600, "1Day": 86400}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class RouteFault:
    """A fault for requests whose method matches and whose path starts with `path`."""

    method: str | None
    path: str
    status: int = 0                  # 0: do the work, then hold the answer `hang` seconds
    hang: float = 0.0
    retry_after: float | None = None
    message: str = ""
    times: int = 1                   # how many requests it takes; an outage counts nothing
    while_: Callable[[], bool] | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and path.startswith(self.path)


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["FakeAlpaca", Request], Response | dict | list]


class Router:
    """(method, path pattern) → handler; patterns may hold `{name}` parameters."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.insert(0, (method.upper(), regex, handler))  # later registrations win

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return decorate

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for route_method, regex, handler in self._routes:
            found = regex.match(path)
            if route_method == method and found:
                return handler, found.groupdict()
        return None


DEFAULT_ROUTES = Router()
route = DEFAULT_ROUTES.route


class FakeAlpaca:
    def __init__(self, api_key: str = API_KEY, secret_key: str = SECRET_KEY, page_size: int = 50) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.page_size = page_size
        self.bars: dict[tuple[str, str], list[dict]] = {}
        self.requests: list[Request] = []
        self.state: dict[str, Any] = {}  # free room for routes added by other tests (orders, positions…)
        self._routes = Router()
        self._failures: deque[Response] = deque()
        self._route_faults: list[RouteFault] = []
        self._fail_after = 0
        self._hang = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeAlpaca:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server._serve(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-alpaca", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ------------------------------------------------------------------ test controls
    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register a route on this server only (it wins over the module-level defaults)."""
        return self._routes.route(method, pattern)

    def fail(self, status: int, times: int = 1, retry_after: float | None = None, message: str = "",
             after: int = 0) -> None:
        """Answer `times` requests with `status` (e.g. 429 with Retry-After, or 500), starting once
        `after` more requests have been served normally (so a failure can hit page 2 of 3)."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        text = message or {429: "too many requests."}.get(status, "internal server error")
        body = {"code": status * 100000, "message": text}
        with self._lock:
            self._fail_after = after
            self._failures.extend(Response(status, body, headers) for _ in range(times))

    def fail_route(self, method: str, path: str, status: int, *, times: int = 1, retry_after: float | None = None,
                   message: str = "") -> None:
        """Answer the next `times` requests of `method` to paths starting with `path` with `status`
        (before any work: a 429 with Retry-After, a 500)."""
        with self._lock:
            self._route_faults.append(RouteFault(method, path, status, retry_after=retry_after, message=message,
                                                 times=times))

    def hang_route(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` matching requests are carried out, then their answer is held `seconds`
        (released early by stop()): a POST that placed the order but whose answer is late."""
        with self._lock:
            self._route_faults.append(RouteFault(method, path, hang=seconds, times=times))

    def outage(self, active: Callable[[], bool], path: str = "/", status: int = 500, method: str | None = None
               ) -> None:
        """Answer `status` to every request under `path` while `active()` is true (a REST outage
        that ends when a scripted clock passes a time, say)."""
        with self._lock:
            self._route_faults.append(RouteFault(method, path, status, message="service unavailable",
                                                 while_=active))

    def stop_faults(self) -> None:
        """Drop every route fault and outage still pending (the server recovers)."""
        with self._lock:
            self._route_faults.clear()

    def _route_fault(self, method: str, path: str) -> RouteFault | None:
        with self._lock:
            for fault in list(self._route_faults):
                if not fault.matches(method, path):
                    continue
                if fault.while_ is not None:
                    if fault.while_():
                        return fault
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._route_faults.remove(fault)
                return fault
        return None

    def hang(self, seconds: float) -> None:
        """Wait `seconds` before answering each request (released early by stop())."""
        self._hang = seconds

    def add_bars(self, symbol: str, rows: list[tuple], timeframe: str = "1Min") -> None:
        """Serve these bar-store rows as Alpaca bars of `symbol`."""
        items = self.bars.setdefault((symbol, timeframe), [])
        for ts, o, h, low, c, v, n, w in rows:
            stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            items.append({"t": stamp, "o": o, "h": h, "l": low, "c": c, "v": v, "n": n or 0, "vw": w or c})
        items.sort(key=lambda bar: bar["t"])

    def env(self) -> dict[str, str]:
        """Environment for a `mismartera` subprocess that should talk to this server with valid keys."""
        return {"ALPACA_API_KEY": self.api_key, "ALPACA_SECRET_KEY": self.secret_key, "ALPACA_DATA_URL": self.url,
                "ALPACA_BASE_URL": self.url}

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    # ------------------------------------------------------------------ serving
    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        request = Request(
            method=http.command,
            path=parts.path,
            query={key: values[-1] for key, values in parse_qs(parts.query).items()},
            headers={key.lower(): value for key, value in http.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        with self._lock:
            self.requests.append(request)
        if self._hang:
            self._stopping.wait(self._hang)
        fault = self._route_fault(request.method, request.path)
        if fault is not None and fault.status:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            text = fault.message or {429: "too many requests."}.get(fault.status, "internal server error")
            response = Response(fault.status, {"code": fault.status * 100000, "message": text}, headers)
        else:
            response = self._answer(request)
            if fault is not None:
                self._stopping.wait(fault.hang)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        try:
            http.send_response(response.status)
            http.send_header("Content-Type", "application/json")
            http.send_header("Content-Length", str(len(payload)))
            for key, value in response.headers.items():
                http.send_header(key, value)
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _answer(self, request: Request) -> Response:
        key, secret = request.headers.get("apca-api-key-id"), request.headers.get("apca-api-secret-key")
        if not key or not secret:
            return Response(401, {"message": "unauthorized."})
        if key != self.api_key or secret != self.secret_key:
            return Response(403, {"message": "forbidden."})
        with self._lock:
            if self._failures:
                if self._fail_after <= 0:
                    return self._failures.popleft()
                self._fail_after -= 1
        found = self._routes.match(request.method, request.path) or DEFAULT_ROUTES.match(request.method, request.path)
        if found is None:
            return Response(404, {"code": 40410000, "message": f"endpoint not found: {request.path}"})
        handler, request.params = found
        result = handler(self, request)
        return result if isinstance(result, Response) else Response(200, result)


# ---------------------------------------------------------------------------------------------- market data
def _parse_time(text: str | None) -> str | None:
    """An RFC 3339 time as the sortable `YYYY-MM-DDTHH:MM:SSZ` the bars use."""
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bars_page(server: FakeAlpaca, request: Request, symbols: list[str]) -> Response:
    timeframe = request.query.get("timeframe", "1Min")
    if timeframe not in TIMEFRAME_SECONDS:
        return Response(422, {"code": 42210000, "message": f"invalid timeframe: {timeframe}"})
    bad = [s for s in symbols if not re.fullmatch(r"[A-Z][A-Z0-9.\-/]{0,15}", s)]
    if bad:
        return Response(400, {"code": 40010001, "message": f"invalid symbol: {bad[0]}"})
    start, end = _parse_time(request.query.get("start")), _parse_time(request.query.get("end"))
    items = [(symbol, bar) for symbol in sorted(symbols) for bar in server.bars.get((symbol, timeframe), [])
             if (start is None or bar["t"] >= start) and (end is None or bar["t"] <= end)]
    offset = int(base64.b64decode(request.query["page_token"])) if request.query.get("page_token") else 0
    limit = int(request.query.get("limit") or 1000)
    size = min(limit, server.page_size)
    page = items[offset:offset + size]
    out: dict[str, list[dict]] = {}
    for symbol, bar in page:
        out.setdefault(symbol, []).append(bar)
    following = offset + size
    token = base64.b64encode(str(following).encode()).decode() if following < len(items) else None
    return Response(200, {"bars": out, "next_page_token": token})


@route("GET", "/v2/stocks/bars")
def stock_bars(server: FakeAlpaca, request: Request) -> Response:
    symbols = [s for s in request.query.get("symbols", "").split(",") if s]
    if not symbols:
        return Response(400, {"code": 40010001, "message": "symbols is required"})
    return _bars_page(server, request, symbols)


@route("GET", "/v2/stocks/{symbol}/bars")
def stock_bars_one(server: FakeAlpaca, request: Request) -> Response:
    response = _bars_page(server, request, [request.params["symbol"]])
    if response.status == 200:
        bars = response.body["bars"].get(request.params["symbol"], [])
        response.body = {"bars": bars, "symbol": request.params["symbol"],
                         "next_page_token": response.body["next_page_token"]}
    return response
