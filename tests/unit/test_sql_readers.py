"""`mismartera.data.sql_readers`: which reader a database URL gets, and the SQLite file reader
handing over to the `Database` when the file cannot answer (no schema yet)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mismartera.data import analytics
from mismartera.data.database import Database
from mismartera.data.sql_readers import (
    DatabaseReader,
    PreferFile,
    SqliteFileReader,
    Unanswered,
    reader_for,
    sqlite_file,
)
from mismartera.errors import NotFound
from mismartera.timekeeping.calendar import TimeManager


def test_only_an_existing_sqlite_file_is_read_directly(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    assert sqlite_file(f"sqlite:///{path}") is None            # not made yet
    sqlite3.connect(path).close()
    assert sqlite_file(f"sqlite:///{path}") == path
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://u@h/db") is None
    assert sqlite_file(f"sqlite:///{path}?mode=ro") is None    # options: leave it to SQLAlchemy


def test_a_file_without_the_schema_hands_over_to_the_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    url = f"sqlite:///{path}"
    with pytest.raises(Unanswered, match="no such table"):
        SqliteFileReader(path).rows("SELECT MAX(ts) FROM bars")
    built: list[Database] = []

    def database() -> Database:
        built.append(Database(url))
        return built[-1]

    reader = reader_for(url, database)
    assert isinstance(reader, PreferFile)
    try:
        with pytest.raises(NotFound, match="no 1m bars stored for 'AAPL'"):
            analytics.latest_day(reader, TimeManager(), "AAPL")
        assert len(built) == 1                                   # the Database made the schema
        assert SqliteFileReader(path).rows('SELECT COUNT(*) FROM bars') == [(0,)]
    finally:
        for db in built:
            db.dispose()


def test_the_file_is_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sqlite3.connect(path).close()
    with pytest.raises(Unanswered, match="readonly"):
        SqliteFileReader(path).rows("CREATE TABLE t (x)")


def test_other_databases_go_through_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not-yet.db'}"
    db = Database(url)
    try:
        assert isinstance(reader_for(url, lambda: db), DatabaseReader)
    finally:
        db.dispose()
