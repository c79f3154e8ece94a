"""Issue 20, point 4: `MinuteRefetcher` fetches the minutes a live session released missing until
they are stored, with a backoff while REST fails; a minute REST has no bar for had no trades; what
is left at the end is taken up by the next live session (`earlier_missing`) or `data backfill`; a
hung REST call does not hold its stop."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from fake_alpaca.server import FakeAlpaca
from fake_alpaca.waiting import wait_until
from sqlalchemy import insert

from mismartera.bars import Bar
from mismartera.commands import data
from mismartera.commands.context import AppContext
from mismartera.commands.results import Message, Table
from mismartera.config.settings import load_settings
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.schema import runs
from mismartera.errors import ExternalServiceError
from mismartera.system.minute_refetch import MinuteRefetcher, earlier_missing

T0 = 1_732_890_600   # 2024-11-29 09:30 ET


def store_at(tmp_path: Path) -> BarStore:
    db = Database(f"sqlite:///{tmp_path / 'bars.db'}")
    db.ensure_schema()
    return BarStore(db)


def test_missing_minutes_are_fetched_once_rest_recovers_and_stored(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    calls: list[tuple[str, int, int]] = []
    down = threading.Event()
    down.set()

    def backfill(symbol: str, first: int, last: int) -> list[Bar]:
        calls.append((symbol, first, last))
        if down.is_set():
            raise ExternalServiceError("Alpaca failed with HTTP 500")
        # REST has minutes 2 and 4, not 3 (no trades then)
        return [Bar(symbol, ts, 1.0, 2.0, 0.5, 1.5, 10.0) for ts in (T0 + 120, T0 + 240) if first <= ts <= last]

    refetcher = MinuteRefetcher(store, backfill, retry_interval=0.1)
    refetcher.start()
    try:
        for minute in (2, 3, 4):
            refetcher.add("AAPL", T0 + 60 * minute)
        assert wait_until(lambda: len(calls) >= 2, 5)      # tried, failed, tried again after the backoff
        assert refetcher.pending() == [("AAPL", T0 + 60 * m) for m in (2, 3, 4)]
        assert "REST failing: Alpaca failed with HTTP 500" in refetcher.status().detail
        down.clear()
        assert wait_until(lambda: refetcher.pending() == [], 5)
        assert [row[0] for row in store.read("AAPL", "1m", T0, T0 + 600)] == [T0 + 120, T0 + 240]
        assert calls[-1] == ("AAPL", T0 + 120, T0 + 240)   # one request for the symbol's whole span
        assert [(i["minute"], i["stored"], i["no_trades"]) for i in refetcher.summary()] == [
            ("2024-11-29 14:32 UTC", True, False), ("2024-11-29 14:33 UTC", False, True),
            ("2024-11-29 14:34 UTC", True, False)]
    finally:
        refetcher.request_stop()
        refetcher.join(2)
    store.db.dispose()


def test_a_hung_rest_call_does_not_hold_the_stop(tmp_path: Path) -> None:
    release = threading.Event()

    def backfill(symbol: str, first: int, last: int) -> list[Bar]:
        release.wait(10)
        return []

    refetcher = MinuteRefetcher(None, backfill, retry_interval=0.1)
    refetcher.start()
    refetcher.add("AAPL", T0)
    time.sleep(0.3)
    started = time.monotonic()
    refetcher.request_stop()
    refetcher.join(2)
    assert not refetcher.is_alive() and time.monotonic() - started < 1.0
    assert refetcher.pending() == [("AAPL", T0)]
    release.set()


def test_the_next_session_takes_up_what_earlier_runs_left_missing(tmp_path: Path) -> None:
    db = store_at(tmp_path).db
    now = datetime.now(UTC)
    left = [{"symbol": "AAPL", "ts": T0 + 60, "stored": False, "no_trades": False},
            {"symbol": "MSFT", "ts": T0 + 60, "stored": True, "no_trades": False},
            {"symbol": "MSFT", "ts": T0 + 120, "stored": False, "no_trades": True}]
    with db.begin() as conn:
        for mode, summary in (("live", {"missing_minutes": left}), ("backtest", {"missing_minutes": left}),
                              ("live", {"missing_minutes": [{"symbol": "SPY", "ts": T0, "stored": False}]})):
            conn.execute(insert(runs).values(session_name="s", mode=mode, config={}, state="stopped", started_at=now,
                                             progress=0.0, days_done=0, days_total=1, summary=summary))
    assert earlier_missing(db) == [("AAPL", T0 + 60), ("SPY", T0)]
    db.dispose()


def test_data_backfill_fetches_what_live_runs_left_missing(tmp_path: Path) -> None:
    with FakeAlpaca() as server:
        server.add_bars("AAPL", [(T0 + 60, 1.0, 2.0, 0.5, 1.5, 10.0, 3, 1.2)])   # REST has no SPY bar at T0
        env = {**server.env(), "MISMARTERA_HOME": str(tmp_path)}
        ctx = AppContext(load_settings(env))
        try:
            assert isinstance(data.backfill(ctx), Message)            # nothing left missing yet
            left = [{"symbol": "AAPL", "ts": T0 + 60, "stored": False}, {"symbol": "SPY", "ts": T0, "stored": False}]
            with ctx.db.begin() as conn:
                conn.execute(insert(runs).values(
                    session_name="s", mode="live", config={}, state="stopped", started_at=datetime.now(UTC),
                    progress=0.0, days_done=0, days_total=1, summary={"missing_minutes": left}))
            result = data.backfill(ctx)
            assert isinstance(result, Table)
            assert [(row[0], row[2]) for row in result.rows] == [
                ("AAPL", "stored"), ("SPY", "no trades (Alpaca has no bar)")]
            assert ctx.bars.read("AAPL", "1m", T0, T0 + 120) == [(T0 + 60, 1.0, 2.0, 0.5, 1.5, 10.0, 3, 1.2)]
            assert earlier_missing(ctx.db, ctx.bars) == [("SPY", T0)]   # stored ones are not asked again
        finally:
            ctx.close()
