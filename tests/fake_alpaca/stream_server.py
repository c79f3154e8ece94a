"""Fake Alpaca websockets on 127.0.0.1 for tests: the market-data stream and the trading stream.

`FakeDataStream` speaks what alpaca-py's `StockDataStream` expects: msgpack frames, the
connected → auth → subscribe handshake, bars (`T: "b"`, `t` a msgpack Timestamp) pushed when the
test calls `push_bar`, and `drop()` to cut every connection mid-session the way a network
failure does (no closing handshake). `refuse_auth(409, "insufficient subscription")` or
`refuse_auth(406, "connection limit exceeded", times=2)` answers the next auths with Alpaca's
error frame (a plan without the feed; a reconnect refused while the old connection lingers).

`FakeTradingStream` speaks what alpaca-py's `TradingStream` expects: JSON frames, authenticate →
`authorized`, listen → `listening`, then `trade_updates` the test (or the fake brokerage)
publishes.

Both run the websockets sync server on port 0 in a named thread; use them as context managers.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

import msgpack
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from fake_alpaca.waiting import wait_until

VALID_KEYS = {("test-key", "test-secret")}



class _FakeSocketServer(ABC):
    """Start/stop, connection bookkeeping and `drop()` shared by both fakes."""

    thread_name = "fake-alpaca-ws"

    def __init__(self, valid_keys: set[tuple[str, str]] | None = None) -> None:
        self.valid_keys = set(VALID_KEYS if valid_keys is None else valid_keys)
        self.auth_attempts = 0
        self.connections = 0
        self._live: list[ServerConnection] = []   # authenticated and listening
        self._lock = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> _FakeSocketServer:
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None

    def __enter__(self) -> _FakeSocketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.socket.getsockname()[1]

    # ------------------------------------------------------------------ test controls
    @property
    def live_connections(self) -> int:
        with self._lock:
            return len(self._live)

    def wait_listening(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until `count` clients have authenticated and subscribed."""
        return wait_until(lambda: self.live_connections >= count, timeout)

    def drop(self) -> int:
        """Cut every live connection without a closing handshake (a network failure)."""
        with self._lock:
            victims, self._live = self._live, []
        for conn in victims:
            try:
                conn.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(victims)

    def _broadcast(self, frame: bytes | str) -> int:
        with self._lock:
            targets = list(self._live)
        sent = 0
        for conn in targets:
            try:
                conn.send(frame)
                sent += 1
            except (ConnectionClosed, OSError):
                with self._lock:
                    if conn in self._live:
                        self._live.remove(conn)
        return sent

    def _listening(self, conn: ServerConnection) -> None:
        with self._lock:
            self._live.append(conn)

    def _forget(self, conn: ServerConnection) -> None:
        with self._lock:
            if conn in self._live:
                self._live.remove(conn)

    def _handle(self, conn: ServerConnection) -> None:
        with self._lock:
            self.connections += 1
        try:
            self._session(conn)
        except (ConnectionClosed, OSError):
            pass
        finally:
            self._forget(conn)

    @abstractmethod
    def _session(self, conn: ServerConnection) -> None:
        """Speak the protocol with one client until it leaves."""


class FakeDataStream(_FakeSocketServer):
    """The market-data websocket (`wss://stream.data.alpaca.markets/v2/iex`)."""

    thread_name = "fake-alpaca-data-ws"

    def __init__(self, valid_keys: set[tuple[str, str]] | None = None) -> None:
        super().__init__(valid_keys)
        self.subscriptions: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._refusals: list[tuple[int, str]] = []

    def refuse_auth(self, code: int, message: str, times: int = 1) -> None:
        """Answer the next `times` auth requests with Alpaca's error frame `code` / `message`."""
        with self._lock:
            self._refusals.extend([(code, message)] * times)

    @property
    def url(self) -> str:
        """The base URL to put in ALPACA_STREAM_URL (the adapter appends /v2/<feed>)."""
        return f"ws://127.0.0.1:{self.port}"

    def push_bar(self, symbol: str, ts: int, open: float, high: float, low: float, close: float,
                 volume: float, trade_count: int = 10, vwap: float | None = None) -> int:
        """Send one minute bar (ts = bar start, epoch seconds UTC); returns how many clients got it."""
        bar = {"T": "b", "S": symbol, "o": open, "h": high, "l": low, "c": close, "v": volume,
               "t": msgpack.Timestamp(ts, 0), "n": trade_count, "vw": vwap if vwap is not None else close}
        return self._broadcast(msgpack.packb([bar]))

    def _session(self, conn: ServerConnection) -> None:
        self.paths.append(conn.request.path if conn.request else "")
        conn.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        auth = msgpack.unpackb(conn.recv())
        with self._lock:
            self.auth_attempts += 1
        if auth.get("action") != "auth" or (auth.get("key"), auth.get("secret")) not in self.valid_keys:
            conn.send(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            conn.close()
            return
        with self._lock:
            refusal = self._refusals.pop(0) if self._refusals else None
        if refusal is not None:
            conn.send(msgpack.packb([{"T": "error", "code": refusal[0], "msg": refusal[1]}]))
            conn.close()
            return
        conn.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        while True:
            message = msgpack.unpackb(conn.recv())
            if message.get("action") == "subscribe":
                self.subscriptions.append(message)
                conn.send(msgpack.packb([{"T": "subscription", "trades": [], "quotes": [],
                                          "bars": list(message.get("bars", []))}]))
                self._listening(conn)


class FakeTradingStream(_FakeSocketServer):
    """The account's trade-updates websocket (`wss://paper-api.alpaca.markets/stream`)."""

    thread_name = "fake-alpaca-trading-ws"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    def publish(self, event: str, order: dict[str, Any], *, price: float | None = None,
                qty: float | None = None, position_qty: float | None = None) -> int:
        """Send one trade update (`new`, `fill`, `partial_fill`, `canceled`, `rejected`, …)."""
        data: dict[str, Any] = {"event": event, "order": order,
                                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        if price is not None:
            data["price"] = str(price)
        if qty is not None:
            data["qty"] = str(qty)
        if position_qty is not None:
            data["position_qty"] = str(position_qty)
        if event in ("fill", "partial_fill"):
            data["execution_id"] = str(uuid.uuid4())
        return self._broadcast(json.dumps({"stream": "trade_updates", "data": data}))

    def _session(self, conn: ServerConnection) -> None:
        auth = json.loads(conn.recv())
        with self._lock:
            self.auth_attempts += 1
        data = auth.get("data") or {}
        ok = auth.get("action") == "authenticate" and (data.get("key_id"), data.get("secret_key")) in self.valid_keys
        conn.send(json.dumps({"stream": "authorization",
                              "data": {"action": "authenticate", "status": "authorized" if ok else "unauthorized"}}))
        if not ok:
            conn.close()
            return
        while True:
            message = json.loads(conn.recv())
            if message.get("action") == "listen":
                streams = list((message.get("data") or {}).get("streams", []))
                conn.send(json.dumps({"stream": "listening", "data": {"streams": streams}}))
                if "trade_updates" in streams:
                    self._listening(conn)
