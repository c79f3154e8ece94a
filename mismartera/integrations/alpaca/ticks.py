"""Historical trades and quotes from Alpaca through alpaca-py, with the bars' rules (`historical.py`):
the same client (a timeout on every request, 429/5xx retried per page honouring Retry-After),
every page, one-line errors, and nothing stored unless every symbol came back with rows.

alpaca-py walks the pages itself; a response hook on its session counts the rows of each page as
it arrives, so the progress bar moves (rows and rows/s) while a large day downloads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.requests import StockQuotesRequest, StockSnapshotRequest, StockTradesRequest

from mismartera.config.settings import AlpacaSettings
from mismartera.data.tick_store import MICROS, TickKind, TickRow, TickStore, number_within_microsecond
from mismartera.errors import ExternalServiceError, NotFound, UsageError
from mismartera.integrations.alpaca.errors import from_api_error, from_requests_error
from mismartera.integrations.alpaca.historical import DEFAULT_DATA_URL, FEEDS, HttpPolicy, day_span, make_client

log = logging.getLogger(__name__)


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def epoch_micros(text: str) -> int:
    """Epoch microseconds of an RFC 3339 time as Alpaca writes it ('…T13:30:00.123456789Z'; digits
    past the microsecond are dropped; no offset means UTC)."""
    found = _RFC3339.match(text.strip())
    if found is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    head, fraction, zone = found.groups()
    stamp = datetime.fromisoformat(head + ("+00:00" if zone in (None, "Z") else zone))
    return int(stamp.timestamp()) * MICROS + (int((fraction + "000000")[:6]) if fraction else 0)


def _conditions(value: Any) -> str | None:
    if not value:
        return None
    return " ".join(str(v) for v in value)[:64] if isinstance(value, list) else str(value)[:64]


def trade_row(item: dict) -> tuple:
    """(ts, price, size, exchange, conditions, id) of one Alpaca trade (the seq is added later)."""
    trade_id = item.get("i")
    return (epoch_micros(item["t"]), float(item["p"]), float(item["s"]), item.get("x") or None,
            _conditions(item.get("c")), int(trade_id) if trade_id is not None else None)


def quote_row(item: dict) -> tuple:
    """(ts, bid, bid size, ask, ask size, bid exchange, ask exchange, conditions) of one Alpaca quote."""
    return (epoch_micros(item["t"]), float(item["bp"]), float(item["bs"]), float(item["ap"]), float(item["as"]),
            item.get("bx") or None, item.get("ax") or None, _conditions(item.get("c")))


def with_seq(rows: list[tuple]) -> list[TickRow]:
    """Rows sorted by time (stable: Alpaca's order within a microsecond) with the seq after the ts."""
    ordered = sorted(rows, key=lambda row: row[0])
    seqs = number_within_microsecond([row[0] for row in ordered])
    return [(row[0], seq, *row[1:]) for row, seq in zip(ordered, seqs, strict=True)]


def fetch_ticks(settings: AlpacaSettings, kind: TickKind, symbols: Sequence[str], start: datetime, end: datetime,
                feed: str = "iex", policy: HttpPolicy | None = None,
                on_page: Callable[[int], None] | None = None) -> dict[str, list[TickRow]]:
    """Every trade (or quote) of each symbol from `start` to `end` (aware datetimes), all pages, in time
    order, as store rows. `on_page(rows)` is called as each page arrives."""
    if feed not in FEEDS:
        raise UsageError(f"unknown feed '{feed}' (expected one of {', '.join(FEEDS)})")
    policy = policy or HttpPolicy()
    client = make_client(settings, policy)
    where = settings.data_url or DEFAULT_DATA_URL

    def count_page(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if on_page is None or response.status_code != 200:
            return
        try:
            items = response.json().get(kind) or {}
        except ValueError:
            return
        on_page(sum(len(v) for v in items.values()) if isinstance(items, dict) else len(items))

    client._session.hooks["response"].append(count_page)
    to_row = trade_row if kind == "trades" else quote_row
    out: dict[str, list[TickRow]] = {}
    for symbol in symbols:
        request: StockTradesRequest | StockQuotesRequest
        try:
            if kind == "trades":
                request = StockTradesRequest(symbol_or_symbols=symbol, start=start, end=end, feed=FEEDS[feed])
                raw = cast(dict[str, Any], client.get_stock_trades(request))
            else:
                request = StockQuotesRequest(symbol_or_symbols=symbol, start=start, end=end, feed=FEEDS[feed])
                raw = cast(dict[str, Any], client.get_stock_quotes(request))
        except APIError as exc:
            raise from_api_error(exc, where, policy.attempts) from None
        except requests.RequestException as exc:
            raise from_requests_error(exc, where, policy.timeout) from None
        except (ValueError, KeyError) as exc:
            raise ExternalServiceError(f"unexpected answer from Alpaca at {where}: {exc}") from None
        try:
            out[symbol] = with_seq([to_row(item) for item in (raw or {}).get(symbol, [])])
        except (KeyError, TypeError, ValueError) as exc:
            raise ExternalServiceError(f"unexpected {kind} from Alpaca at {where}: {exc!r}") from None
        log.info("alpaca: %d %s of %s", len(out[symbol]), kind, symbol)
    return out


@dataclass(frozen=True)
class TickApiImport:
    symbol: str
    kind: str
    rows: int
    new: int
    first_ts: int
    last_ts: int


def import_ticks(store: TickStore, settings: AlpacaSettings, symbols: Sequence[str], start: date, end: date,
                 feed: str = "iex", policy: HttpPolicy | None = None, progress: Any = None) -> list[TickApiImport]:
    """Fetch every symbol's trades or quotes (`store.kind`), then store them all in one transaction
    (idempotent upserts). Nothing is written unless every symbol came back with rows."""
    first, last = day_span(start, end)
    on_page = (lambda rows: progress.advance(rows)) if progress is not None else None
    fetched = fetch_ticks(settings, store.kind, symbols, first, last, feed, policy, on_page)
    empty = [symbol for symbol, rows in fetched.items() if not rows]
    if empty:
        raise NotFound(f"Alpaca has no {store.kind} for {', '.join(empty)} from {start.isoformat()} to "
                       f"{end.isoformat()} on the {feed} feed (unknown symbol, or no trading in that range); "
                       "nothing imported")
    out = []
    with store.db.begin() as conn:
        for symbol, rows in fetched.items():
            span = (rows[0][0], rows[-1][0] + 1)
            before = store.count(symbol, *span, conn=conn)
            store.upsert(symbol, rows, conn=conn)
            after = store.count(symbol, *span, conn=conn)
            out.append(TickApiImport(symbol, store.kind, len(rows), after - before, rows[0][0], rows[-1][0]))
    return out


def _bar(item: dict | None) -> dict[str, Any] | None:
    if not item:
        return None
    return {"time": datetime.fromtimestamp(epoch_micros(item["t"]) // MICROS, UTC), "open": float(item["o"]),
            "high": float(item["h"]), "low": float(item["l"]), "close": float(item["c"]), "volume": float(item["v"]),
            "vwap": None if item.get("vw") is None else float(item["vw"])}


def fetch_snapshot(settings: AlpacaSettings, symbol: str, feed: str = "iex",
                   policy: HttpPolicy | None = None) -> dict[str, Any]:
    """Alpaca's snapshot of `symbol`: latest trade and quote (store rows), latest minute bar, today's and the
    previous daily bar (dicts). NotFound when Alpaca knows no such symbol."""
    policy = policy or HttpPolicy()
    client = make_client(settings, policy)
    where = settings.data_url or DEFAULT_DATA_URL
    try:
        raw = cast(dict[str, Any], client.get_stock_snapshot(
            StockSnapshotRequest(symbol_or_symbols=symbol, feed=FEEDS[feed])))
    except APIError as exc:
        raise from_api_error(exc, where, policy.attempts) from None
    except requests.RequestException as exc:
        raise from_requests_error(exc, where, policy.timeout) from None
    found = (raw or {}).get(symbol)
    if not found:
        raise NotFound(f"Alpaca has no snapshot for '{symbol}' on the {feed} feed (unknown symbol?)")
    try:
        trade = found.get("latestTrade")
        quote = found.get("latestQuote")
        return {"latest_trade": with_seq([trade_row(trade)])[0] if trade else None,
                "latest_quote": with_seq([quote_row(quote)])[0] if quote else None,
                "minute_bar": _bar(found.get("minuteBar")), "daily_bar": _bar(found.get("dailyBar")),
                "previous_daily_bar": _bar(found.get("prevDailyBar"))}
    except (KeyError, TypeError, ValueError) as exc:
        raise ExternalServiceError(f"unexpected snapshot from Alpaca at {where}: {exc!r}") from None
