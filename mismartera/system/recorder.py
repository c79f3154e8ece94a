"""`RunRecorder`: writes a session to the database — its runs row, orders, fills, positions and daily equity.

Changes are collected as plain dicts on the coordinator's thread (copied out of the broker's
objects immediately) and written in batches: once per day and when a batch grows large, never per
bar and never through ORM objects. The batch inserts are statements compiled once for the
database's dialect and run through the driver's `executemany` with rows converted up front: the
per-row work SQLAlchemy's `execute` would repeat costs about as much as the insert itself, and a
year of minute bars makes tens of thousands of orders and fills. A fill finds its order's row id
in the insert itself (by the unique client order id), so orders need no RETURNING round trip.

The writes run on the recorder's own thread (`RecordWriter`): `flush`, `end_day` and `update_run`
hand the pending rows over as a job, in order, and return; `drain` waits for what was queued, and
`finish` drains, ends the thread and makes the final write itself. A failed write is raised by the
next call on the producer's side, so the session fails instead of losing rows.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from mismartera.data.database import Database
from mismartera.data.schema import daily_equity, fills, orders, positions, runs
from mismartera.execution.orders import FINAL_ORDER_STATUSES, Fill, Order
from mismartera.report.metrics import RunningReport
from mismartera.system.record_writer import DRAIN_TIMEOUT, RecorderError, RecordWriter, describe
from mismartera.system.rejections import RejectionTally
from mismartera.system.status import AccountView, FillView, OrderView
from mismartera.timekeeping.clock import WallClock

BATCH_ROWS = 5000
RECENT = 20
# Final orders and fills a session keeps in memory for the live views (the broker and `all_fills`);
# the database has them all, and the report is built as fills come, so memory stays flat.
KEEP_IN_MEMORY = 10_000
FINAL = frozenset(FINAL_ORDER_STATUSES)
WALL = WallClock()  # heartbeats and row update times are wall-clock instants


def _value(value: Any) -> Any:
    return value.value if hasattr(value, "value") and not isinstance(value, (int, float)) else value


ORDER_KEYS = ("run_id", "client_order_id", "broker_order_id", "symbol", "side", "quantity", "order_type",
              "limit_price", "stop_price", "time_in_force", "status", "filled_quantity", "average_fill_price",
              "strategy", "reason", "created_at", "updated_at")
UPDATE_KEYS = ("status", "filled_quantity", "average_fill_price", "reason", "updated_at")
FILL_KEYS = ("run_id", "symbol", "side", "quantity", "price", "commission", "filled_at")


class DriverStatement:
    """A Core statement compiled once for a dialect, run with the driver's `executemany`.

    Rows are dicts of plain values; each is converted with the columns' bind processors (a datetime
    becomes SQLite's text form, say) into what the driver takes: a tuple in the compiled order for
    positional drivers, a dict for named ones. The result is what `conn.execute(statement, rows)`
    stores, without its per-row bookkeeping.
    """

    def __init__(self, statement: Any, keys: tuple[str, ...], table: Table, conn: Connection) -> None:
        dialect = conn.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if self.positional else keys
        self.processors: list[tuple[str, Any]] = []
        for key in keys:
            column = table.c.get(key)
            process = column.type.dialect_impl(dialect).bind_processor(dialect) if column is not None else None
            if process is not None:
                self.processors.append((key, process))

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        processors = self.processors
        names = self.names
        params: list[Any] = []
        for row in rows:
            if processors:
                row = dict(row)
                for key, process in processors:
                    row[key] = process(row[key])
            params.append(tuple([row[name] for name in names]) if self.positional else row)
        conn.exec_driver_sql(self.sql, params)


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
        self._stored_open: set[int] = set()              # broker ids of open orders already written
        self._client_ids: dict[int, str] = {}            # broker id -> stored client order id, until final
        self._statements: dict[str, DriverStatement] = {}
        self.all_fills: deque[Fill] = deque(maxlen=KEEP_IN_MEMORY)
        self.running = RunningReport()
        self.rejections = RejectionTally()
        self.daily: list[tuple[date, float]] = []
        # The latest orders and fills as the broker reported them (copies nobody changes); turned into
        # views only when a status snapshot asks, not for each of the run's tens of thousands.
        self._recent_orders: deque[Order] = deque(maxlen=RECENT)
        self._recent_fills: deque[Fill] = deque(maxlen=RECENT)
        self.writer = RecordWriter("recorder")

    # ------------------------------------------------------------------ the runs row
    def open_run(self, session_name: str, mode: str, config: dict[str, Any], started_at: datetime,
                 days_total: int) -> int:
        with self.db.begin() as conn:
            result = conn.execute(insert(runs).values(
                session_name=session_name, mode=mode, config=config, state="starting", started_at=started_at,
                heartbeat_at=started_at, progress=0.0, days_done=0, days_total=days_total))
            key = result.inserted_primary_key
            if key is None:
                raise RecorderError("the database gave no id for the new run")
            self.run_id = int(key[0])
        self.writer.what = f"recorder of run {self.run_id}"
        return self.run_id

    def update_run(self, **values: Any) -> None:
        """Update the runs row, in order with the batches before it; a change of `state` is waited for
        (the lifecycle commands show it), a heartbeat is not."""
        if self.run_id is None:
            return
        values.setdefault("heartbeat_at", WALL.now())
        self.writer.submit(partial(self._write_run, values))
        if "state" in values:
            self.writer.drain()

    def _write_run(self, values: dict[str, Any]) -> None:
        with self.db.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == self.run_id).values(**values))

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait until everything handed to the writer so far is in the database (readers of a running
        session's rows call this first); raises RecorderError if a write failed or took too long."""
        self.writer.drain(timeout)

    # ------------------------------------------------------------------ collecting (coordinator thread)
    def collect(self, changed: list[Order], new_fills: list[Fill]) -> None:
        """Copy the broker's changed orders and new fills; written by the next `flush`."""
        now = WALL.now()
        run_id = self.run_id
        client_ids = self._client_ids
        pending = self._orders
        for order in changed:
            client_id = client_ids[order.id] = f"run{run_id}-{order.client_order_id}"
            if order.status == "rejected":
                self.rejections.add(order)
            # str() of a StrEnum member is its value, and a broker reporting plain strings passes them as they are
            pending[order.id] = {
                "run_id": run_id, "client_order_id": client_id, "broker_order_id": str(order.id),
                "symbol": order.symbol, "side": str(order.side), "quantity": order.quantity,
                "order_type": str(order.order_type), "limit_price": order.limit_price,
                "stop_price": order.stop_price, "time_in_force": str(order.time_in_force),
                "status": str(order.status), "filled_quantity": order.filled_quantity,
                "average_fill_price": order.average_fill_price, "strategy": order.strategy, "reason": order.reason,
                "created_at": order.created_at, "updated_at": order.updated_at or now,
            }
        self._recent_orders.extend(changed)
        rows = self._fills
        running = self.running
        for fill in new_fills:
            running.add_fill(fill)
            rows.append({"run_id": run_id, "symbol": fill.symbol, "side": str(fill.side), "quantity": fill.quantity,
                         "price": fill.price, "commission": fill.commission, "filled_at": fill.filled_at,
                         "b_client_order_id": client_ids[fill.order_id]})
        self.all_fills.extend(new_fills)
        self._recent_fills.extend(new_fills)

    @property
    def recent_orders(self) -> tuple[OrderView, ...]:
        """The latest orders changed, oldest change first, each order once with its latest status (read
        from other threads: the deque is copied first)."""
        latest: dict[int, Order] = {}
        for order in list(self._recent_orders):
            latest.pop(order.id, None)   # an order changed again moves to its latest place
            latest[order.id] = order
        return tuple(order_view(order) for order in latest.values())

    @property
    def recent_fills(self) -> tuple[FillView, ...]:
        return tuple(fill_view(fill) for fill in list(self._recent_fills))

    @property
    def pending(self) -> int:
        return len(self._orders) + len(self._fills)

    # ------------------------------------------------------------------ writing
    def _statement(self, conn: Connection, name: str) -> DriverStatement:
        statement = self._statements.get(name)
        if statement is None:
            if name == "orders":
                statement = DriverStatement(insert(orders), ORDER_KEYS, orders, conn)
            elif name == "updates":
                statement = DriverStatement(update(orders).where(
                    orders.c.client_order_id == bindparam("b_client_order_id")).values(
                    {key: bindparam(key) for key in UPDATE_KEYS}), (*UPDATE_KEYS, "b_client_order_id"), orders, conn)
            else:
                order_id = select(orders.c.id).where(
                    orders.c.client_order_id == bindparam("b_client_order_id")).scalar_subquery()
                statement = DriverStatement(insert(fills).values(order_id=order_id),
                                            (*FILL_KEYS, "b_client_order_id"), fills, conn)
            self._statements[name] = statement
        return statement

    def _take(self) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
        """Hand the pending orders and fills over (the writer gets these objects; new ones start empty)."""
        taken = self._orders, self._fills
        self._orders, self._fills = {}, []
        return taken

    def flush(self) -> None:
        """Queue the collected orders and fills for writing (one transaction)."""
        self.writer.check()
        if not self._orders and not self._fills:
            return
        self.writer.submit(partial(self._write_flush, *self._take()))

    def _write_flush(self, pending: dict[int, dict[str, Any]], new_fills: list[dict[str, Any]]) -> None:
        with self.db.begin() as conn:
            self._write_batch(conn, pending, new_fills)

    def _write_batch(self, conn: Connection, pending: dict[int, dict[str, Any]],
                     new_fills: list[dict[str, Any]]) -> None:
        """Write a batch of orders and then their fills (on the writer's thread, or in `finish`).

        Each order is written once when a batch first sees it (final or still open) and updated
        only if it was still open then; its fills follow it in the same transaction.
        """
        finished: list[int] = []
        if pending:
            stored = self._stored_open
            new: list[dict[str, Any]] = []
            old: list[dict[str, Any]] = []
            for bid, row in pending.items():
                final = row["status"] in FINAL
                if final:
                    finished.append(bid)
                if bid in stored:
                    old.append({**{key: row[key] for key in UPDATE_KEYS},
                                "b_client_order_id": row["client_order_id"]})
                    if final:
                        stored.discard(bid)
                else:
                    new.append(row)
                    if not final:
                        stored.add(bid)
            if new:
                self._statement(conn, "orders").run(conn, new)
            if old:
                self._statement(conn, "updates").run(conn, old)
        if new_fills:
            self._statement(conn, "fills").run(conn, new_fills)
        # A final order changes no more and its fills are written: the producer never looks its
        # client id up again (a fill comes with or before its order's final state), so dropping it
        # here, on the writer's thread, races with nothing.
        client_ids = self._client_ids
        for bid in finished:
            client_ids.pop(bid, None)

    def end_day(self, day: date, account: AccountView, trades: int, progress: float, days_done: int,
                sim_time: datetime) -> None:
        """Queue the day's equity row, the positions, pending orders/fills and the run's progress (written
        in one transaction)."""
        self.writer.check()
        self.rejections.end_day(day)
        self.daily.append((day, account.equity))
        self.running.add_day(day, account.equity)
        pending, new_fills = self._take()
        self.writer.submit(partial(self._write_day, pending, new_fills, day, account, trades, progress, days_done,
                                   sim_time, WALL.now()))

    def _write_day(self, pending: dict[int, dict[str, Any]], new_fills: list[dict[str, Any]], day: date,
                   account: AccountView, trades: int, progress: float, days_done: int, sim_time: datetime,
                   now: datetime) -> None:
        with self.db.begin() as conn:
            self._write_batch(conn, pending, new_fills)
            self._write_equity(conn, day, account, trades)
            self._write_positions(conn, account, now)
            conn.execute(update(runs).where(runs.c.id == self.run_id).values(
                progress=progress, days_done=days_done, sim_time=sim_time, heartbeat_at=now))

    def _write_equity(self, conn: Connection, day: date, account: AccountView, trades: int) -> None:
        conn.execute(insert(daily_equity).values(
            run_id=self.run_id, day=day, equity=account.equity, cash=account.cash,
            positions_value=account.equity - account.cash, realized_pnl=account.realized_pnl,
            unrealized_pnl=account.unrealized_pnl, trades=trades))

    def _write_positions(self, conn: Any, account: AccountView, now: datetime) -> None:
        conn.execute(delete(positions).where(positions.c.run_id == self.run_id))
        rows = [{"run_id": self.run_id, "symbol": p.symbol, "quantity": p.quantity, "average_price": p.average_price,
                 "realized_pnl": p.realized_pnl, "last_price": p.last_price, "updated_at": now}
                for p in account.positions]
        if rows:
            conn.execute(insert(positions), rows)

    def finish(self, state: str, *, account: AccountView | None = None, summary: dict[str, Any] | None = None,
               error: str | None = None, ended_at: datetime | None = None, partial_day: date | None = None,
               trades: int = 0) -> None:
        """Final write, after the writer has written everything queued and stopped: pending
        orders/fills, positions, and the run's end state and summary. With `partial_day` (a session
        that failed in the middle of a day) the account as it stood is also that day's equity row.

        If a queued write failed, the rows after it cannot be stored: the runs row alone records the
        failure, and the writer's error is raised unless an earlier call raised it already.
        """
        if self.run_id is None:
            return
        failure: RecorderError | None = None
        try:
            self.writer.close()
        except RecorderError as exc:
            if not self.writer.failed:   # still writing after the deadline: nothing more is safe to write
                raise
            failure = exc
        now = WALL.now()
        values: dict[str, Any] = {"state": state, "ended_at": ended_at or now, "heartbeat_at": now}
        if summary is not None:
            values["summary"] = summary
        if error is not None:
            values["error"] = error
        lost = self.writer.error
        if lost is not None:
            values["state"] = "failed"
            values.setdefault("error", f"{self.writer.what}: database write failed: {describe(lost)}")
        with self.db.begin() as conn:
            if lost is None:
                self._write_batch(conn, *self._take())
                if account is not None:
                    self._write_positions(conn, account, now)
                    if partial_day is not None and not (self.daily and self.daily[-1][0] >= partial_day):
                        self.daily.append((partial_day, account.equity))
                        self._write_equity(conn, partial_day, account, trades)
            conn.execute(update(runs).where(runs.c.id == self.run_id).values(**values))
        if failure is not None:
            raise failure
