"""Migration 0002_i17_sweeps: up from 0001 keeps the runs, adds sweeps, sweep_points and runs.sweep_id; down
removes them again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from mismartera.data.database import HEAD_REVISION, Database

MIGRATIONS = Path(__file__).resolve().parents[2] / "mismartera" / "data" / "migrations"


def _alembic(db: Database, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def test_sweeps_migration_up_and_down(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.ensure_schema()
    assert db.current_revision() == HEAD_REVISION
    _alembic(db, "downgrade", "0001")
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert "sweeps" not in tables and "sweep_points" not in tables
        assert "sweep_id" not in {c["name"] for c in inspect(conn).get_columns("runs")}
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO runs (session_name, mode, config, state, started_at, progress, days_done, "
                          "days_total) VALUES ('kept', 'backtest', '{}', 'finished', '2024-01-02 00:00:00', 1, 1, 1)"))
    _alembic(db, "upgrade", "head")
    with db.engine.connect() as conn:
        assert {"sweeps", "sweep_points"} <= set(inspect(conn).get_table_names())
        assert conn.execute(text("SELECT session_name, sweep_id FROM runs")).all() == [("kept", None)]
    db.dispose()
