"""Read-only SQL on the database's own driver, for queries written once as plain SQL that SQLite and
PostgreSQL both accept (the market queries of `mismartera.data.analytics`).

Two readers answer `rows(sql, params)`, with `?` as the parameter mark in the SQL:

- `DatabaseReader` runs it on a connection of the process's `Database` (SQLAlchemy's engine, any
  dialect: the mark is changed to the driver's own);
- `SqliteFileReader` opens an existing SQLite file read-only with the standard library's `sqlite3`,
  which spares a one-shot query SQLAlchemy's import and the schema check (about 0.25 s of a 0.5 s
  `mismartera data high-low`). A file it cannot answer from (no schema yet, locked past its timeout,
  unreadable) raises `Unanswered`, and the caller asks the `Database` instead, which creates or
  upgrades the schema and words every database failure in one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from mismartera.data.database import Database

BUSY_TIMEOUT_S = 10.0   # a reader waits this long for a writer's checkpoint (WAL readers rarely wait)


class Unanswered(Exception):
    """The SQLite file could not answer (ask the `Database`)."""


class SqlReader(Protocol):
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class DatabaseReader:
    """Plain SQL on a connection of `db` (its dialect's parameter style)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.db.dialect != "sqlite":
            sql = sql.replace("%", "%%").replace("?", "%s")   # psycopg's format style
        with self.db.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql, tuple(params)).all()]


class SqliteFileReader:
    """Plain SQL on an existing SQLite file, opened read-only (never created, never written)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        uri = f"file:{quote(str(self.path))}?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise Unanswered(str(exc)) from None
        try:
            return connection.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise Unanswered(str(exc)) from None
        finally:
            connection.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL when it exists (None for other databases, memory, or a file
    not made yet)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    name = url[len(prefix):]
    if not name or name == ":memory:":
        return None
    path = Path(name).expanduser()
    return path if path.is_file() else None


class PreferFile:
    """The SQLite file while it can answer; once it cannot, the `Database` (built on first need by
    `database`) for this query and every later one."""

    def __init__(self, path: Path, database: Callable[[], Database]) -> None:
        self.file = SqliteFileReader(path)
        self.database = database
        self._fallback: DatabaseReader | None = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._fallback is None:
            try:
                return self.file.rows(sql, params)
            except Unanswered:
                self._fallback = DatabaseReader(self.database())
        return self._fallback.rows(sql, params)


def reader_for(url: str, database: Callable[[], Database]) -> SqlReader:
    """How to read the database at `url`: its SQLite file directly when there is one, else `database()`."""
    path = sqlite_file(url)
    return PreferFile(path, database) if path is not None else DatabaseReader(database())
