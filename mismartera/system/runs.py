"""`RunHistory`: reads stored runs back — the runs row, orders, fills, positions, daily equity.

`account …` and `system report` use it when no session is live (the last run), and for any past
run by id. Core selects only; rows come back as the same view types the live session shows.

Before runs are read, `mark_interrupted` sets every run that claims to be active (starting, running,
paused, stopping) but whose owning process is gone (`mismartera.system.owner`) to `interrupted`,
keeping its completed days: nothing stays `running` without a live owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import func, select, update

from mismartera.data.database import Database
from mismartera.data.schema import daily_equity, fills, orders, positions, runs
from mismartera.errors import NotFound, UsageError
from mismartera.execution.orders import OPEN_ORDER_STATUSES
from mismartera.system.owner import owner_gone
from mismartera.system.status import AccountView, FillView, OrderView, PositionView
from mismartera.timekeeping.clock import WallClock

ACTIVE_STATES = ("starting", "running", "paused", "stopping")   # a run row claiming a live owner
INTERRUPTED = "interrupted"
RESUMABLE_STATES = (INTERRUPTED, "stopped", "failed")            # `system start --resume` continues these
_WALL = WallClock()


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC, so say so."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunInfo:
    id: int
    session_name: str
    mode: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    progress: float
    days_done: int
    days_total: int
    sim_time: datetime | None
    error: str | None
    summary: dict[str, Any] | None
    config: dict[str, Any]
    heartbeat_at: datetime | None = None
    owner_pid: int | None = None
    owner_host: str | None = None
    order_prefix: str | None = None

    @property
    def days_stored(self) -> int:
        """Completed days: the summary's count when there is one, else the runs row's."""
        days = (self.summary or {}).get("days")
        return int(days) if isinstance(days, int) else self.days_done

    @property
    def partial(self) -> bool:
        """The run covers less than its window (interrupted, stopped or failed part-way)."""
        return self.state != "finished" and self.days_stored < self.days_total

    @property
    def initial_cash(self) -> float:
        return float(self.config.get("trading_config", {}).get("initial_cash", 0.0))


@dataclass(frozen=True)
class DailyRow:
    day: date
    equity: float
    cash: float
    positions_value: float
    realized_pnl: float
    unrealized_pnl: float
    trades: int


def mark_interrupted(db: Database, now: datetime | None = None) -> list[int]:
    """Set every active run whose owner is gone to `interrupted`; returns their ids.

    `days_done` becomes the number of completed (stored) days and `ended_at` the last heartbeat. The
    update only lands while the row still names the same owner, so a run another process has just
    taken over (`system start --resume`) is left alone.
    """
    now = now or _WALL.now()
    with db.connect() as conn:
        rows = conn.execute(select(runs.c.id, runs.c.owner_pid, runs.c.owner_host, runs.c.owner_started,
                                   runs.c.heartbeat_at).where(runs.c.state.in_(ACTIVE_STATES))).all()
    gone = [row for row in rows if owner_gone(row.owner_pid, row.owner_host, row.owner_started,
                                              _aware(row.heartbeat_at), now)]
    marked = []
    for row in gone:
        who = f"process {row.owner_pid} on {row.owner_host}" if row.owner_pid is not None else "its process"
        with db.begin() as conn:
            done = conn.execute(select(func.count()).select_from(daily_equity)
                                .where(daily_equity.c.run_id == row.id)).scalar_one()
            owner_match = (runs.c.owner_pid.is_(None) if row.owner_pid is None else runs.c.owner_pid == row.owner_pid)
            result = conn.execute(update(runs).where(runs.c.id == row.id, runs.c.state.in_(ACTIVE_STATES),
                                                     owner_match).values(
                state=INTERRUPTED, days_done=done, ended_at=row.heartbeat_at or now,
                error=f"interrupted: {who} ended without stopping the run (last heartbeat "
                      f"{_when(_aware(row.heartbeat_at))}); continue it with: system start --resume {row.id}"))
        if result.rowcount:
            marked.append(row.id)
    return marked


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "never"


class RunHistory:
    def __init__(self, db: Database, reap: bool = True) -> None:
        self.db = db
        self._reap = reap

    def reap(self) -> list[int]:
        """Mark runs whose owner is gone as interrupted (once per RunHistory); their ids."""
        if not self._reap:
            return []
        self._reap = False
        return mark_interrupted(self.db)

    def run(self, run_id: int | None = None) -> RunInfo:
        """A run by id, or the latest one; NotFound when there is none."""
        self.reap()
        with self.db.connect() as conn:
            if run_id is None:
                run_id = conn.execute(select(func.max(runs.c.id))).scalar()
                if run_id is None:
                    raise NotFound("no runs yet (start one with: system start config/example_session.json --wait)")
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            if row is None:
                latest = conn.execute(select(func.max(runs.c.id))).scalar()
                hint = f"the latest run is {latest}" if latest is not None else "there are no runs yet"
                raise NotFound(f"run {run_id} not found ({hint})")
        return RunInfo(row["id"], row["session_name"], row["mode"], row["state"], _aware(row["started_at"]),
                       _aware(row["ended_at"]), row["progress"], row["days_done"], row["days_total"],
                       _aware(row["sim_time"]), row["error"],
                       row["summary"], row["config"] or {}, _aware(row["heartbeat_at"]), row["owner_pid"],
                       row["owner_host"], row["order_prefix"])

    def recent(self, limit: int = 20) -> list[RunInfo]:
        """The latest `limit` runs, newest first."""
        self.reap()
        with self.db.connect() as conn:
            ids = list(conn.execute(select(runs.c.id).order_by(runs.c.id.desc()).limit(limit)).scalars())
        return [self.run(run_id) for run_id in ids]

    def last_live(self, trade_api: str) -> RunInfo | None:
        """The latest live run that traded through `trade_api` (alpaca_paper, alpaca_live), if any."""
        self.reap()
        with self.db.connect() as conn:
            rows = conn.execute(select(runs.c.id, runs.c.config).where(runs.c.mode == "live")
                                .order_by(runs.c.id.desc()).limit(50)).all()
        for row in rows:
            if ((row.config or {}).get("api_config") or {}).get("trade_api") == trade_api:
                return self.run(row.id)
        return None

    def interrupted(self, limit: int = 3) -> list[RunInfo]:
        """The latest interrupted runs (found now or before), newest first."""
        self.reap()
        with self.db.connect() as conn:
            ids = list(conn.execute(select(runs.c.id).where(runs.c.state == INTERRUPTED)
                                    .order_by(runs.c.id.desc()).limit(limit)).scalars())
        return [self.run(run_id) for run_id in ids]

    def orders(self, run_id: int, status: str | None = None) -> list[OrderView]:
        statement = select(orders).where(orders.c.run_id == run_id).order_by(orders.c.id)
        if status == "open":
            statement = statement.where(orders.c.status.in_(OPEN_ORDER_STATUSES))
        elif status is not None:
            statement = statement.where(orders.c.status == status)
        with self.db.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        return [OrderView(int(r["broker_order_id"] or r["id"]), r["symbol"], r["side"], r["quantity"],
                          r["order_type"], r["limit_price"], r["stop_price"], r["time_in_force"], r["status"],
                          r["filled_quantity"], r["average_fill_price"], _aware(r["created_at"]), r["strategy"],
                          r["reason"])
                for r in rows]

    def fills(self, run_id: int) -> list[FillView]:
        statement = (select(fills, orders.c.broker_order_id).join(orders, orders.c.id == fills.c.order_id)
                     .where(fills.c.run_id == run_id).order_by(fills.c.id))
        with self.db.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        return [FillView(int(r["broker_order_id"] or r["order_id"]), r["symbol"], r["side"], r["quantity"], r["price"],
                         r["commission"], _aware(r["filled_at"])) for r in rows]

    def daily(self, run_id: int) -> list[DailyRow]:
        statement = select(daily_equity).where(daily_equity.c.run_id == run_id).order_by(daily_equity.c.day)
        with self.db.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        return [DailyRow(r["day"], r["equity"], r["cash"], r["positions_value"], r["realized_pnl"],
                         r["unrealized_pnl"], r["trades"]) for r in rows]

    def account(self, run_id: int) -> AccountView:
        """The account at the run's last recorded day (initial cash when no day was recorded)."""
        info = self.run(run_id)
        with self.db.connect() as conn:
            held = conn.execute(select(positions).where(positions.c.run_id == run_id)
                                .order_by(positions.c.symbol)).mappings().all()
        views = []
        for p in held:
            last = p["last_price"]
            value = p["quantity"] * (last if last is not None else p["average_price"])
            unrealized = (last - p["average_price"]) * p["quantity"] if last is not None else 0.0
            views.append(PositionView(p["symbol"], p["quantity"], p["average_price"], last, value, unrealized,
                                      p["realized_pnl"]))
        days = self.daily(run_id)
        if not days:
            cash = info.initial_cash
            return AccountView(cash, cash, cash, cash, 0.0, 0.0, tuple(views))
        last_day = days[-1]
        return AccountView(info.initial_cash, last_day.cash, last_day.equity, last_day.cash, last_day.realized_pnl,
                           last_day.unrealized_pnl, tuple(views))


ACTIVE_STATES = ("starting", "running", "paused", "stopping")


def mark_not_running(db: Database, run_id: int, reason: str, *, now: datetime | None = None) -> bool:
    """A run whose owner process is gone (its discovery file is stale) is not running any more: an
    active runs row becomes `interrupted` with `reason` as its error, resumable like any run
    `mark_interrupted` finds. Returns True when a row was changed."""
    when = now or WallClock().now()
    with db.begin() as conn:
        changed = conn.execute(update(runs).where(runs.c.id == run_id, runs.c.state.in_(ACTIVE_STATES))
                               .values(state=INTERRUPTED, error=reason, ended_at=when)).rowcount
    return bool(changed)


def write_report_csv(path: str, info: RunInfo, days: list[DailyRow]) -> int:
    """The run's daily equity curve as CSV (one row per day, metrics in a header comment). Returns rows."""
    import csv

    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"--csv {path} is a folder (expected a file name like report.csv)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["run_id", "day", "equity", "cash", "positions_value", "realized_pnl",
                             "unrealized_pnl", "trades"])
            for row in days:
                writer.writerow([info.id, row.day.isoformat(), f"{row.equity:.2f}", f"{row.cash:.2f}",
                                 f"{row.positions_value:.2f}", f"{row.realized_pnl:.2f}",
                                 f"{row.unrealized_pnl:.2f}", row.trades])
    except OSError as exc:
        raise UsageError(f"--csv {path}: cannot write: {exc.strerror or exc}") from None
    return len(days)
