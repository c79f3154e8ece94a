"""The sweeps in the database: the `sweeps` row, and each point's run written by the parent process.

Workers hand their runs back as rows (`PointResult`); `SweepStore.write_point` inserts them into the
user's database in one transaction: the runs row (linked to the sweep by `sweep_id`), its orders
(client order ids renamed for the new run id, which they embed), fills pointing at the new order
ids, positions, daily equity, and the `sweep_points` row. Only the parent writes, so SQLite has one
writer however many workers run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from mismartera.data.database import Database
from mismartera.data.schema import daily_equity, fills, orders, positions, runs, sweep_points, sweeps
from mismartera.errors import MismarteraError, NotFound
from mismartera.suggest import suffix
from mismartera.sweep.point import FINISHED, PointResult
from mismartera.sweep.stored_rows import write_stored
from mismartera.system.recorder import FILL_KEYS, ORDER_KEYS, DriverStatement
from mismartera.timekeeping.clock import WallClock

WALL = WallClock()
FILL_COLUMNS = (*FILL_KEYS, "order_id")


@dataclass(frozen=True)
class SweepInfo:
    id: int
    kind: str
    session_name: str
    config: dict[str, Any]
    grid: dict[str, Any]
    engine: str
    metric: str
    state: str
    points_total: int
    created_at: datetime
    ended_at: datetime | None
    error: str | None

    @property
    def points(self) -> list[dict[str, Any]]:
        return list(self.grid.get("points", []))


@dataclass(frozen=True)
class PointRow:
    """A stored point with its run's summary (None for a failed point)."""

    point: int
    params: dict[str, Any]
    state: str
    run_id: int | None
    error: str | None
    seconds: float | None
    summary: dict[str, Any] | None
    window: int | None = None
    role: str | None = None


class SweepStore:
    """Reads and writes sweeps in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._statements: dict[str, DriverStatement] = {}

    # ------------------------------------------------------------------ sweeps
    def create(self, *, kind: str, session_name: str, config: dict[str, Any], grid: dict[str, Any], engine: str,
               metric: str, points_total: int) -> int:
        with self.db.begin() as conn:
            result = conn.execute(insert(sweeps).values(
                kind=kind, session_name=session_name, config=config, grid=grid, engine=engine, metric=metric,
                state="running", points_total=points_total, created_at=WALL.now()))
            key = result.inserted_primary_key
            if key is None:
                raise MismarteraError("the database gave no id for the new sweep")
            return int(key[0])

    def update(self, sweep_id: int, **values: Any) -> None:
        if values.get("state") in ("finished", "interrupted", "failed"):
            values.setdefault("ended_at", WALL.now())
        with self.db.begin() as conn:
            conn.execute(update(sweeps).where(sweeps.c.id == sweep_id).values(**values))

    def get(self, sweep_id: int) -> SweepInfo:
        with self.db.connect() as conn:
            row = conn.execute(select(sweeps).where(sweeps.c.id == sweep_id)).mappings().first()
            if row is None:
                known = [str(i) for i in conn.execute(select(sweeps.c.id).order_by(sweeps.c.id.desc()).limit(50))
                         .scalars()]
                hint = suffix(str(sweep_id), known) if known else ""
                raise NotFound(f"no sweep {sweep_id}{hint} (see: sweep list)")
        return SweepInfo(**dict(row))

    def recent(self, limit: int = 20) -> list[tuple[SweepInfo, int, int]]:
        """The latest sweeps, newest first, each with its finished and failed point counts."""
        with self.db.connect() as conn:
            rows = conn.execute(select(sweeps).order_by(sweeps.c.id.desc()).limit(limit)).mappings().all()
            out = []
            for row in rows:
                states = list(conn.execute(select(sweep_points.c.state).where(
                    sweep_points.c.sweep_id == row["id"])).scalars())
                out.append((SweepInfo(**dict(row)), states.count(FINISHED), len(states) - states.count(FINISHED)))
        return out

    # ------------------------------------------------------------------ points
    def finished_points(self, sweep_id: int) -> set[int]:
        with self.db.connect() as conn:
            return set(conn.execute(select(sweep_points.c.point).where(
                sweep_points.c.sweep_id == sweep_id, sweep_points.c.state == FINISHED)).scalars())

    def points(self, sweep_id: int) -> list[PointRow]:
        with self.db.connect() as conn:
            rows = conn.execute(
                select(sweep_points, runs.c.summary).select_from(
                    sweep_points.outerjoin(runs, runs.c.id == sweep_points.c.run_id))
                .where(sweep_points.c.sweep_id == sweep_id).order_by(sweep_points.c.point)).mappings().all()
        out = []
        for row in rows:
            params = dict(row["params"])
            window, role = params.pop("_window", None), params.pop("_role", None)
            out.append(PointRow(row["point"], params, row["state"], row["run_id"], row["error"], row["seconds"],
                                row["summary"], window, role))
        return out

    def write_point(self, sweep_id: int, result: PointResult, extra: dict[str, Any] | None = None) -> int | None:
        """Store a point's outcome; a finished point's run is written first. Returns the new run id."""
        params = {**result.params, **(extra or {})}
        with self.db.begin() as conn:
            run_id = self._write_run(conn, sweep_id, result) if result.state == FINISHED else None
            conn.execute(delete(sweep_points).where(sweep_points.c.sweep_id == sweep_id,
                                                    sweep_points.c.point == result.index))
            conn.execute(insert(sweep_points).values(
                sweep_id=sweep_id, point=result.index, run_id=run_id, params=params, state=result.state,
                error=result.error, seconds=result.seconds))
        return run_id

    def _write_run(self, conn: Any, sweep_id: int, result: PointResult) -> int:
        values = {k: v for k, v in result.run.items() if k != "id"}
        values["sweep_id"] = sweep_id
        run_id = int(conn.execute(insert(runs).values(**values)).inserted_primary_key[0])
        old_prefix, new_prefix = f"run{result.run['id']}-", f"run{run_id}-"

        def renamed(client_id: str) -> str:
            return new_prefix + client_id[len(old_prefix):] if client_id.startswith(old_prefix) else client_id

        if result.stored is not None and conn.dialect.name == "sqlite":
            write_stored(conn, result.stored, result.run["id"], run_id)
            return run_id
        client_of = {row["id"]: renamed(row["client_order_id"]) for row in result.orders}
        # Tens of thousands of rows a point: the recorder's compiled statements and the driver's
        # executemany, several times faster than Core's per-row handling.
        if result.orders:
            self._statement(conn, orders, ORDER_KEYS).run(
                conn, [{**row, "run_id": run_id, "client_order_id": client_of[row["id"]]} for row in result.orders])
        if result.fills:
            new_ids = {client: order_id for client, order_id in conn.execute(
                select(orders.c.client_order_id, orders.c.id).where(orders.c.run_id == run_id))}
            self._statement(conn, fills, FILL_COLUMNS).run(
                conn, [{**row, "run_id": run_id, "order_id": new_ids[client_of[row["order_id"]]]}
                       for row in result.fills])
        for table, rows in ((positions, result.positions), (daily_equity, result.daily)):
            if rows:
                self._statement(conn, table, tuple(c.name for c in table.c)).run(
                    conn, [{**row, "run_id": run_id} for row in rows])
        return run_id

    def _statement(self, conn: Any, table: Any, keys: tuple[str, ...]) -> DriverStatement:
        found = self._statements.get(table.name)
        if found is None:
            found = self._statements[table.name] = DriverStatement(insert(table), keys, table, conn)
        return found
