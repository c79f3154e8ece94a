"""The coordinator's replay: no look-ahead, determinism, the calendar (holidays, early closes),
derived streams, end-of-day flatten, trailing history, and what a run stores."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.demo import generate_day, seed_demo
from mismartera.data.schema import bars as bars_table
from mismartera.data.schema import daily_equity, orders
from mismartera.system.session_data import SessionData
from mismartera.system.state import SystemState

SYMBOLS = ["AAPL", "MSFT"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    yield ctx
    if ctx.has_system() and ctx.system.state is not SystemState.STOPPED:
        ctx.system.stop(5)
    ctx.close()


def config(start: str, end: str, strategies: list[dict], streams: tuple[str, ...] = ("1m",), **extra: Any):
    data = {
        "session_name": "engine",
        "backtest_config": {"start_date": start, "end_date": end, "speed_multiplier": 0, "prefetch_days": 2},
        "session_data_config": {"symbols": SYMBOLS, "streams": list(streams),
                                "historical": extra.pop("historical", {"trailing_days": 0})},
        "strategies": strategies,
        "trading_config": {"initial_cash": 100_000, **extra},
    }
    return parse_session_config(data)


def write_strategy(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text("from mismartera.strategies import Strategy\n\n" + body)
    return str(path)


SPY = '''
class Spy(Strategy):
    name = "spy"
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seen = []        # (clock, bar end, last visible 1m end, last visible 5m end, n visible)
        self.days = {}        # day -> bars seen
        self.day_ends = []
    def on_start(self, ctx):
        self.sma = ctx.indicator("AAPL", "sma", period=3)
    def on_bar(self, ctx, bar):
        visible = ctx.bars(bar.symbol)
        five = ctx.bars(bar.symbol, "5m")
        self.seen.append((ctx.now, bar.end, visible[-1].end, five[-1].end if five else None, len(visible)))
        day = ctx.now.date().isoformat()
        self.days[day] = self.days.get(day, 0) + 1
    def on_day_end(self, ctx):
        self.day_ends.append(ctx.now)
'''


def test_no_look_ahead_a_strategy_never_sees_a_bar_before_its_end(app: AppContext, tmp_path: Path) -> None:
    seed_demo(app.bars, app.time, SYMBOLS, app.time.sessions(*_days("2024-11-04", "2024-11-05"))[0].day, 2, 5)
    path = write_strategy(tmp_path, "spy", SPY)
    app.system.run(config("2024-11-04", "2024-11-05", [{"path": path}], streams=("1m", "5m")))
    spy = app.system.coordinator.slots[0].strategy
    assert len(spy.seen) == 2 * 2 * 390
    for now, bar_end, last_end, five_end, _ in spy.seen:
        assert bar_end == now            # revealed exactly at its end
        assert last_end <= now           # nothing newer is visible
        assert five_end is None or five_end <= now
    # a 5m bar appears exactly when its fifth minute ends
    assert any(five_end == now for now, _, _, five_end, _ in spy.seen)


def _days(start: str, end: str) -> tuple:
    from datetime import date

    return date.fromisoformat(start), date.fromisoformat(end)


def test_determinism_two_runs_give_identical_fills(app: AppContext) -> None:
    seed_demo(app.bars, app.time, SYMBOLS, _days("2024-11-04", "2024-11-04")[0], 3, 9)
    cfg = config("2024-11-04", "2024-11-06", [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20,
                                                                                   "quantity": 10}}],
                 commission_per_share=0.01, commission_min=1.0, slippage_bps=3)
    runs = []
    for _ in range(2):
        status = app.system.run(cfg)
        _, fills = app.system.fills(status.run_id)
        _, account = app.system.account(status.run_id)
        runs.append(([(f.order_id, f.symbol, f.side, f.quantity, f.price, f.commission, f.filled_at) for f in fills],
                     account.equity, [d.equity for d in app.system.history().daily(status.run_id)]))
    assert runs[0][0] and runs[0] == runs[1]


def test_calendar_holiday_skipped_and_early_close_honoured(app: AppContext, tmp_path: Path) -> None:
    tm = app.time
    for symbol in SYMBOLS:
        price = 100.0
        for session in tm.sessions(*_days("2024-11-25", "2024-11-29")):
            rows, price = generate_day(symbol, session, 1, price)
            app.bars.upsert(symbol, "1m", rows)
        # stray bars the replay must ignore: on the Thanksgiving holiday, and after the 13:00 early close
        thanksgiving = 1732804200  # 2024-11-28 14:30 UTC
        app.bars.upsert(symbol, "1m", [(thanksgiving + 60 * i, 1, 1, 1, 1, 1, None, None) for i in range(30)])
        after_close = 1732903200   # 2024-11-29 18:00 UTC = 13:00 ET
        app.bars.upsert(symbol, "1m", [(after_close + 60 * i, 1, 1, 1, 1, 1, None, None) for i in range(30)])
    path = write_strategy(tmp_path, "spy", SPY)
    status = app.system.run(config("2024-11-25", "2024-11-29", [{"path": path}], streams=("1m", "5m")))
    spy = app.system.coordinator.slots[0].strategy
    assert spy.days == {"2024-11-25": 780, "2024-11-26": 780, "2024-11-27": 780, "2024-11-29": 420}
    assert [t.isoformat() for t in spy.day_ends] == ["2024-11-25T21:00:00+00:00", "2024-11-26T21:00:00+00:00",
                                                    "2024-11-27T21:00:00+00:00", "2024-11-29T18:00:00+00:00"]
    assert status.days_total == 4 and status.bars_done == 3 * 780 + 420
    days = [d.day.isoformat() for d in app.system.history().daily(status.run_id)]
    assert days == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29"]


def test_derived_streams_are_stored_and_positions_flattened(app: AppContext) -> None:
    seed_demo(app.bars, app.time, SYMBOLS, _days("2024-11-29", "2024-11-29")[0], 1, 4)
    status = app.system.run(config("2024-11-29", "2024-11-29",
                                   [{"name": "sma_crossover", "params": {"fast": 3, "slow": 8, "quantity": 5}}],
                                   streams=("1m", "5m", "1d"), close_positions_at_end_of_day=True))
    with app.db.connect() as conn:
        counts = dict(conn.execute(select(bars_table.c.interval, func.count()).where(bars_table.c.symbol == "AAPL")
                                   .group_by(bars_table.c.interval)).all())
        equity_rows = conn.execute(select(func.count()).select_from(daily_equity)
                                   .where(daily_equity.c.run_id == status.run_id)).scalar_one()
        stored_orders = conn.execute(select(func.count()).select_from(orders)
                                     .where(orders.c.run_id == status.run_id)).scalar_one()
    assert counts == {"1m": 210, "5m": 42, "1d": 1}       # early close: 210 minutes
    assert equity_rows == 1 and stored_orders > 0
    _, account = app.system.account(status.run_id)
    assert account.positions == () and account.equity == account.cash
    upkeep = {w.name: w for w in status.workers}["upkeep"]
    assert "100.0% complete, 0 gap(s)" in upkeep.detail


def test_trailing_history_warms_indicators_before_day_one(app: AppContext, tmp_path: Path) -> None:
    seed_demo(app.bars, app.time, SYMBOLS, _days("2024-11-04", "2024-11-04")[0], 2, 2)
    body = '''
class Warm(Strategy):
    name = "warm"
    first = None
    def on_start(self, ctx):
        self.sma = ctx.indicator("AAPL", "sma", period=50)
    def on_bar(self, ctx, bar):
        if self.first is None:
            self.first = (self.sma.ready, len(ctx.bars("AAPL")))
'''
    path = write_strategy(tmp_path, "warm", body)
    app.system.run(config("2024-11-05", "2024-11-05", [{"path": path, "symbols": ["AAPL"]}],
                          historical={"trailing_days": 1, "intervals": ["1m"]}))
    assert app.system.coordinator.slots[0].strategy.first == (True, 391)


def test_trailing_history_of_a_derived_stream(app: AppContext, tmp_path: Path) -> None:
    seed_demo(app.bars, app.time, SYMBOLS, _days("2024-11-04", "2024-11-04")[0], 2, 2)
    app.system.run(config("2024-11-04", "2024-11-04", [], streams=("1m", "5m")))   # stores day 1's 5m bars
    body = '''
class Five(Strategy):
    name = "five"
    first = None
    def on_bar(self, ctx, bar):
        if self.first is None:
            self.first = [b.ts for b in ctx.bars("AAPL", "5m")]
'''
    path = write_strategy(tmp_path, "five", body)
    app.system.run(config("2024-11-05", "2024-11-05", [{"path": path, "symbols": ["AAPL"]}], streams=("1m", "5m"),
                          historical={"trailing_days": 1, "intervals": ["5m"]}))
    first = app.system.coordinator.slots[0].strategy.first
    open_ts = int(app.time.session(_days("2024-11-04", "2024-11-04")[0]).open.timestamp())
    assert first == [open_ts + 300 * i for i in range(78)]


def test_session_data_readers_never_see_half_written_bars() -> None:
    from mismartera.bars import Bar
    from mismartera.indicators import make_indicator

    data = SessionData(["AAA"], ["1m"], keep_days=1, make_indicator=make_indicator)
    errors: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen = data.bars("AAA")
            for a, b in itertools.pairwise(seen):
                if b.ts != a.ts + 60 or a.close != a.ts:
                    errors.append(f"inconsistent {a} {b}")
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    ts = 0
    for day in range(5):
        data.start_day()
        for _ in range(2000):
            ts += 60
            data.append(Bar("AAA", ts, 1.0, 1.0, 1.0, float(ts), 1.0))
        assert len(data.bars("AAA")) <= 2000 * (day + 1)
    done.set()
    thread.join()
    assert errors == []
    assert len(data.bars("AAA")) == 4000   # today and one kept day
    sma = data.indicator("AAA", "sma", period=3)
    assert sma.ready and data.indicator("AAA", "SMA", period=3) is sma
    with pytest.raises(Exception, match=r"symbol 'AAB' is not in this session — did you mean 'AAA'\?"):
        data.bars("AAB")
    with pytest.raises(Exception, match=r"interval '5m' is not a stream of this session"):
        data.bars("AAA", "5m")


def test_a_run_is_stored_on_each_database(db_url: str, tmp_path: Path) -> None:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home"), "MISMARTERA_DB_URL": db_url}))
    try:
        seed_demo(ctx.bars, ctx.time, SYMBOLS, _days("2024-11-29", "2024-11-29")[0], 1, 6)
        status = ctx.system.run(config("2024-11-29", "2024-11-29",
                                       [{"name": "sma_crossover", "params": {"fast": 3, "slow": 8, "quantity": 5}}],
                                       streams=("1m", "15m")))
        history = ctx.system.history()
        run = history.run(status.run_id)
        assert run.state == "finished" and run.summary["days"] == 1 and run.started_at.tzinfo is not None
        orders_stored = history.orders(status.run_id)
        fills_stored = history.fills(status.run_id)
        assert fills_stored and {f.order_id for f in fills_stored} <= {o.id for o in orders_stored}
        assert [d.day.isoformat() for d in history.daily(status.run_id)] == ["2024-11-29"]
        assert ctx.bars.count("AAPL", "15m") == 14
    finally:
        ctx.close()


ORDERS = '''
class Orders(Strategy):
    name = "orders"
    step = 0
    def on_bar(self, ctx, bar):
        if bar.symbol != "AAPL":
            return
        self.step += 1
        if self.step == 1:
            self.limit = ctx.buy("AAPL", 10, limit=1.0, tif="gtc")
            self.short = ctx.sell("AAPL", 5)
            self.cash_then = ctx.cash
        elif self.step == 2:
            self.open_then = [o.id for o in ctx.open_orders("AAPL")]
            ctx.cancel(self.limit.id)
        elif self.step == 3:
            ctx.order("AAPL", "buy", 1, order_type="bogus")
'''


def test_strategy_orders_through_the_context(app: AppContext, tmp_path: Path) -> None:
    seed_demo(app.bars, app.time, SYMBOLS, _days("2024-11-29", "2024-11-29")[0], 1, 8)
    path = write_strategy(tmp_path, "orders", ORDERS)
    status = app.system.run(config("2024-11-29", "2024-11-29", [{"path": path}]))
    slot = app.system.coordinator.slots[0]
    strategy = slot.strategy
    assert strategy.limit.status == "new" and strategy.short.status == "rejected"
    assert strategy.cash_then == 100_000 and strategy.open_then == [strategy.limit.id]
    assert not slot.enabled and "order type 'bogus' is not valid (expected market, limit or stop)" in slot.error
    _, stored = app.system.orders(run_id=status.run_id)
    by_id = {o.id: o for o in stored}
    assert by_id[strategy.limit.id].status == "cancelled" and by_id[strategy.limit.id].strategy == "orders"
    assert by_id[strategy.short.id].status == "rejected" and by_id[strategy.short.id].reason


def test_demo_seeds_only_the_symbols_without_bars(app: AppContext) -> None:
    from mismartera.system.demo import ensure_demo_data, load_demo_config

    demo = load_demo_config()
    first = app.time.session(demo.backtest_config.start_date)
    mine = [(int(first.open.timestamp()), 1.0, 1.0, 1.0, 1.0, 10.0, None, None)]
    app.bars.upsert("AAPL", "1m", mine)
    seeded = ensure_demo_data(app.bars, app.time, demo)
    assert seeded.seeded and seeded.days == 20
    assert seeded.bars == 4 * (19 * 390 + 210)
    assert app.bars.read("AAPL", "1m", 0, 2**40) == [mine[0]]   # the user's bar is untouched
    assert not ensure_demo_data(app.bars, app.time, demo).seeded
