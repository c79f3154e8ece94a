"""A fake Alpaca paper account for tests: the trading REST routes (`/v2/account`, `/v2/clock`,
`/v2/orders…`, `/v2/positions`) answered from in-memory state, with trade updates published on a
`FakeTradingStream`, and faults on demand (an HTTP status with `Retry-After`, a hung response).

`FakeBrokerage.handle(method, path, query, headers, body)` is independent of any HTTP server;
`FakeTradingApi` serves it on 127.0.0.1:0 (Alpaca's trading API is its own host,
ALPACA_BASE_URL, apart from the market-data host).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from fake_alpaca.stream_server import VALID_KEYS, FakeTradingStream


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    method: str
    path: str
    status: int = 0               # 0: hang instead
    retry_after: str | None = None
    message: str = ""
    hang: float = 0.0
    times: int = 1


class FakeBrokerage:
    """One paper account. Market orders fill at `prices[symbol]` shortly after they are accepted
    (`auto_fill`); limit and stop orders wait for `fill()`."""

    def __init__(self, cash: float = 100_000.0, stream: FakeTradingStream | None = None,
                 valid_keys: set[tuple[str, str]] | None = None, auto_fill: bool = True) -> None:
        self.cash = cash
        self.stream = stream
        self.valid_keys = set(VALID_KEYS if valid_keys is None else valid_keys)
        self.auto_fill = auto_fill
        self.market_open = True
        self.prices: dict[str, float] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.positions: dict[str, dict[str, float]] = {}   # symbol -> {"qty", "avg"}
        self.requests: list[tuple[str, str]] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._release = threading.Event()   # set at shutdown so hung responses end

    # ------------------------------------------------------------------ test controls
    def fail_next(self, method: str, path: str, status: int, *, retry_after: str | None = None,
                  message: str = "injected failure", times: int = 1) -> None:
        """Answer the next `times` matching requests (path prefix) with `status`."""
        self._faults.append(_Fault(method, path, status, retry_after, message, times=times))

    def hang_next(self, method: str, path: str, seconds: float, times: int = 1) -> None:
        """Do the next matching requests, then hold the answer for `seconds`."""
        self._faults.append(_Fault(method, path, hang=seconds, times=times))

    def release(self) -> None:
        self._release.set()

    def posts(self, path: str = "/v2/orders") -> int:
        return sum(1 for method, p in self.requests if method == "POST" and p == path)

    def fill(self, order_id: str, price: float | None = None, qty: float | None = None) -> dict[str, Any]:
        """Fill (part of) an open order and publish the trade update."""
        with self._lock:
            order = self.orders[order_id]
            price = price if price is not None else self.prices[order["symbol"]]
            remaining = float(order["qty"]) - float(order["filled_qty"])
            qty = remaining if qty is None else min(qty, remaining)
            signed = qty if order["side"] == "buy" else -qty
            self.cash -= signed * price
            position = self.positions.setdefault(order["symbol"], {"qty": 0.0, "avg": 0.0})
            new_qty = position["qty"] + signed
            if position["qty"] >= 0 and signed > 0:
                position["avg"] = (position["qty"] * position["avg"] + qty * price) / new_qty
            position["qty"] = new_qty
            if new_qty == 0:
                del self.positions[order["symbol"]]
            filled = float(order["filled_qty"]) + qty
            old_avg = float(order["filled_avg_price"] or 0.0)
            order["filled_avg_price"] = str((old_avg * float(order["filled_qty"]) + price * qty) / filled)
            order["filled_qty"] = str(filled)
            complete = filled >= float(order["qty"])
            order["status"] = "filled" if complete else "partially_filled"
            order["updated_at"] = _iso(_now())
            if complete:
                order["filled_at"] = order["updated_at"]
            snapshot = dict(order)
            position_qty = new_qty
        if self.stream is not None:
            self.stream.publish("fill" if complete else "partial_fill", snapshot, price=price, qty=qty,
                                position_qty=position_qty)
        return snapshot

    # ------------------------------------------------------------------ state views
    def equity(self) -> float:
        with self._lock:
            return self.cash + sum(p["qty"] * self.prices.get(s, p["avg"]) for s, p in self.positions.items())

    def _account(self) -> dict[str, Any]:
        equity = self.equity()
        return {"id": str(uuid.UUID(int=1)), "account_number": "PA0000FAKE", "status": "ACTIVE", "currency": "USD",
                "cash": f"{self.cash:.4f}", "buying_power": f"{max(self.cash, 0.0):.4f}",
                "equity": f"{equity:.4f}", "portfolio_value": f"{equity:.4f}", "trading_blocked": False,
                "pattern_day_trader": False}

    def _position(self, symbol: str, p: dict[str, float]) -> dict[str, Any]:
        price = self.prices.get(symbol, p["avg"])
        qty = p["qty"]
        return {"asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)), "symbol": symbol, "exchange": "NASDAQ",
                "asset_class": "us_equity", "avg_entry_price": str(p["avg"]), "qty": str(abs(qty)),
                "side": "long" if qty > 0 else "short", "market_value": str(qty * price),
                "cost_basis": str(qty * p["avg"]), "unrealized_pl": str(qty * (price - p["avg"])),
                "current_price": str(price)}

    def _clock(self) -> dict[str, Any]:
        now = _now()
        return {"timestamp": _iso(now), "is_open": self.market_open,
                "next_open": _iso(now + timedelta(hours=1)), "next_close": _iso(now + timedelta(hours=2))}

    # ------------------------------------------------------------------ the routes
    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes | None) -> Reply:
        self.requests.append((method, path))
        fault = self._take_fault(method, path)
        if fault is not None and fault.status:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return Reply(fault.status, {"code": fault.status * 100000, "message": fault.message}, extra)
        if (headers.get("apca-api-key-id"), headers.get("apca-api-secret-key")) not in self.valid_keys:
            return Reply(401, {"code": 40110000, "message": "request is not authorized"})
        reply = self.answer(method, path, query, json.loads(body) if body else None)
        if fault is not None:
            # the server did the work; the answer is what gets lost (the case a retry must survive)
            self._release.wait(fault.hang)
        return reply

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method and path.startswith(fault.path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        """The trading routes alone (no key check, no faults): what a host server delegates to."""
        with self._lock:
            return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        if (method, path) == ("GET", "/v2/account"):
            return Reply(200, self._account())
        if (method, path) == ("GET", "/v2/clock"):
            return Reply(200, self._clock())
        if (method, path) == ("GET", "/v2/positions"):
            return Reply(200, [self._position(s, p) for s, p in sorted(self.positions.items())])
        if (method, path) == ("POST", "/v2/orders"):
            return self._submit(body)
        if (method, path) == ("GET", "/v2/orders"):
            return Reply(200, self._list(query))
        if (method, path) == ("GET", "/v2/orders:by_client_order_id"):
            for order in self.orders.values():
                if order["client_order_id"] == query.get("client_order_id"):
                    return Reply(200, order)
            return Reply(404, {"code": 40410000, "message": "order not found"})
        if path.startswith("/v2/orders/"):
            order = self.orders.get(path.rsplit("/", 1)[1])
            if order is None:
                return Reply(404, {"code": 40410000, "message": "order not found"})
            if method == "GET":
                return Reply(200, order)
            if method == "DELETE":
                return self._cancel(order)
        return Reply(404, {"code": 40400000, "message": f"no route {method} {path}"})

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        status = query.get("status", "open")
        rows = sorted(self.orders.values(), key=lambda o: o["created_at"], reverse=True)
        if status == "open":
            rows = [o for o in rows if o["status"] in ("new", "accepted", "partially_filled")]
        elif status == "closed":
            rows = [o for o in rows if o["status"] not in ("new", "accepted", "partially_filled")]
        return rows[: int(query.get("limit", 50))]

    def _submit(self, body: dict[str, Any]) -> Reply:
        symbol, side, qty = body["symbol"], body["side"], float(body["qty"])
        cid = body.get("client_order_id") or uuid.uuid4().hex
        if any(o["client_order_id"] == cid for o in self.orders.values()):
            return Reply(422, {"code": 40010001, "message": "client_order_id must be unique"})
        price = self.prices.get(symbol)
        if price is None:
            return Reply(422, {"code": 40010001, "message": f"asset \"{symbol}\" not found"})
        if side == "buy" and qty * float(body.get("limit_price") or price) > self.cash:
            return Reply(403, {"code": 40310000, "message": "insufficient buying power"})
        held = self.positions.get(symbol, {"qty": 0.0})["qty"]
        if side == "sell" and qty > held:
            return Reply(403, {"code": 40310000,
                               "message": f"insufficient qty available for order (requested: {qty:g}, "
                                          f"available: {held:g})"})
        now = _iso(_now())
        order = {"id": str(uuid.uuid4()), "client_order_id": cid, "created_at": now, "updated_at": now,
                 "submitted_at": now, "filled_at": None, "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
                 "symbol": symbol, "asset_class": "us_equity", "qty": str(qty), "filled_qty": "0",
                 "filled_avg_price": None, "order_class": "simple", "order_type": body["type"], "type": body["type"],
                 "side": side, "time_in_force": body["time_in_force"], "limit_price": body.get("limit_price"),
                 "stop_price": body.get("stop_price"), "status": "new", "extended_hours": False}
        self.orders[order["id"]] = order
        if self.stream is not None:
            self.stream.publish("new", dict(order))
        if self.auto_fill and body["type"] == "market":
            timer = threading.Timer(0.02, self.fill, (order["id"],))
            timer.daemon = True
            timer.start()
        return Reply(200, dict(order))

    def _cancel(self, order: dict[str, Any]) -> Reply:
        if order["status"] not in ("new", "accepted", "partially_filled"):
            return Reply(422, {"code": 42210000, "message": f"order is {order['status']}, not cancelable"})
        order["status"] = "canceled"
        order["updated_at"] = _iso(_now())
        if self.stream is not None:
            self.stream.publish("canceled", dict(order))
        return Reply(204)


class FakeTradingApi:
    """`FakeBrokerage` served over HTTP on 127.0.0.1:0 (put `url` in ALPACA_BASE_URL)."""

    def __init__(self, brokerage: FakeBrokerage) -> None:
        self.brokerage = brokerage
        handler = _handler_for(brokerage)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-alpaca-trading-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeTradingApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.brokerage.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler_for(brokerage: FakeBrokerage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = brokerage.handle(self.command, url.path, query, headers, body)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass   # the client gave up (a timeout test)

        do_GET = do_POST = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
