"""A backtest whose config streams trades and quotes: stored ticks are replayed in time order with
the bars, so `ctx.quote` / `ctx.last_trade` at each bar's end hold the latest row stamped before it
(checked against a plain search of the stored rows); without those streams both are None."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mismartera.bars import Quote, Trade
from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.demo import seed_demo
from mismartera.data.tick_store import TickStore
from mismartera.system.state import SystemState

SPY = '''
from mismartera.strategies import Strategy

class QuoteReader(Strategy):
    name = "quote_reader"
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seen = []
    def on_bar(self, ctx, bar):
        quote = ctx.quote(bar.symbol)
        trade = ctx.last_trade(bar.symbol)
        self.seen.append((bar.symbol, ctx.now, quote, trade))
        if quote is not None and bar.symbol == "AAPL" and not ctx.position("AAPL") and quote.ask_price < 1e9:
            ctx.buy("AAPL", 1)
'''


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    yield ctx
    if ctx.has_system() and ctx.system.state is not SystemState.STOPPED:
        ctx.system.stop(5)
    ctx.close()


def config(path: str, streams: list[str]):  # type: ignore[no-untyped-def]
    return parse_session_config({
        "session_name": "ticks",
        "backtest_config": {"start_date": "2024-11-26", "end_date": "2024-11-29", "speed_multiplier": 0},
        "session_data_config": {"symbols": ["AAPL", "MSFT"], "streams": streams},
        "strategies": [{"path": path}],
        "trading_config": {"initial_cash": 100_000}})


def stored(app: AppContext) -> tuple[list[tuple], list[tuple]]:
    rnd = random.Random(5)
    trades_store, quotes_store = TickStore(app.db, "trades"), TickStore(app.db, "quotes")
    app.db.ensure_schema()
    trades, quotes = [], []
    for day in (date(2024, 11, 25), date(2024, 11, 26), date(2024, 11, 27), date(2024, 11, 29)):
        session = app.time.session(day)
        assert session is not None
        first = int(session.pre_open.timestamp()) * 1_000_000
        last = int(session.after_close.timestamp()) * 1_000_000
        stamps = sorted(rnd.randrange(first, last) for _ in range(400))
        trades += [(ts, 0, 200 + i / 100, float(i + 1), "V", None, i) for i, ts in enumerate(stamps)]
        quotes += [(ts + 7, 0, 199.9, 1.0, 200.1 + i / 1000, 2.0, "V", "Q", None) for i, ts in enumerate(stamps[::3])]
    trades_store.upsert("AAPL", trades)
    quotes_store.upsert("AAPL", quotes)
    return trades, quotes


def latest_before(rows: list[tuple], instant: datetime) -> tuple | None:
    limit = int(instant.timestamp()) * 1_000_000
    earlier = [row for row in rows if row[0] < limit]
    return earlier[-1] if earlier else None


def test_backtest_replays_quotes_and_trades_with_the_bars(app: AppContext, tmp_path: Path) -> None:
    seed_demo(app.bars, app.time, ["AAPL", "MSFT"], date(2024, 11, 26), 3, 5)
    trades, quotes = stored(app)
    path = tmp_path / "reader.py"
    path.write_text(SPY)
    app.system.run(config(str(path), ["1m", "trades", "quotes"]))
    reader = app.system.coordinator.slots[0].strategy
    assert len(reader.seen) == 2 * (390 + 390 + 210)
    checked = 0
    for symbol, now, quote, trade in reader.seen:
        if symbol == "MSFT":
            assert quote is None and trade is None  # nothing stored for MSFT
            continue
        want_q, want_t = latest_before(quotes, now), latest_before(trades, now)
        assert isinstance(quote, Quote) and isinstance(trade, Trade)
        assert (quote.time, quote.ask_price) == (datetime.fromtimestamp(want_q[0] // 10**6, UTC).replace(
            microsecond=want_q[0] % 10**6), want_q[4])
        assert (trade.price, trade.size) == (want_t[2], want_t[3])
        checked += 1
    assert checked == 990
    # the first bar of the window already sees the day before's last quote (loaded with the day)
    first_aapl = next(q for s, _, q, _ in reader.seen if s == "AAPL")
    assert first_aapl is not None


def test_without_tick_streams_quote_and_trade_are_none(app: AppContext, tmp_path: Path) -> None:
    seed_demo(app.bars, app.time, ["AAPL", "MSFT"], date(2024, 11, 26), 3, 5)
    stored(app)
    path = tmp_path / "reader.py"
    path.write_text(SPY)
    app.system.run(config(str(path), ["1m"]))
    reader = app.system.coordinator.slots[0].strategy
    assert reader.seen and all(q is None and t is None for _, _, q, t in reader.seen)
