"""Historical trades and quotes, and the snapshot endpoint, on the fake Alpaca server.

    from fake_alpaca.tick_routes import add_trades, add_quotes, set_snapshot
    add_trades(server, "AAPL", rows)    # rows as the store keeps them: (ts_us, seq, price, size, x, c, id)

Pages follow the bars' rules (`page_size` of the server, a base64 offset as page token, `limit`
honoured); 429/500 failures and key checks come from the server itself. Routes register at import.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

from fake_alpaca.server import FakeAlpaca, Request, Response, route


def _stamp(ts_us: int) -> str:
    seconds, micros = divmod(ts_us, 1_000_000)
    # Alpaca writes nanoseconds; three extra digits check that the client drops them
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}123Z"


def add_trades(server: FakeAlpaca, symbol: str, rows: list[tuple]) -> None:
    items = server.state.setdefault("trades", {}).setdefault(symbol, [])
    for ts, _seq, price, size, exchange, conditions, trade_id in rows:
        items.append({"t": _stamp(ts), "p": price, "s": size, "x": exchange or "",
                      "c": conditions.split(" ") if conditions else [], "i": trade_id or 0, "z": "C", "_ts": ts})
    items.sort(key=lambda item: item["_ts"])


def add_quotes(server: FakeAlpaca, symbol: str, rows: list[tuple]) -> None:
    items = server.state.setdefault("quotes", {}).setdefault(symbol, [])
    for ts, _seq, bid, bid_size, ask, ask_size, bid_x, ask_x, conditions in rows:
        items.append({"t": _stamp(ts), "bp": bid, "bs": bid_size, "ap": ask, "as": ask_size, "bx": bid_x or "",
                      "ax": ask_x or "", "c": conditions.split(" ") if conditions else [], "z": "C", "_ts": ts})
    items.sort(key=lambda item: item["_ts"])


def set_snapshot(server: FakeAlpaca, symbol: str, snapshot: dict[str, Any]) -> None:
    server.state.setdefault("snapshots", {})[symbol] = snapshot


def _micros(text: str | None) -> int | None:
    if not text:
        return None
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(stamp.timestamp() * 1_000_000)


def _page(server: FakeAlpaca, request: Request, kind: str) -> Response:
    symbols = [s for s in request.query.get("symbols", "").split(",") if s]
    if not symbols:
        return Response(400, {"code": 40010001, "message": "symbols is required"})
    bad = [s for s in symbols if not re.fullmatch(r"[A-Z][A-Z0-9.\-/]{0,15}", s)]
    if bad:
        return Response(400, {"code": 40010001, "message": f"invalid symbol: {bad[0]}"})
    start, end = _micros(request.query.get("start")), _micros(request.query.get("end"))
    stored = server.state.get(kind, {})
    items = [(symbol, item) for symbol in sorted(symbols) for item in stored.get(symbol, [])
             if (start is None or item["_ts"] >= start) and (end is None or item["_ts"] <= end)]
    offset = int(base64.b64decode(request.query["page_token"])) if request.query.get("page_token") else 0
    size = min(int(request.query.get("limit") or 1000), server.page_size)
    out: dict[str, list[dict]] = {}
    for symbol, item in items[offset:offset + size]:
        out.setdefault(symbol, []).append({k: v for k, v in item.items() if k != "_ts"})
    following = offset + size
    token = base64.b64encode(str(following).encode()).decode() if following < len(items) else None
    return Response(200, {kind: out, "next_page_token": token})


@route("GET", "/v2/stocks/trades")
def stock_trades(server: FakeAlpaca, request: Request) -> Response:
    return _page(server, request, "trades")


@route("GET", "/v2/stocks/quotes")
def stock_quotes(server: FakeAlpaca, request: Request) -> Response:
    return _page(server, request, "quotes")


@route("GET", "/v2/stocks/snapshots")
def stock_snapshots(server: FakeAlpaca, request: Request) -> Response:
    symbols = [s for s in request.query.get("symbols", "").split(",") if s]
    known = server.state.get("snapshots", {})
    return Response(200, {symbol: known[symbol] for symbol in symbols if symbol in known})
