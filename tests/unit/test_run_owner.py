"""Issue 14, point 1: each runs row names its owner (pid, host, process start time); a run claiming to
be active whose owner is gone becomes `interrupted` when runs are read, with its completed days kept."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, update

from mismartera.data.database import Database
from mismartera.data.schema import daily_equity, runs
from mismartera.system.owner import host_name, owner_gone, process_started, this_process
from mismartera.system.recorder import RunRecorder
from mismartera.system.runs import RunHistory, mark_interrupted

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def open_run(database: Database, state: str = "running", days: int = 0) -> int:
    recorder = RunRecorder(database)
    run_id = recorder.open_run("owner", "backtest", {}, NOW, 10)
    with database.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(state=state))
        for day in range(days):
            conn.execute(insert(daily_equity).values(run_id=run_id, day=date(2024, 11, 4 + day), equity=100.0 + day,
                                                     cash=100.0, positions_value=day, realized_pnl=0.0,
                                                     unrealized_pnl=0.0, trades=0))
    return run_id


def set_owner(database: Database, run_id: int, **values) -> None:
    with database.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(**values))


def state_of(database: Database, run_id: int) -> tuple[str, int, str | None]:
    with database.connect() as conn:
        row = conn.execute(select(runs.c.state, runs.c.days_done, runs.c.error).where(runs.c.id == run_id)).one()
    return row.state, row.days_done, row.error


def test_a_run_records_this_process_as_its_owner(database: Database) -> None:
    database.ensure_schema()
    run_id = open_run(database)
    info = RunHistory(database).run(run_id)
    assert (info.owner_pid, info.owner_host) == (os.getpid(), host_name())
    assert info.state == "running"   # its owner (this process) is alive: left alone
    if sys.platform.startswith("linux"):
        assert this_process().started == process_started(os.getpid()) is not None


def test_runs_of_a_dead_process_become_interrupted_with_their_completed_days(database: Database) -> None:
    database.ensure_schema()
    alive = open_run(database)
    dead = open_run(database, "running", days=3)
    paused = open_run(database, "paused", days=1)
    stopped = open_run(database, "stopped", days=2)
    gone = dead_pid()
    for run_id in (dead, paused, stopped):
        set_owner(database, run_id, owner_pid=gone, days_done=1)

    runs_read = RunHistory(database).recent()          # reading runs finds them
    states = {info.id: (info.state, info.days_done) for info in runs_read}
    assert states[alive] == ("running", 0)
    assert states[dead] == ("interrupted", 3)          # days_done = the stored days, not the stale counter
    assert states[paused] == ("interrupted", 1)
    assert states[stopped] == ("stopped", 1)           # an ended run is never touched
    error = state_of(database, dead)[2]
    assert f"process {gone} on {host_name()}" in error and f"system start --resume {dead}" in error
    assert mark_interrupted(database) == []            # idempotent


def test_a_reused_pid_is_not_the_owner(database: Database) -> None:
    """The pid is alive (this test's own), but the process started at another time."""
    database.ensure_schema()
    run_id = open_run(database)
    me = this_process()
    if me.started is None:
        return   # no /proc: the pid alone decides (covered above)
    set_owner(database, run_id, owner_started=me.started - 1)
    assert mark_interrupted(database) == [run_id]


def test_another_hosts_run_is_interrupted_only_after_60s_without_heartbeat(database: Database) -> None:
    database.ensure_schema()
    fresh = open_run(database)
    stale = open_run(database)
    set_owner(database, fresh, owner_host="elsewhere", owner_pid=1, heartbeat_at=NOW - timedelta(seconds=30))
    set_owner(database, stale, owner_host="elsewhere", owner_pid=1, heartbeat_at=NOW - timedelta(seconds=61))
    assert mark_interrupted(database, now=NOW) == [stale]
    assert state_of(database, fresh)[0] == "running"


def test_owner_gone_rules() -> None:
    me = this_process()
    assert not owner_gone(me.pid, me.host, me.started, None, NOW)
    assert owner_gone(dead_pid(), me.host, None, NOW, NOW)
    assert owner_gone(None, None, None, None, NOW)                  # a row without owner nor heartbeat
    assert not owner_gone(None, None, None, NOW - timedelta(seconds=5), NOW)
