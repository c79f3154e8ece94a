"""`RunHistory`: reads stored runs back — the runs row, orders, fills, positions, daily equity.

`account …` and `system report` use it when no session is live (the last run), and for any past
run by id. Core selects only; rows come back as the same view types the live session shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import func, select

from mismartera.data.database import Database
from mismartera.data.schema import daily_equity, fills, orders, positions, runs
from mismartera.errors import NotFound, UsageError
from mismartera.execution.orders import OPEN_ORDER_STATUSES
from mismartera.system.status import AccountView, FillView, OrderView, PositionView


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


class RunHistory:
    def __init__(self, db: Database) -> None:
        self.db = db

    def run(self, run_id: int | None = None) -> RunInfo:
        """A run by id, or the latest one; NotFound when there is none."""
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
                       row["summary"], row["config"] or {}, _aware(row["heartbeat_at"]))

    def recent(self, limit: int = 20) -> list[RunInfo]:
        """The latest `limit` runs, newest first."""
        with self.db.connect() as conn:
            ids = list(conn.execute(select(runs.c.id).order_by(runs.c.id.desc()).limit(limit)).scalars())
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
