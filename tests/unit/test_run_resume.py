"""Issue 14, points 2 and 3: a run that ended part-way is reported from its completed days, and
`system start --resume RUN` fast-forwards through them (checked against the stored day-end equity)
and goes on recording into the same run, ending with the uninterrupted run's equity to the cent."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from mismartera.commands.context import AppContext
from mismartera.config.session import parse_session_config
from mismartera.config.settings import load_settings
from mismartera.data.schema import daily_equity, fills, orders, runs
from mismartera.errors import MismarteraError, StateError
from mismartera.system.state import SystemState

SYMBOLS = ["AAPL", "MSFT"]
START = date(2024, 11, 4)
DAYS = 8


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[AppContext]:
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home"), "MISMARTERA_DB_URL": db_url}))
    ctx.settings.ensure_dirs()
    ctx.bars.db.ensure_schema()
    from mismartera.data.demo import seed_demo

    seed_demo(ctx.bars, ctx.time, SYMBOLS, START, DAYS, seed=11)
    yield ctx
    if ctx.has_system() and ctx.system.state is not SystemState.STOPPED:
        try:
            ctx.system.stop(5)
        except StateError:
            pass
    ctx.close()


def config(speed: float = 0):
    return parse_session_config({
        "session_name": "resume",
        "backtest_config": {"start_date": START.isoformat(), "end_date": "2024-11-13", "speed_multiplier": speed},
        "session_data_config": {"symbols": SYMBOLS, "streams": ["1m", "5m"]},
        # Orders every few minutes and positions held overnight: the fast-forward has state to rebuild.
        "strategies": [{"name": "sma_crossover", "params": {"fast": 3, "slow": 8, "quantity": 7}}],
        "trading_config": {"initial_cash": 100_000, "commission_per_share": 0.01, "commission_min": 1.0},
    })


def counts(app: AppContext, run_id: int) -> tuple[int, int, int]:
    with app.db.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(table).where(table.c.run_id == run_id)).scalar_one()
                     for table in (orders, fills, daily_equity))


def stop_part_way(app: AppContext, after_days: int = 3) -> int:
    """Start the config paced, stop it once `after_days` days are recorded; the run id."""
    system = app.system
    status = system.start(config(speed=30_000))
    end = time.monotonic() + 60
    while system.status().day_index <= after_days:
        assert time.monotonic() < end, "the paced run did not get far enough"
        time.sleep(0.02)
    system.stop(10)
    return status.run_id


def test_a_stopped_run_resumes_to_the_uninterrupted_equity_to_the_cent(app: AppContext) -> None:
    system = app.system
    whole = system.run(config())
    reference = system.report(whole.run_id)[0].summary
    assert reference["days"] == DAYS

    run_id = stop_part_way(app)
    info, days = system.report(run_id)
    assert info.state == "stopped" and info.partial and 3 <= len(days) < DAYS

    resumed = system.run(None, resume=run_id)
    assert resumed.run_id == run_id
    info, days = system.report(run_id)
    assert info.state == "finished" and not info.partial and len(days) == DAYS
    assert round(info.summary["final_equity"], 2) == round(reference["final_equity"], 2)
    assert info.summary["trades"] == reference["trades"]
    assert info.summary["bars_total"] == reference["bars_total"]
    assert counts(app, run_id) == counts(app, whole.run_id)   # no order or fill twice, none lost
    with pytest.raises(StateError, match=f"cannot resume run {run_id}: it finished all {DAYS} day"):
        system.start(None, resume=run_id)


def test_an_interrupted_run_drops_its_unfinished_day_and_resumes(app: AppContext) -> None:
    """A process that died mid-day left that day's orders and fills (a mid-day flush) and no summary."""
    system = app.system
    whole = system.run(config())
    run_id = stop_part_way(app)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with app.db.begin() as conn:
        # what kill -9 leaves: no end state, no summary, no equity point for the day cut short (the stop's
        # final write put one there, in the transaction that ended the run), a dead owner
        done = conn.execute(select(runs.c.days_done).where(runs.c.id == run_id)).scalar_one()
        stored = [day for (day,) in conn.execute(select(daily_equity.c.day).where(daily_equity.c.run_id == run_id)
                                                 .order_by(daily_equity.c.day))]
        conn.execute(delete(daily_equity).where(daily_equity.c.run_id == run_id,
                                                daily_equity.c.day.in_(stored[done:])))
        last = stored[done - 1]
        conn.execute(update(runs).where(runs.c.id == run_id).values(state="running", summary=None, ended_at=None,
                                                                    owner_pid=dead.pid))
    info, days = system.report(run_id)          # reading it finds the owner gone
    assert info.state == "interrupted" and info.partial and days[-1].day == last
    assert info.summary["days"] == info.days_done == len(days) == done and "final_equity" in info.summary

    system.run(None, resume=run_id)
    info, days = system.report(run_id)
    reference = system.report(whole.run_id)[0].summary
    assert info.state == "finished" and len(days) == DAYS
    assert round(info.summary["final_equity"], 2) == round(reference["final_equity"], 2)
    assert counts(app, run_id) == counts(app, whole.run_id)


def test_a_changed_day_end_equity_fails_the_resume_naming_the_day(app: AppContext) -> None:
    system = app.system
    run_id = stop_part_way(app)
    with app.db.begin() as conn:
        second = conn.execute(select(daily_equity.c.day).where(daily_equity.c.run_id == run_id)
                              .order_by(daily_equity.c.day).offset(1).limit(1)).scalar()
        conn.execute(update(daily_equity).where(daily_equity.c.run_id == run_id, daily_equity.c.day == second)
                     .values(equity=daily_equity.c.equity + 0.01))
    with pytest.raises(MismarteraError, match=f"on {second} the replay ends with equity .* the run stored"):
        system.run(None, resume=run_id)
    assert system.history().run(run_id).state == "failed"
    assert counts(app, run_id)[2] >= 3          # the stored days are kept
