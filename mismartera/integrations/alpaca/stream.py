"""Real-time minute bars from Alpaca's websocket, handed to the engine through a bounded queue.

This is the only module in mismartera that imports asyncio: alpaca-py's `StockDataStream` runs
its own event loop, and `AlpacaBarStream` confines that loop to one named thread. Everything the
rest of the engine sees is thread-safe and synchronous: a `queue.Queue` of `mismartera.bars.Bar`,
counters, a reconnect event, and a failed state with a one-line error.

alpaca-py 0.44 quirks this adapter handles:
- a rejected key is retried forever and only logged, so the adapter watches the auth step itself
  and fails with "Alpaca rejected the API key on the data stream" instead of looping; a plan
  without the feed (409 "insufficient subscription") fails at once with what to change; a
  refused reconnect (406 "connection limit exceeded") is one warning line, and retried;
- alpaca-py logs its own errors (with tracebacks) for each of these: they go to the log file
  only (the console handler leaves out alpaca-py's loggers), the adapter's one line is what shows;
- a socket that stays open but goes silent is only noticed with `data_timeout`, which we pass;
- its receive loop checks for a stop request only every 5 s, so `stop()` also closes the socket
  to wake it, and cancels the loop as a last resort, to return within 2 s;
- after a reconnect nothing is replayed: the adapter counts reconnects and signals each one, so
  the engine can backfill the missed minutes from the REST API.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from alpaca.data.enums import DataFeed
from alpaca.data.live.stock import StockDataStream
from alpaca.trading.stream import TradingStream

from mismartera.bars import Bar
from mismartera.config.settings import AlpacaSettings
from mismartera.errors import ConfigError, UsageError
from mismartera.integrations.alpaca.errors import REJECTED_KEY
from mismartera.integrations.alpaca.trading import PAPER_URL, TradeEvent, trade_event_from_alpaca

log = logging.getLogger(__name__)

DEFAULT_STREAM_URL = "wss://stream.data.alpaca.markets"
FEEDS = ("iex", "sip")
# Words alpaca-py's auth step raises with when the server refuses the key (code 402 "auth failed",
# or its own "failed to authenticate"); anything else at that step is retried like a network error.
_AUTH_REFUSALS = ("auth", "not authorized", "forbidden", "unauthorized")


def stream_endpoint(base_url: str | None, feed: str) -> str:
    """The websocket URL for a feed: `ALPACA_STREAM_URL` (a base like wss://host, or a full
    wss://host/v2/iex) or Alpaca's own."""
    base = (base_url or DEFAULT_STREAM_URL).rstrip("/")
    path = urlparse(base).path
    if path.startswith("/v2/") or path.startswith("/v1beta"):
        return base
    return f"{base}/v2/{feed}"


@dataclass(frozen=True)
class StreamStatus:
    """One snapshot of the adapter for the engine's status and the watch panels."""

    state: str            # starting | connecting | streaming | reconnecting | failed | stopped
    endpoint: str
    connected: int        # successful (authenticated) connections so far
    reconnects: int       # connections after the first one
    bars_received: int
    bars_dropped: int     # arrived while the queue was full (the engine backfills them like a gap)
    queued: int
    error: str | None


class _CleanCloseFilter(logging.Filter):
    """alpaca-py warns "websocket error, restarting connection" even for a clean close (1000 both
    ways), which is what every `stop()` does; a real drop still warns, and so does this adapter."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "sent 1000 (OK); then received 1000 (OK)" not in record.getMessage()


for _name in ("alpaca.data.live.websocket", "alpaca.trading.stream"):
    logging.getLogger(_name).addFilter(_CleanCloseFilter())


class _Observed:
    """Hooks on alpaca-py's private connect/auth/close steps of its stream classes, which are the
    only places that know a connection succeeded, was refused, or went away."""

    _owner: _AlpacaSocket

    async def _auth(self) -> None:
        try:
            await super()._auth()  # type: ignore[misc]
        except ValueError as exc:
            if self._owner._refused(str(exc)):
                await self.stop_ws()  # type: ignore[attr-defined]
            raise

    async def _start_ws(self) -> None:
        await super()._start_ws()  # type: ignore[misc]
        self._owner._on_connected()

    async def close(self) -> None:
        was_open = self._ws is not None and self._running  # type: ignore[attr-defined]
        await super().close()  # type: ignore[misc]
        if was_open:
            self._owner._on_disconnected()


class _ObservedStockStream(_Observed, StockDataStream):
    def __init__(self, owner: _AlpacaSocket, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner = owner


class _ObservedTradingStream(_Observed, TradingStream):
    def __init__(self, owner: _AlpacaSocket, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner = owner


class _AlpacaSocket(ABC):
    """One alpaca-py stream run in its own named thread: connection counters, the first-connection
    watchdog, the failed state, and a `stop()` that returns within its timeout."""

    thread_name = "alpaca-stream"
    label = "Alpaca stream"
    channel = "data stream"

    def __init__(self, settings: AlpacaSettings, endpoint: str, *, connect_timeout: float,
                 on_reconnect: Callable[[int], None] | None, on_failure: Callable[[str], None] | None,
                 reconnect_backoff: tuple[float, float]) -> None:
        if not settings.has_keys:
            raise ConfigError("Alpaca keys are missing: set ALPACA_API_KEY and ALPACA_SECRET_KEY")
        self.endpoint = endpoint
        self.reconnected = threading.Event()   # set on each reconnect; the engine clears it
        self.connected = 0
        self.reconnects = 0
        self.error: str | None = None
        self._settings = settings
        self._connect_timeout = connect_timeout
        self._on_reconnect = on_reconnect
        self._on_failure = on_failure
        self._backoff = reconnect_backoff
        self._state = "starting"
        self._lock = threading.Lock()
        self._first_connection = threading.Event()
        self._done = threading.Event()
        self._stopping = False
        self._asked_reconnect = False
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Timer | None = None

    # alpaca-py's defaults, plus bounded open/close handshakes so stop() stays quick
    def _websocket_params(self) -> dict[str, Any]:
        return {"ping_interval": 10, "ping_timeout": 30, "max_queue": 1024,
                "open_timeout": min(10.0, self._connect_timeout), "close_timeout": 1.0}

    @abstractmethod
    def _build(self) -> Any:
        """The subscribed alpaca-py stream object."""

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> str:
        """starting | connecting | streaming | reconnecting | failed | stopped"""
        return self._state

    @property
    def failed(self) -> bool:
        return self._state == "failed"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Any:
        """Subscribe and run the stream in its own thread; returns at once."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__}.start() called twice")
        stream = self._build()
        stream._reconnect_min_backoff, stream._reconnect_max_backoff = self._backoff
        self._stream = stream
        self._state = "connecting"
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        self._watchdog = threading.Timer(self._connect_timeout, self._check_first_connection)
        self._watchdog.name = f"{self.thread_name}-watchdog"
        self._watchdog.daemon = True
        self._watchdog.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the first connection is authenticated (or the stream failed)."""
        self._first_connection.wait(timeout)
        return self.connected > 0

    def stop(self, timeout: float = 2.0) -> bool:
        """Close the socket and end the thread; True when it ended within `timeout`."""
        deadline = time.monotonic() + timeout
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        thread = self._thread
        if thread is not None:
            self._request_shutdown(deadline - 0.5)
            thread.join(max(0.0, deadline - 0.5 - time.monotonic()))
            if thread.is_alive():
                self._cancel_loop()
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._state != "failed":
            self._state = "stopped"
        return thread is None or not thread.is_alive()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ stream thread
    def _run(self) -> None:
        try:
            self._stream.run()
        except asyncio.CancelledError:
            log.warning("%s cancelled while stopping", self.label)
        except Exception as exc:   # the stream thread must not die silently
            log.exception("%s crashed", self.label)
            self._fail(f"{self.label} crashed: {exc}")
        finally:
            self._done.set()
            self._first_connection.set()

    def _on_connected(self) -> None:
        with self._lock:
            self.connected += 1
            reconnect = self.connected > 1
            if reconnect:
                self.reconnects += 1
            count = self.reconnects
            if self._state != "failed" and not self._stopping:
                self._state = "streaming"
        self._first_connection.set()
        log.info("%s connected to %s (%s)", self.label, self.endpoint, "reconnect" if reconnect else "first")
        if reconnect:
            self.reconnected.set()
            if self._on_reconnect is not None:
                self._on_reconnect(count)

    def _on_disconnected(self) -> None:
        if self._state == "streaming" and not self._stopping:
            self._state = "reconnecting"
            if self._asked_reconnect:
                self._asked_reconnect = False
                log.info("%s closed to reconnect (%s)", self.label, self.endpoint)
            else:
                log.warning("%s disconnected from %s; reconnecting", self.label, self.endpoint)

    def reconnect(self) -> bool:
        """Close the socket so alpaca-py connects again (a silent stream); False when not streaming."""
        stream = self._stream
        loop = stream._loop if stream is not None else None
        if self._state != "streaming" or loop is None or not loop.is_running():
            return False
        self._asked_reconnect = True

        async def close() -> None:
            ws = stream._ws
            if ws is not None:
                await ws.close()

        try:
            asyncio.run_coroutine_threadsafe(close(), loop)
        except RuntimeError:   # the loop closed in between
            return False
        return True

    def _fail(self, message: str, detail: str | None = None) -> None:
        with self._lock:
            if self._state == "failed":
                return
            self._state = "failed"
            self.error = message
        # file only: the session that owns the stream shows the failure (once)
        log.error("%s failed: %s%s", self.label, message, f" ({detail})" if detail else "",
                  extra={"console": False})
        self._first_connection.set()
        if self._on_failure is not None:
            self._on_failure(message)

    def _refused(self, message: str) -> bool:
        """The server refused the auth step with `message`: True when that ends the stream (the
        key, or a plan without the feed); a refused reconnect is one warning, then retried."""
        lowered = message.lower()
        if "insufficient subscription" in lowered:
            self._fail(self._no_feed_message(), detail=message)
            return True
        if "connection limit" in lowered:
            log.warning("%s refused the connection (406 %s); trying again", self.label, message)
            return False
        if any(word in lowered for word in _AUTH_REFUSALS):
            self._fail(f"{REJECTED_KEY} on the {self.channel}", detail=message)
            return True
        return False

    def _no_feed_message(self) -> str:
        return f"your Alpaca plan has no access to the {self.channel} (insufficient subscription)"

    def _check_first_connection(self) -> None:
        """Watchdog: the first connection must be up within `connect_timeout`."""
        if self.connected == 0 and not self._stopping and not self.failed:
            self._fail(f"cannot reach the {self.label} at {self.endpoint} "
                       f"(no connection within {self._connect_timeout:g} s)")
            self._request_shutdown(time.monotonic() + 2.0)

    # ------------------------------------------------------------------ shutdown
    def _request_shutdown(self, deadline: float) -> None:
        """Ask alpaca-py's loop to stop and close the socket so its receive wait ends now."""
        stream = self._stream
        if stream is None:
            return
        while time.monotonic() < deadline and not self._done.is_set():
            loop = stream._loop
            if loop is not None and loop.is_running():
                try:
                    asyncio.run_coroutine_threadsafe(self._shutdown(stream), loop)
                except RuntimeError:   # the loop closed in between: already done
                    pass
                return
            time.sleep(0.01)

    @staticmethod
    async def _shutdown(stream: Any) -> None:
        await stream.stop_ws()
        ws = stream._ws
        if ws is not None:
            await ws.close()

    def _cancel_loop(self) -> None:
        """Last resort when the loop ignored the stop request (e.g. stuck in a TCP connect)."""
        stream = self._stream
        loop = stream._loop if stream is not None else None
        if loop is None or not loop.is_running():
            return

        def cancel_all() -> None:
            for task in asyncio.all_tasks(loop):
                task.cancel()

        try:
            loop.call_soon_threadsafe(cancel_all)
        except RuntimeError:
            pass


class AlpacaBarStream(_AlpacaSocket):
    """Minute bars of `symbols` from Alpaca's stream, in a thread, into `self.bars`.

    Args:
        settings: keys and `stream_url` (ALPACA_STREAM_URL) from `mismartera.config`.
        symbols: tickers to subscribe to before the stream runs.
        feed: "iex" (free) or "sip" (paid subscription).
        queue_size: bound of the queue; a bar arriving while it is full is counted in
            `bars_dropped` and left to the gap backfill, because blocking would stall the socket.
        data_timeout: seconds without a bar after which alpaca-py reconnects a silent socket
            (None: never).
        connect_timeout: seconds the first connection may take before the stream fails
            ("cannot reach the Alpaca stream at …"); later drops are retried without limit.
        on_reconnect: called in the stream thread with the reconnect count after each reconnect.
        on_failure: called in the stream thread with the error line when the stream fails.
        reconnect_backoff: (min, max) seconds between reconnect attempts (alpaca-py: 1 to 30).
    """

    thread_name = "alpaca-bar-stream"
    label = "Alpaca stream"
    channel = "data stream"

    def __init__(self, settings: AlpacaSettings, symbols: Iterable[str], feed: str = "iex",
                 queue_size: int = 10000, *, data_timeout: float | None = 180.0, connect_timeout: float = 15.0,
                 on_reconnect: Callable[[int], None] | None = None,
                 on_failure: Callable[[str], None] | None = None,
                 reconnect_backoff: tuple[float, float] = (1.0, 30.0)) -> None:
        if feed not in FEEDS:
            raise UsageError(f"unknown Alpaca feed {feed!r} (expected one of: {', '.join(FEEDS)})")
        super().__init__(settings, stream_endpoint(settings.stream_url, feed), connect_timeout=connect_timeout,
                         on_reconnect=on_reconnect, on_failure=on_failure, reconnect_backoff=reconnect_backoff)
        self.symbols = sorted({s.strip().upper() for s in symbols})
        if not self.symbols:
            raise UsageError("the Alpaca stream needs at least one symbol")
        if queue_size < 1:
            raise UsageError(f"queue_size must be at least 1, got {queue_size}")
        self.feed = feed
        self.bars: queue.Queue[Bar] = queue.Queue(maxsize=queue_size)
        self.bars_received = 0
        self.bars_dropped = 0
        self._data_timeout = data_timeout

    def _no_feed_message(self) -> str:
        return f'your Alpaca plan has no access to the {self.feed} feed (use "data_feed": "iex")'

    def _build(self) -> _ObservedStockStream:
        stream = _ObservedStockStream(
            self, api_key=self._settings.api_key, secret_key=self._settings.secret_key, feed=DataFeed(self.feed),
            url_override=self.endpoint, data_timeout=self._data_timeout,
            websocket_params=self._websocket_params(),
        )
        stream.subscribe_bars(self._on_bar, *self.symbols)
        return stream

    def get(self, timeout: float | None = None) -> Bar | None:
        """The next bar, or None when none arrived within `timeout`."""
        try:
            return self.bars.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[Bar]:
        """Every bar queued right now, in arrival order."""
        out = []
        while True:
            try:
                out.append(self.bars.get_nowait())
            except queue.Empty:
                return out

    def status(self) -> StreamStatus:
        return StreamStatus(self._state, self.endpoint, self.connected, self.reconnects, self.bars_received,
                            self.bars_dropped, self.bars.qsize(), self.error)

    async def _on_bar(self, bar: Any) -> None:
        out = Bar(
            symbol=bar.symbol, ts=int(bar.timestamp.timestamp()), open=float(bar.open), high=float(bar.high),
            low=float(bar.low), close=float(bar.close), volume=float(bar.volume),
            trade_count=None if bar.trade_count is None else int(bar.trade_count),
            vwap=None if bar.vwap is None else float(bar.vwap),
        )
        self.bars_received += 1
        try:
            self.bars.put_nowait(out)
        except queue.Full:
            self.bars_dropped += 1
            log.warning("bar queue full (%d): dropped %s %d; the gap backfill will fetch it",
                        self.bars.maxsize, out.symbol, out.ts)


class AlpacaTradeUpdates(_AlpacaSocket):
    """The account's trade updates (alpaca-py's TradingStream) in a thread: each one is converted to
    a `TradeEvent` and passed to `on_event` in that thread (the broker applies it under its lock).

    Args:
        settings: keys and `trading_stream_url` (ALPACA_TRADING_STREAM_URL), else `base_url` + /stream.
        on_event: receives each `TradeEvent`.
        paper: Alpaca's paper stream when no URL is configured.
        connect_timeout, on_reconnect, on_failure, reconnect_backoff: as for `AlpacaBarStream`.
    """

    thread_name = "alpaca-trade-updates"
    label = "Alpaca trade-updates stream"
    channel = "trade-updates stream"

    def __init__(self, settings: AlpacaSettings, on_event: Callable[[TradeEvent], None], *, paper: bool = True,
                 connect_timeout: float = 15.0, on_reconnect: Callable[[int], None] | None = None,
                 on_failure: Callable[[str], None] | None = None,
                 reconnect_backoff: tuple[float, float] = (1.0, 30.0)) -> None:
        super().__init__(settings, trading_stream_endpoint(settings, paper), connect_timeout=connect_timeout,
                         on_reconnect=on_reconnect, on_failure=on_failure, reconnect_backoff=reconnect_backoff)
        self.events_received = 0
        self._on_event = on_event
        self._paper = paper

    def _build(self) -> _ObservedTradingStream:
        stream = _ObservedTradingStream(
            self, api_key=self._settings.api_key, secret_key=self._settings.secret_key, paper=self._paper,
            url_override=self.endpoint, websocket_params=self._websocket_params(),
        )
        stream.subscribe_trade_updates(self._on_update)
        return stream

    async def _on_update(self, update: Any) -> None:
        self.events_received += 1
        try:
            self._on_event(trade_event_from_alpaca(update))
        except Exception:   # one bad update must not end the stream
            log.exception("trade update handler failed on %s %s", update.event, update.order.id)


def trading_stream_endpoint(settings: AlpacaSettings, paper: bool = True) -> str:
    """ALPACA_TRADING_STREAM_URL, else the trading base URL's /stream (http→ws), else Alpaca's."""
    if settings.trading_stream_url:
        return settings.trading_stream_url
    base = (settings.base_url or (PAPER_URL if paper else "https://api.alpaca.markets")).rstrip("/")
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/stream"
