"""Open the database: engine factory (SQLite in WAL mode, or any SQLAlchemy URL) and migrations.

`Database(url)` creates the engine lazily; `Database.ensure_schema()` applies Alembic migrations
when the schema is behind (on first use, and by `mismartera db upgrade`).

Waiting on the database is bounded everywhere (`DatabaseSettings`):

- SQLite: every write transaction (`Database.begin`) starts with `BEGIN IMMEDIATE`, so it takes the
  write lock before it reads anything (a deferred transaction that read first can fail at once when
  another writer committed in between). Taking the lock is retried, with a growing pause, for
  `busy_timeout_seconds`; past that the write fails with one line naming the other writer when it is
  known (long writers such as `data import-file` leave a note next to the database, `writing_as`).
- PostgreSQL: a connect timeout, a server-side statement timeout, a lock timeout and TCP keepalives.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from mismartera.config.settings import DatabaseSettings, mask_url
from mismartera.data import schema
from mismartera.data.waits import aborting
from mismartera.errors import ConfigError, MismarteraError

HEAD_REVISION = "0002_i16_bar_versions"
_MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class DatabaseInfo:
    url: str
    dialect: str
    revision: str | None
    head: str
    row_counts: dict[str, int]


# Each try to take SQLite's write lock waits this long inside SQLite (its own busy handler), then
# mismartera pauses a little longer each time before the next try, up to `busy_timeout_seconds`.
SQLITE_TRY_MS = 250
PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
_NOTES_SUFFIX = ".writers"


class DatabaseLocked(MismarteraError):
    """Another writer held SQLite's write lock for longer than `busy_timeout_seconds`."""


class DatabaseUnavailable(MismarteraError):
    """The database failed under a statement: unreachable, not answering, disk full, I/O error."""


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn the driver's operational errors (not a bad statement's) into one line naming the database."""
    try:
        yield
    except OperationalError as exc:
        if not _resource_failure(exc):
            raise
        raise DatabaseUnavailable(describe_failure(url, exc)) from exc


_RESOURCE_WORDS = ("disk is full", "no space left", "disk i/o", "unable to open", "readonly database",
                   "server", "connection", "timeout", "did not answer", "terminat")


def _resource_failure(exc: OperationalError) -> bool:
    """The database or its machine failed (as opposed to a statement being wrong)."""
    text = str(exc.orig).lower()
    return bool(exc.connection_invalidated) or any(word in text for word in _RESOURCE_WORDS)


def describe_failure(url: str, exc: BaseException) -> str:
    """One line for an operational database error: no SQL, no parameters."""
    inner = getattr(exc, "orig", None) or exc
    first = (str(inner).strip().splitlines() or [type(inner).__name__])[0]
    if "disk is full" in first or "No space left" in first:
        return "disk full while writing the database (the transaction was rolled back: nothing half-written)"
    return f"the database {mask_url(url)} failed: {first}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # No implicit transactions in the driver: SQLAlchemy's "begin" event below issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_TRY_MS}")
    cursor.close()


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _sqlite_begin(conn: Connection, busy_timeout: float, notes: Path | None) -> None:
    """BEGIN (reads) or BEGIN IMMEDIATE (`Database.begin`), taking the write lock with retries."""
    if not conn.get_execution_options().get("mismartera_write", False):
        conn.exec_driver_sql("BEGIN")
        return
    deadline = time.monotonic() + busy_timeout
    tries = 0
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if exc.orig is None or not _is_locked(exc.orig):
                raise
        if time.monotonic() >= deadline or aborting.is_set():
            who = other_writers(notes)
            by = f" ({who})" if who else ""
            if aborting.is_set():
                raise DatabaseLocked(f"gave up waiting for the database lock held by another writer{by} "
                                     "(the process is stopping)")
            raise DatabaseLocked(f"the database stayed locked for {busy_timeout:g} s by another writer{by}")
        time.sleep(min(PAUSES[min(tries, len(PAUSES) - 1)], max(0.0, deadline - time.monotonic())))
        tries += 1


def _notes_dir(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().with_name(Path(parsed.database).name + _NOTES_SUFFIX)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def other_writers(notes: Path | None) -> str:
    """`pid 4242: data import-file` for each live process (not this one) that left a writer's note."""
    if notes is None or not notes.is_dir():
        return ""
    found = []
    with suppress(OSError):
        for note in sorted(notes.iterdir()):
            with suppress(ValueError, OSError):
                pid = int(note.name)
                if pid != os.getpid() and _alive(pid):
                    found.append(f"pid {pid}: {note.read_text(encoding='utf-8').strip()[:80]}")
    return ", ".join(found)


def _postgres_args(options: DatabaseSettings) -> dict:
    keepalive = max(1, round(options.keepalive_seconds))
    statement_ms = max(1, round(options.statement_timeout_seconds * 1000))
    return {
        "connect_timeout": max(1, round(options.connect_timeout_seconds)),
        "keepalives": 1,
        "keepalives_idle": keepalive,
        "keepalives_interval": max(1, keepalive // 3),
        "keepalives_count": 3,
        # unacknowledged data: the connection is dropped when the host stops answering
        "tcp_user_timeout": statement_ms,
        "options": f"-c statement_timeout={statement_ms} -c lock_timeout={statement_ms} "
                   f"-c idle_in_transaction_session_timeout={statement_ms * 2}",
    }


def create_db_engine(url: str, options: DatabaseSettings | None = None) -> Engine:
    """An engine for `url`; SQLite files get WAL mode, foreign keys and bounded lock waits,
    PostgreSQL gets connect and statement timeouts and TCP keepalives."""
    options = options or DatabaseSettings()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"invalid database URL '{mask_url(url)}' (expected e.g. sqlite:///path/to.db)") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"check_same_thread": False,
                                                         "timeout": SQLITE_TRY_MS / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
            notes = _notes_dir(url)
            event.listen(engine, "begin",
                         lambda conn: _sqlite_begin(conn, options.busy_timeout_seconds, notes))
        elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                   pool_timeout=options.connect_timeout_seconds,
                                   connect_args=_postgres_args(options))
            if parsed.get_driver_name() == "psycopg":
                from mismartera.data.postgres import bounded_connector

                # the server's statement timeout, then a few seconds for the answer to arrive
                event.listen(engine, "do_connect", bounded_connector(options.statement_timeout_seconds + 2))
        else:
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except NoSuchModuleError:
        raise ConfigError(f"unsupported database URL '{mask_url(url)}'") from None
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the driver for '{parsed.get_backend_name()}' is not installed ({exc.name}); "
            "for PostgreSQL: pip install 'mismartera[postgres]'"
        ) from None
    return engine


@contextmanager
def _write_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, write_transaction(conn):
        yield conn


@contextmanager
def write_transaction(conn: Connection) -> Iterator[Connection]:
    """A write transaction on a connection that has none open (SQLite: the write lock first, see
    `Database.begin`); committed on success, rolled back on any exception."""
    conn.execution_options(mismartera_write=True)
    try:
        with conn.begin():
            yield conn
    finally:
        conn.execution_options(mismartera_write=False)


class Database:
    """One database: its engine, made on first use, and its migrations."""

    def __init__(self, url: str, options: DatabaseSettings | None = None) -> None:
        self.url = url
        self.options = options or DatabaseSettings()
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._schema_ok = False

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = create_db_engine(self.url, self.options)
        if not self._schema_ok:
            self.ensure_schema()
        return self._engine

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    def current_revision(self) -> str | None:
        engine = self._engine or create_db_engine(self.url, self.options)
        self._engine = engine
        try:
            with engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError as exc:
            first = (str(exc.orig).strip().splitlines() or ["failed"])[0]
            raise DatabaseUnavailable(f"cannot open database {mask_url(self.url)}: {first}") from None

    def ensure_schema(self) -> bool:
        """Apply pending migrations. Returns True when anything was applied."""
        with self._lock:
            if self._schema_ok:
                return False
            applied = False
            if self.current_revision() != HEAD_REVISION:
                self._upgrade()
                applied = True
            self._schema_ok = True
            return applied

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        assert self._engine is not None
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with _write_transaction(self._engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a write transaction: committed on success, rolled back on any exception.

        On SQLite the write lock is taken first (waiting up to `busy_timeout_seconds` for another
        writer); `DatabaseLocked` when it cannot be had."""
        with database_errors(self.url), _write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def writing_as(self, what: str) -> Iterator[None]:
        """Leave a note (`pid: what`) next to a SQLite database while a long write runs, so that a
        writer kept waiting can say who holds the lock."""
        notes = _notes_dir(self.url)
        note = None if notes is None else notes / str(os.getpid())
        if notes is not None and note is not None:
            with suppress(OSError):
                notes.mkdir(exist_ok=True)
                note.write_text(what, encoding="utf-8")
        try:
            yield
        finally:
            if note is not None:
                with suppress(OSError):
                    note.unlink()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with database_errors(self.url), self.engine.connect() as conn:
            yield conn

    def info(self) -> DatabaseInfo:
        counts = {}
        with self.connect() as conn:
            for table in schema.metadata.sorted_tables:
                counts[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
        return DatabaseInfo(
            url=mask_url(self.url),
            dialect=self.dialect,
            revision=self.current_revision(),
            head=HEAD_REVISION,
            row_counts=counts,
        )

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
