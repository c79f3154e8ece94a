"""`SessionData`: the session's bars per symbol and interval, and the indicators fed from them.

One writer (the coordinator thread) and any number of readers (strategies on the same thread, the
shell on its own). Bars are immutable `Bar` objects appended to plain lists; an append and a slice
are atomic under the GIL, so a reader gets a consistent prefix and never a half-written bar.
Trimming old days builds a new list and swaps the reference, for the same reason.

Only bars whose end has passed on the session clock are ever appended, so whatever a reader sees
is already visible: there is no look-ahead to guard against here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mismartera.bars import Bar, Quote, Trade
from mismartera.errors import UsageError
from mismartera.indicators.vectorised import vector_for
from mismartera.suggest import suffix
from mismartera.system.day_indicators import DayIndicator


@dataclass(frozen=True, slots=True)
class IndicatorKey:
    symbol: str
    interval: str
    kind: str
    params: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        inner = ",".join(str(v) for _, v in self.params)
        return f"{self.kind}({inner})" + ("" if self.interval == "1m" else f"@{self.interval}")


class SessionData:
    """Bars and indicators of one session.

    Args:
        symbols: the session's symbols.
        intervals: the streams kept ("1m" first, then derived ones like "5m").
        keep_days: how many past trading days of bars to keep besides the current one.
        make_indicator: factory `(kind, **params) -> indicator` (`mismartera.indicators.make_indicator`).
    """

    def __init__(self, symbols: Iterable[str], intervals: Iterable[str], keep_days: int = 1,
                 make_indicator: Callable[..., Any] | None = None, tick_streams: Iterable[str] = ()) -> None:
        self.symbols = list(symbols)
        # The latest trade and quote per symbol, for the tick streams the session asked for (each
        # replaced whole by its one writer, so a reader gets one consistent object).
        self.tick_streams = frozenset(tick_streams)
        self._trades: dict[str, Trade] = {}
        self._quotes: dict[str, Quote] = {}
        self.intervals = list(dict.fromkeys(["1m", *intervals]))
        self.keep_days = max(0, keep_days)
        self._make = make_indicator
        self.vectorise = False   # a backtest: built-in 1m indicators asked for in on_start go day-at-a-time
        self._series: dict[tuple[str, str], list[Bar]] = {(s, i): [] for s in self.symbols for i in self.intervals}
        self._day_starts: dict[tuple[str, str], list[int]] = {key: [] for key in self._series}
        self._indicators: dict[IndicatorKey, Any] = {}
        # symbol -> interval -> list of indicator objects, for the engine's update loop
        self.feeds: dict[str, dict[str, list[Any]]] = {s: {i: [] for i in self.intervals} for s in self.symbols}

    # ------------------------------------------------------------------ writes (coordinator thread)
    def append(self, bar: Bar) -> None:
        self._series[(bar.symbol, bar.interval)].append(bar)

    def series(self, symbol: str, interval: str = "1m") -> list[Bar]:
        """The live list for `symbol`/`interval` (the coordinator appends to it directly)."""
        return self._series[(symbol, interval)]

    def start_day(self) -> None:
        """Mark where today's bars begin and drop days older than `keep_days`."""
        for key, bars in self._series.items():
            starts = self._day_starts[key]
            starts.append(len(bars))
            if len(starts) > self.keep_days + 1:
                cut = starts[-(self.keep_days + 1)]
                self._series[key] = bars[cut:]
                self._day_starts[key] = [s - cut for s in starts[-(self.keep_days + 1):]]

    def set_trade(self, trade: Trade) -> None:
        self._trades[trade.symbol] = trade

    def set_quote(self, quote: Quote) -> None:
        self._quotes[quote.symbol] = quote

    # ------------------------------------------------------------------ indicators
    def indicator(self, symbol: str, kind: str, interval: str = "1m", **params: Any) -> Any:
        """The indicator of `kind` with `params` on `symbol`'s `interval` bars, created on first request.

        The same request returns the same object, so two strategies asking for SMA(10) share one.
        """
        self._check(symbol, interval)
        key = IndicatorKey(symbol, interval, kind.lower(), tuple(sorted(params.items())))
        found = self._indicators.get(key)
        if found is None:
            if self._make is None:
                raise UsageError("this session has no indicator factory (SessionData built without one)")
            made = self._make(kind, **params)
            for bar in self._series[(symbol, interval)]:
                made.update(bar.open, bar.high, bar.low, bar.close, bar.volume)
            self.feeds[symbol][interval].append(made)
            found = made
            if self.vectorise and interval == "1m" and vector_for(made) is not None:
                found = DayIndicator(made)
            self._indicators[key] = found
        return found

    def switch_to_days(self) -> list[tuple[str, DayIndicator]]:
        """Take every day-at-a-time indicator not switched yet out of the per-bar update; returns them
        with their symbols for prefetch (`Prefetch.vectorise`), which computes their days from here on."""
        out = []
        for key, shown in list(self._indicators.items()):
            feeds = self.feeds[key.symbol]["1m"]
            if isinstance(shown, DayIndicator) and not shown.active and shown.incremental in feeds:
                feeds.remove(shown.incremental)
                out.append((key.symbol, shown))
        return out

    def indicators(self) -> dict[IndicatorKey, Any]:
        return dict(self._indicators)

    def indicator_values(self, symbol: str | None = None) -> list[tuple[str, str, float | None]]:
        """(symbol, label, value) of every registered indicator (readable from any thread)."""
        return [(key.symbol, key.label, ind.value) for key, ind in list(self._indicators.items())
                if symbol is None or key.symbol == symbol]

    def new_session(self) -> None:
        for indicator in list(self._indicators.values()):
            indicator.new_session()

    # ------------------------------------------------------------------ reads (any thread)
    def bars(self, symbol: str, interval: str = "1m", count: int | None = None) -> list[Bar]:
        """The visible bars, oldest first; the last `count` when given."""
        self._check(symbol, interval)
        series = self._series[(symbol, interval)]
        if count is None:
            return series[:]
        return series[-count:] if count > 0 else []

    def last(self, symbol: str, interval: str = "1m") -> Bar | None:
        self._check(symbol, interval)
        series = self._series[(symbol, interval)]
        return series[-1] if series else None

    def last_trade(self, symbol: str) -> Trade | None:
        """The latest trade seen of `symbol`; None when trades are not streamed or none came yet."""
        self._check(symbol, "1m")
        return self._trades.get(symbol)

    def quote(self, symbol: str) -> Quote | None:
        """The latest quote seen of `symbol`; None when quotes are not streamed or none came yet."""
        self._check(symbol, "1m")
        return self._quotes.get(symbol)

    def counts(self) -> dict[tuple[str, str], int]:
        return {key: len(bars) for key, bars in list(self._series.items())}

    def _check(self, symbol: str, interval: str) -> None:
        if (symbol, interval) not in self._series:
            if symbol not in self.symbols:
                raise UsageError(f"symbol {symbol!r} is not in this session{suffix(symbol, self.symbols)} "
                                 f"(session symbols: {', '.join(self.symbols)})")
            raise UsageError(f"interval {interval!r} is not a stream of this session "
                             f"(streams: {', '.join(self.intervals)})")
