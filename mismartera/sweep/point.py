"""One sweep point, run in a worker: a full backtest through `SystemManager`, as `system start` runs it.

The worker gives the manager an app of its own: bars from the sweep's columns (`ColumnBarSource`),
and a scratch SQLite database in a temporary directory where the run recorder writes the run as it
always does. When the session ends, the run's rows (runs, orders, fills, positions, daily equity)
are read back from the scratch database into a `PointResult` and deleted there; the parent process
writes them into the user's database. So workers never write the user's database (one writer for
SQLite) and need no access to it (a Ray node cannot see a laptop's file).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from mismartera.config.session import SessionConfig
from mismartera.config.settings import AlpacaSettings, Settings
from mismartera.data.bar_store import BarStore
from mismartera.data.database import Database
from mismartera.data.schema import daily_equity, fills, orders, positions, runs
from mismartera.errors import MismarteraError, WaitTimeout
from mismartera.sweep.columns import BarColumns, ColumnBarSource
from mismartera.sweep.stored_rows import read_stored
from mismartera.system.manager import SystemManager
from mismartera.timekeeping.calendar import TimeManager

WAIT_STEP = 0.25   # seconds between checks of the stop request while a point runs

FINISHED, FAILED, INTERRUPTED = "finished", "failed", "interrupted"


@dataclass(frozen=True)
class PointTask:
    """What a worker needs to run one point: its index in the sweep, its params and full config."""

    index: int
    params: dict[str, Any]
    config: dict[str, Any]
    calendar_cache: str | None = None   # the session table file, when the worker can read it
    stored_rows: bool = False           # hand the rows back as SQLite stores them (the parent's is SQLite)


@dataclass
class PointResult:
    """A point's outcome and, when finished, its run's rows as read from the scratch database."""

    index: int
    params: dict[str, Any]
    state: str
    error: str | None = None
    seconds: float = 0.0
    run: dict[str, Any] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    stored: dict[str, list[tuple]] | None = None   # instead of the four lists above: `stored_rows`

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.run.get("summary") or {})

    def light(self) -> PointResult:
        """The outcome without its rows (what the parent keeps once they are written)."""
        return PointResult(self.index, self.params, self.state, self.error, self.seconds,
                           {"summary": self.run.get("summary")} if self.run else {})


@dataclass
class PointApp:
    """What `SystemManager` needs of an app: a database, bars, the calendar and the settings (a sweep's
    points trade through the simulated broker, which needs none of the settings' keys)."""

    db: Database
    bars: Any
    time: TimeManager
    settings: Settings

    def open_bar_cache(self) -> None:
        """No replay cache: a point replays the bars it was handed, from its scratch database."""
        return None


class _Scratch:
    """The worker process's scratch database and calendar, made on its first point."""

    def __init__(self, calendar_cache: str | None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="mismartera-sweep-"))
        atexit.register(shutil.rmtree, self.directory, True)
        self.db = Database(f"sqlite:///{self.directory / 'scratch.db'}")
        self.store = BarStore(self.db)
        self.time = TimeManager(cache_path=Path(calendar_cache) if calendar_cache else None)
        # a point needs no keys or endpoints (it trades through the simulated broker): settings of its own
        self.settings = Settings(home=None, data_dir=self.directory, state_dir=self.directory,
                                 config_dir=self.directory, db_url=self.db.url, log_level="WARNING",
                                 alpaca=AlpacaSettings(), settings_file=self.directory / "settings.toml")


_SCRATCH: _Scratch | None = None


def quiet_worker_logging() -> None:
    """Worker processes log nowhere (the parent reports each point's outcome); without a handler
    Python would print warnings to the worker's stderr, i.e. over the parent's progress bar."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


def scratch(calendar_cache: str | None) -> _Scratch:
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = _Scratch(calendar_cache)
    return _SCRATCH


def run_point(task: PointTask, columns: BarColumns, should_stop: Callable[[], bool] = lambda: False
              ) -> PointResult:
    """Run one point to its end (or until `should_stop()`), returning its rows or its error."""
    began = time.perf_counter()
    place = scratch(task.calendar_cache)
    manager = SystemManager(PointApp(place.db, ColumnBarSource(columns, place.store), place.time, place.settings))
    try:
        manager.start(SessionConfig.model_validate(task.config))
        while True:
            try:
                manager.wait(WAIT_STEP)
                break
            except WaitTimeout:
                if should_stop():
                    manager.stop()
                    return PointResult(task.index, task.params, INTERRUPTED, "interrupted",
                                       time.perf_counter() - began)
    except MismarteraError as exc:
        return PointResult(task.index, task.params, FAILED, str(exc), time.perf_counter() - began)
    except Exception as exc:
        logging.getLogger("mismartera.sweep").exception("point %d failed", task.index)
        return PointResult(task.index, task.params, FAILED, f"{type(exc).__name__}: {exc}",
                           time.perf_counter() - began)
    result = PointResult(task.index, task.params, FINISHED, seconds=time.perf_counter() - began)
    if manager.run_id is not None:
        _take_rows(place.db, manager.run_id, result, task.stored_rows)
    return result


def _take_rows(db: Database, run_id: int, result: PointResult, stored: bool) -> None:
    """Copy the run's rows out of the scratch database, then delete them there."""
    with db.begin() as conn:
        result.run = dict(conn.execute(select(runs).where(runs.c.id == run_id)).mappings().one())
        if stored:
            result.stored = read_stored(conn, run_id)
        for name, table, key in () if stored else (("orders", orders, orders.c.id), ("fills", fills, fills.c.id),
                                 ("positions", positions, positions.c.symbol),
                                 ("daily", daily_equity, daily_equity.c.day)):
            rows = conn.execute(select(table).where(table.c.run_id == run_id).order_by(key)).mappings()
            setattr(result, name, [dict(row) for row in rows])
        for table in (fills, orders, positions, daily_equity):
            conn.execute(delete(table).where(table.c.run_id == run_id))
        conn.execute(delete(runs).where(runs.c.id == run_id))
    if result.run.get("state") != FINISHED:
        result.state = FAILED
        result.error = result.run.get("error") or f"the run ended {result.run.get('state')}"
