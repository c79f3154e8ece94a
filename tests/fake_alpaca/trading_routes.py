"""Alpaca's trading routes on the shared fake server (`fake_alpaca.server.FakeAlpaca`): importing
this module registers them for every server, and `attach(server, brokerage)` gives one server its
paper account. A server without one answers these paths 404, as before.

    with FakeAlpaca() as server:
        brokerage = attach(server, FakeBrokerage(cash=10_000))
        ... point ALPACA_BASE_URL and ALPACA_DATA_URL at server.url ...

The server's own key check and fault queue (`fail`, `hang`) apply to these routes too.
"""

from __future__ import annotations

from fake_alpaca.brokerage import FakeBrokerage
from fake_alpaca.server import API_KEY, SECRET_KEY, FakeAlpaca, Request, Response, route

STATE_KEY = "brokerage"
PATHS = (
    ("GET", "/v2/account"),
    ("GET", "/v2/clock"),
    ("GET", "/v2/positions"),
    ("GET", "/v2/orders"),
    ("POST", "/v2/orders"),
    ("GET", "/v2/orders:by_client_order_id"),
    ("GET", "/v2/orders/{order_id}"),
    ("DELETE", "/v2/orders/{order_id}"),
)


def attach(server: FakeAlpaca, brokerage: FakeBrokerage) -> FakeBrokerage:
    """Serve `brokerage` on `server` (it accepts the server's keys)."""
    brokerage.valid_keys.add((API_KEY, SECRET_KEY))
    server.state[STATE_KEY] = brokerage
    return brokerage


def _delegate(server: FakeAlpaca, request: Request) -> Response:
    brokerage = server.state.get(STATE_KEY)
    if brokerage is None:
        return Response(404, {"code": 40410000, "message": f"endpoint not found: {request.path}"})
    reply = brokerage.answer(request.method, request.path, request.query, request.body)
    return Response(reply.status, reply.body, reply.headers)


for _method, _pattern in PATHS:
    route(_method, _pattern)(_delegate)
