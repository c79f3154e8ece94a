"""Historical trades and quotes through alpaca-py against the fake server: every page, a 429 retried
after Retry-After, bad keys, an unknown symbol refusing the whole import, idempotent re-imports, and
the per-page progress."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from fake_alpaca.server import API_KEY, SECRET_KEY, FakeAlpaca
from fake_alpaca.tick_routes import add_quotes, add_trades

from mismartera.config.settings import AlpacaSettings
from mismartera.data.database import Database
from mismartera.data.tick_store import TickStore
from mismartera.errors import ExternalServiceError, NotFound
from mismartera.integrations.alpaca.historical import HttpPolicy
from mismartera.integrations.alpaca.ticks import epoch_micros, fetch_ticks, import_ticks

FAST = HttpPolicy(timeout=2.0, attempts=3, backoff=0.01, max_wait=2.0)
OPEN = int(datetime(2024, 11, 29, 14, 30, tzinfo=UTC).timestamp()) * 1_000_000
DAY = date(2024, 11, 29)

TRADES = [(OPEN + i * 1000, 0, 216.0 + i / 100, float(10 + i), "V", "@ T" if i % 2 else None,
           1000 + i) for i in range(1200)]
# three trades in one microsecond: their order is Alpaca's, kept by seq
TRADES += [(OPEN + 5_000_000, 0, 1.0, 1.0, "Q", None, 5), (OPEN + 5_000_000, 0, 2.0, 1.0, "Q", None, 6),
           (OPEN + 5_000_000, 0, 3.0, 1.0, "Q", None, 7)]
QUOTES = [(OPEN + i * 2000, 0, 215.9, 3.0, 216.1, 4.0, "V", "Q", "R") for i in range(700)]


def keys(server: FakeAlpaca, **overrides: str | None) -> AlpacaSettings:
    return AlpacaSettings(**({"api_key": API_KEY, "secret_key": SECRET_KEY, "data_url": server.url} | overrides))


@pytest.fixture
def fake() -> FakeAlpaca:
    with FakeAlpaca(page_size=500) as server:
        add_trades(server, "AAPL", TRADES)
        add_quotes(server, "AAPL", QUOTES)
        yield server


def expected_trades() -> list[tuple]:
    ordered = sorted(TRADES, key=lambda r: r[0])
    out, previous, seq = [], None, 0
    for row in ordered:
        seq = seq + 1 if row[0] == previous else 0
        previous = row[0]
        out.append((row[0], seq, *row[2:]))
    return out


def test_rfc3339_nanoseconds_are_cut_to_microseconds() -> None:
    assert epoch_micros("2024-11-29T14:30:00.000001999Z") == OPEN + 1
    assert epoch_micros("2024-11-29T09:30:00-05:00") == OPEN


def test_every_page_of_trades_and_quotes(fake: FakeAlpaca) -> None:
    pages: list[int] = []
    start, end = datetime(2024, 11, 29, tzinfo=UTC), datetime(2024, 11, 30, tzinfo=UTC)
    got = fetch_ticks(keys(fake), "trades", ["AAPL"], start, end, policy=FAST, on_page=pages.append)
    assert got["AAPL"] == expected_trades()
    assert pages == [500, 500, 203] and [r.path for r in fake.requests] == ["/v2/stocks/trades"] * 3
    assert fake.requests[0].query["feed"] == "iex"
    quotes = fetch_ticks(keys(fake), "quotes", ["AAPL"], start, end, policy=FAST)
    assert quotes["AAPL"] == [(ts, 0, *rest) for ts, _s, *rest in QUOTES]  # distinct stamps: seq 0


def test_a_429_on_page_two_is_retried_after_retry_after(fake: FakeAlpaca) -> None:
    fake.fail(429, times=1, retry_after=1, after=1)
    started = time.perf_counter()
    got = fetch_ticks(keys(fake), "trades", ["AAPL"], datetime(2024, 11, 29, tzinfo=UTC),
                      datetime(2024, 11, 30, tzinfo=UTC), policy=FAST)
    assert time.perf_counter() - started >= 0.9
    assert got["AAPL"] == expected_trades() and len(fake.requests) == 4


def test_bad_keys_and_persistent_failure(fake: FakeAlpaca) -> None:
    span = (datetime(2024, 11, 29, tzinfo=UTC), datetime(2024, 11, 30, tzinfo=UTC))
    with pytest.raises(ExternalServiceError, match="403"):
        fetch_ticks(keys(fake, secret_key="wrong"), "trades", ["AAPL"], *span, policy=FAST)
    fake.fail(500, times=5)
    with pytest.raises(ExternalServiceError):
        fetch_ticks(keys(fake), "quotes", ["AAPL"], *span, policy=FAST)


def test_import_is_idempotent_and_all_or_nothing(fake: FakeAlpaca, database: Database) -> None:
    store = TickStore(database, "trades")
    with pytest.raises(NotFound, match=r"Alpaca has no trades for ZZZZ .* nothing imported"):
        import_ticks(store, keys(fake), ["AAPL", "ZZZZ"], DAY, DAY, policy=FAST)
    assert store.count("AAPL") == 0
    first = import_ticks(store, keys(fake), ["AAPL"], DAY, DAY, policy=FAST)
    assert (first[0].rows, first[0].new) == (len(TRADES), len(TRADES))
    again = import_ticks(store, keys(fake), ["AAPL"], DAY, DAY, policy=FAST)
    assert (again[0].rows, again[0].new) == (len(TRADES), 0)
    assert store.read("AAPL", 0, 2**62) == expected_trades()
    quotes = TickStore(database, "quotes")
    assert import_ticks(quotes, keys(fake), ["AAPL"], DAY, DAY, policy=FAST)[0].new == len(QUOTES)
