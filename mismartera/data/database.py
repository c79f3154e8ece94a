"""Open the database: engine factory (SQLite in WAL mode, or any SQLAlchemy URL) and migrations.

`Database(url)` creates the engine lazily; `Database.ensure_schema()` applies Alembic migrations
when the schema is behind (on first use, and by `mismartera db upgrade`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from mismartera.config.settings import mask_url
from mismartera.data import schema
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL mode, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"invalid database URL '{mask_url(url)}' (expected e.g. sqlite:///path/to.db)") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
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


class Database:
    """One database: its engine, made on first use, and its migrations."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._schema_ok = False

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = create_db_engine(self.url)
        if not self._schema_ok:
            self.ensure_schema()
        return self._engine

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    def current_revision(self) -> str | None:
        engine = self._engine or create_db_engine(self.url)
        self._engine = engine
        try:
            with engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError as exc:
            raise MismarteraError(f"cannot open database {mask_url(self.url)}: {exc.orig}") from None

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
        with self._engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction: committed on success, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def info(self) -> DatabaseInfo:
        engine = self.engine
        counts = {}
        with engine.connect() as conn:
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
