"""Historical bars from Alpaca's market-data API through alpaca-py's `StockHistoricalDataClient`.

What this adds to alpaca-py, and why:
- a timeout on every HTTP request (alpaca-py's requests session has none, so a hung server would
  hang an import or the live engine's backfill forever);
- retries of 429 and 5xx *per page*, with exponential backoff that honours `Retry-After` (capped),
  done by urllib3's `Retry` mounted on the client's session: a failure on page 7 does not refetch
  pages 1–6. alpaca-py's own retry (a fixed 3 s sleep, 429/504 only) is switched off;
- one-line mismartera errors instead of alpaca-py/requests exceptions (see `errors.py`);
- bar-store rows `(ts, open, high, low, close, volume, trade_count, vwap)` instead of pydantic models.

`fetch_bars` is what the live engine's backfill calls; `import_bars` is `data import-api`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mismartera.config.settings import AlpacaSettings
from mismartera.data.bar_store import BarRow, BarStore
from mismartera.errors import ExternalServiceError, NotFound, UsageError
from mismartera.exchange import EXCHANGE_TZ
from mismartera.integrations.alpaca.errors import from_api_error, from_requests_error, require_keys

log = logging.getLogger(__name__)

DEFAULT_DATA_URL = "https://data.alpaca.markets"
TIMEFRAMES = {
    "1m": TimeFrame(1, TimeFrameUnit.Minute),
    "5m": TimeFrame(5, TimeFrameUnit.Minute),
    "15m": TimeFrame(15, TimeFrameUnit.Minute),
    "30m": TimeFrame(30, TimeFrameUnit.Minute),
    "1h": TimeFrame(1, TimeFrameUnit.Hour),
    "1d": TimeFrame(1, TimeFrameUnit.Day),
}
FEEDS = {"iex": DataFeed.IEX, "sip": DataFeed.SIP}
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class HttpPolicy:
    """How patient the data client is. Tests shrink these; the defaults suit an import or a backfill.

    Args:
        timeout: seconds one HTTP request may take (connect and each read).
        attempts: tries in all for a request answered 429/5xx or refused a connection.
        backoff: urllib3's backoff factor when there is no Retry-After: the second retry waits
            2 × backoff, the third 4 × backoff (the first retry is immediate).
        max_wait: cap on any one wait, Retry-After included.
    """

    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 0.25
    max_wait: float = 30.0


class _CappedRetry(Retry):
    """urllib3's Retry, with the server's Retry-After capped so a bad header cannot stall us for hours."""

    max_wait: float = 30.0

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, self.max_wait)

    def new(self, **kw: Any) -> _CappedRetry:
        fresh = super().new(**kw)
        fresh.max_wait = self.max_wait
        return fresh


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request that has none a timeout (alpaca-py passes none)."""

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: float | tuple[float | None, float | None] | None = None, verify: bool | str = True,
             cert: str | tuple[str, str] | None = None, proxies: dict[str, str] | None = None) -> requests.Response:
        return super().send(request, stream=stream, timeout=self.timeout if timeout is None else timeout,
                            verify=verify, cert=cert, proxies=proxies)


def make_client(settings: AlpacaSettings, policy: HttpPolicy) -> StockHistoricalDataClient:
    """A data client pointed at `settings.data_url` (when set) with timeouts and per-page retries."""
    api_key, secret_key = require_keys(settings.api_key, settings.secret_key)
    client = StockHistoricalDataClient(api_key=api_key, secret_key=secret_key, raw_data=True,
                                       url_override=settings.data_url or None)
    retry = _CappedRetry(
        total=policy.attempts - 1, connect=policy.attempts - 1, read=False, status=policy.attempts - 1, other=0,
        status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET"}), backoff_factor=policy.backoff,
        backoff_max=policy.max_wait, respect_retry_after_header=True, raise_on_status=False,
    )
    retry.max_wait = policy.max_wait
    adapter = _TimeoutAdapter(policy.timeout, max_retries=retry)
    # alpaca-py exposes neither its session nor its retry settings on this client; both are plain
    # attributes of its RESTClient base. Retries happen in the adapter instead of alpaca-py's loop.
    client._retry = 0
    client._session.mount("http://", adapter)
    client._session.mount("https://", adapter)
    return client


def _row(bar: dict) -> BarRow:
    ts = int(datetime.fromisoformat(bar["t"]).timestamp())
    trades = bar.get("n")
    vwap = bar.get("vw")
    return (ts, float(bar["o"]), float(bar["h"]), float(bar["l"]), float(bar["c"]), float(bar["v"]),
            None if trades is None else int(trades), None if vwap is None else float(vwap))


def fetch_bars(settings: AlpacaSettings, symbols: Sequence[str], start: datetime, end: datetime,
               interval: str = "1m", feed: str = "iex", timeout: float = 10.0, policy: HttpPolicy | None = None,
               on_symbol: Callable[[str, int], None] | None = None) -> dict[str, list[BarRow]]:
    """Every bar of each symbol from `start` to `end` (inclusive, aware datetimes), all pages, in time order.

    Symbols Alpaca has no bars for map to []. `on_symbol(symbol, bars)` is called as each finishes.
    """
    if interval not in TIMEFRAMES:
        raise UsageError(f"unknown interval '{interval}' (expected one of {', '.join(TIMEFRAMES)})")
    if feed not in FEEDS:
        raise UsageError(f"unknown feed '{feed}' (expected one of {', '.join(FEEDS)})")
    if start.tzinfo is None or end.tzinfo is None:
        raise UsageError("start and end must be timezone-aware datetimes")
    policy = policy or HttpPolicy(timeout=timeout)
    client = make_client(settings, policy)
    where = settings.data_url or DEFAULT_DATA_URL
    out: dict[str, list[BarRow]] = {}
    for symbol in symbols:
        request = StockBarsRequest(symbol_or_symbols=symbol, timeframe=TIMEFRAMES[interval], start=start, end=end,
                                   feed=FEEDS[feed])
        try:
            raw = cast(dict[str, Any], client.get_stock_bars(request))  # raw_data=True: plain dicts
        except APIError as exc:
            raise from_api_error(exc, where, policy.attempts) from None
        except requests.RequestException as exc:
            raise from_requests_error(exc, where, policy.timeout) from None
        except ValueError as exc:  # alpaca-py's "response does not match any known keys", bad JSON
            raise ExternalServiceError(f"unexpected answer from Alpaca at {where}: {exc}") from None
        rows = sorted((_row(bar) for bar in (raw or {}).get(symbol, [])), key=lambda row: row[0])
        out[symbol] = rows
        log.info("alpaca: %d %s bars of %s", len(rows), interval, symbol)
        if on_symbol is not None:
            on_symbol(symbol, len(rows))
    return out


@dataclass(frozen=True)
class ApiImport:
    symbol: str
    interval: str
    bars: int
    new: int
    first_ts: int
    last_ts: int


def day_span(start: date, end: date) -> tuple[datetime, datetime]:
    """Exchange-local dates, both inclusive, as aware datetimes for the API (its `end` is inclusive too)."""
    if end < start:
        raise UsageError(f"end {end.isoformat()} is before start {start.isoformat()}")
    first = datetime.combine(start, time(0, 0), EXCHANGE_TZ)
    last = datetime.combine(end + timedelta(days=1), time(0, 0), EXCHANGE_TZ) - timedelta(seconds=1)
    return first, last


def import_bars(store: BarStore, settings: AlpacaSettings, symbols: Sequence[str], start: date, end: date,
                interval: str = "1m", feed: str = "iex", policy: HttpPolicy | None = None,
                progress: Any = None) -> list[ApiImport]:
    """Fetch every symbol's bars, then store them all in one transaction (same idempotent upsert).

    Nothing is written unless every symbol came back with bars, so a typo in one symbol cannot
    leave a half-done import.
    """
    first, last = day_span(start, end)

    def advance(symbol: str, count: int) -> None:
        if progress is not None:
            progress.update(description=f"fetched {symbol} ({count:,} bars)")
            progress.advance(1)

    fetched = fetch_bars(settings, symbols, first, last, interval, feed, policy=policy, on_symbol=advance)
    empty = [symbol for symbol, rows in fetched.items() if not rows]
    if empty:
        raise NotFound(f"Alpaca has no {interval} bars for {', '.join(empty)} from {start.isoformat()} to "
                       f"{end.isoformat()} on the {feed} feed (unknown symbol, or no trading in that range); "
                       "nothing imported")
    out = []
    with store.db.begin() as conn:
        for symbol, rows in fetched.items():
            before = store.count(symbol, interval, rows[0][0], rows[-1][0] + 1, conn=conn)
            store.upsert(symbol, interval, rows, conn=conn)
            after = store.count(symbol, interval, rows[0][0], rows[-1][0] + 1, conn=conn)
            out.append(ApiImport(symbol, interval, len(rows), after - before, rows[0][0], rows[-1][0]))
    return out
