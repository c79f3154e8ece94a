"""`RunRecorder`: writes a session to the database — its runs row, orders, fills, positions and daily equity.

Changes are collected as plain dicts on the coordinator's thread (copied out of the broker's
objects immediately) and written in batches with Core `executemany` inserts: once per day and
when a batch grows large, never per bar and never through ORM objects.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, update

from mismartera.data.database import Database
from mismartera.data.schema import daily_equity, fills, orders, positions, runs
from mismartera.execution.orders import Fill, Order
from mismartera.report.metrics import RunningReport
from mismartera.system.status import AccountView, FillView, OrderView
from mismartera.timekeeping.clock import WallClock

BATCH_ROWS = 5000
RECENT = 20
# Final orders and fills a session keeps in memory for the live views (the broker and `all_fills`);
# the database has them all, and the report is built as fills come, so memory stays flat.
KEEP_IN_MEMORY = 10_000
FINAL = frozenset(("filled", "cancelled", "expired", "rejected"))
WALL = WallClock()  # heartbeats and row update times are wall-clock instants


def _value(value: Any) -> Any:
    return value.value if hasattr(value, "value") and not isinstance(value, (int, float)) else value


def order_view(order: Order) -> OrderView:
    return OrderView(order.id, order.symbol, str(_value(order.side)), order.quantity, str(_value(order.order_type)),
                     order.limit_price, order.stop_price, str(_value(order.time_in_force)),
                     str(_value(order.status)), order.filled_quantity, order.average_fill_price, order.created_at,
                     order.strategy, order.reason)


def fill_view(fill: Fill) -> FillView:
    return FillView(fill.order_id, fill.symbol, str(_value(fill.side)), fill.quantity, fill.price, fill.commission,
                    fill.filled_at)


class RunRecorder:
    """The database side of one run."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.run_id: int | None = None
        self._orders: dict[int, dict[str, Any]] = {}    # broker id -> latest row, not yet written
        self._fills: list[dict[str, Any]] = []
        self._db_ids: dict[int, int] = {}                # broker id -> orders.id
        self.all_fills: deque[Fill] = deque(maxlen=KEEP_IN_MEMORY)
        self.running = RunningReport()
        self.daily: list[tuple[date, float]] = []
        self.recent_orders: deque[OrderView] = deque(maxlen=RECENT)
        self.recent_fills: deque[FillView] = deque(maxlen=RECENT)

    # ------------------------------------------------------------------ the runs row
    def open_run(self, session_name: str, mode: str, config: dict[str, Any], started_at: datetime,
                 days_total: int) -> int:
        with self.db.begin() as conn:
            result = conn.execute(insert(runs).values(
                session_name=session_name, mode=mode, config=config, state="starting", started_at=started_at,
                heartbeat_at=started_at, progress=0.0, days_done=0, days_total=days_total))
            self.run_id = int(result.inserted_primary_key[0])
        return self.run_id

    def update_run(self, **values: Any) -> None:
        if self.run_id is None:
            return
        values.setdefault("heartbeat_at", WALL.now())
        with self.db.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == self.run_id).values(**values))

    # ------------------------------------------------------------------ collecting (coordinator thread)
    def collect(self, changed: list[Order], new_fills: list[Fill]) -> None:
        """Copy the broker's changed orders and new fills; written by the next `flush`."""
        now = WALL.now()
        for order in changed:
            view = order_view(order)
            self.recent_orders.append(view)
            self._orders[order.id] = {
                "run_id": self.run_id, "client_order_id": f"run{self.run_id}-{order.client_order_id}",
                "broker_order_id": str(order.id), "symbol": order.symbol, "side": view.side,
                "quantity": order.quantity, "order_type": view.order_type, "limit_price": order.limit_price,
                "stop_price": order.stop_price, "time_in_force": view.time_in_force, "status": view.status,
                "filled_quantity": order.filled_quantity, "average_fill_price": order.average_fill_price,
                "strategy": order.strategy, "reason": order.reason, "created_at": order.created_at,
                "updated_at": order.updated_at or now,
            }
        for fill in new_fills:
            self.all_fills.append(fill)
            self.running.add_fill(fill)
            self.recent_fills.append(fill_view(fill))
            self._fills.append({"run_id": self.run_id, "broker_id": fill.order_id, "symbol": fill.symbol,
                                "side": str(_value(fill.side)), "quantity": fill.quantity, "price": fill.price,
                                "commission": fill.commission, "filled_at": fill.filled_at})

    @property
    def pending(self) -> int:
        return len(self._orders) + len(self._fills)

    # ------------------------------------------------------------------ writing
    def flush(self, conn: Any = None) -> None:
        """Write collected orders and fills (one transaction unless `conn` is given)."""
        if conn is None:
            with self.db.begin() as own:
                self.flush(own)
            return
        final = [bid for bid, row in self._orders.items() if row["status"] in FINAL]
        if self._orders:
            new = [row for bid, row in self._orders.items() if bid not in self._db_ids]
            old = [{"b_id": self._db_ids[bid], **{k: row[k] for k in (
                "status", "filled_quantity", "average_fill_price", "reason", "updated_at")}}
                for bid, row in self._orders.items() if bid in self._db_ids]
            if new:
                # RETURNING gives each new row's id in the order sent: no search of the run's orders
                # afterwards (that search scanned every order of the run, on every flush).
                found = conn.execute(insert(orders).returning(orders.c.id, sort_by_parameter_order=True), new)
                for row, (db_id,) in zip(new, found, strict=True):
                    self._db_ids[int(row["broker_order_id"])] = int(db_id)
            if old:
                conn.execute(update(orders).where(orders.c.id == bindparam("b_id")).values(
                    status=bindparam("status"), filled_quantity=bindparam("filled_quantity"),
                    average_fill_price=bindparam("average_fill_price"), reason=bindparam("reason"),
                    updated_at=bindparam("updated_at")), old)
            self._orders.clear()
        if self._fills:
            rows = []
            for fill in self._fills:
                row = dict(fill)
                row["order_id"] = self._db_ids[row.pop("broker_id")]
                rows.append(row)
            conn.execute(insert(fills), rows)
            self._fills.clear()
        for bid in final:   # a final order changes no more and its fills are written: forget its id
            self._db_ids.pop(bid, None)

    def end_day(self, day: date, account: AccountView, trades: int, progress: float, days_done: int,
                sim_time: datetime) -> None:
        """The day's equity row, the positions, pending orders/fills and the run's progress, in one transaction."""
        self.daily.append((day, account.equity))
        self.running.add_day(day, account.equity)
        now = WALL.now()
        with self.db.begin() as conn:
            self.flush(conn)
            conn.execute(insert(daily_equity).values(
                run_id=self.run_id, day=day, equity=account.equity, cash=account.cash,
                positions_value=account.equity - account.cash, realized_pnl=account.realized_pnl,
                unrealized_pnl=account.unrealized_pnl, trades=trades))
            self._write_positions(conn, account, now)
            conn.execute(update(runs).where(runs.c.id == self.run_id).values(
                progress=progress, days_done=days_done, sim_time=sim_time, heartbeat_at=now))

    def _write_positions(self, conn: Any, account: AccountView, now: datetime) -> None:
        conn.execute(delete(positions).where(positions.c.run_id == self.run_id))
        rows = [{"run_id": self.run_id, "symbol": p.symbol, "quantity": p.quantity, "average_price": p.average_price,
                 "realized_pnl": p.realized_pnl, "last_price": p.last_price, "updated_at": now}
                for p in account.positions]
        if rows:
            conn.execute(insert(positions), rows)

    def finish(self, state: str, *, account: AccountView | None = None, summary: dict[str, Any] | None = None,
               error: str | None = None, ended_at: datetime | None = None) -> None:
        """Final write: pending orders/fills, positions, and the run's end state and summary."""
        if self.run_id is None:
            return
        now = WALL.now()
        with self.db.begin() as conn:
            self.flush(conn)
            if account is not None:
                self._write_positions(conn, account, now)
            values: dict[str, Any] = {"state": state, "ended_at": ended_at or now, "heartbeat_at": now}
            if summary is not None:
                values["summary"] = summary
            if error is not None:
                values["error"] = error
            conn.execute(update(runs).where(runs.c.id == self.run_id).values(**values))
