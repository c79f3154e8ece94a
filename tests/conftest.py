"""Shared fixtures: a private MISMARTERA_HOME for the whole run, databases (SQLite always,
PostgreSQL when MISMARTERA_TEST_DATABASE_URL is set), and `run_cli` for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("MISMARTERA_TEST_DATABASE_URL")


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test touches the developer's real data, state or settings."""
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("MISMARTERA_HOME", "MISMARTERA_DB_URL")}
    os.environ["MISMARTERA_HOME"] = str(home)
    os.environ.pop("MISMARTERA_DB_URL", None)
    for key in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "ALPACA_BASE_URL", "ALPACA_DATA_URL", "ALPACA_STREAM_URL",
                "ALPACA_TRADING_STREAM_URL"):
        os.environ.pop(key, None)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need MISMARTERA_TEST_DATABASE_URL (bash .ci/run starts a server)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = "mm_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from sqlalchemy import create_engine as _ce

        _ce(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on SQLite and (when available) PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


@pytest.fixture
def database(db_url: str) -> Iterator:
    from mismartera.data.database import Database

    db = Database(db_url)
    yield db
    db.dispose()


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    home = tmp_path / "mmhome"
    home.mkdir()
    return home


@pytest.fixture
def example_bars(cli_home: Path) -> Path:
    """Demo 1-minute bars for config/example_session.json (AAPL, MSFT, 2024-11-25..29) in cli_home's
    database, written through the same seeding code as `mismartera demo`. Returns cli_home."""
    from datetime import date

    from mismartera.data.bar_store import BarStore
    from mismartera.data.database import Database
    from mismartera.data.demo import seed_demo
    from mismartera.timekeeping.calendar import TimeManager

    (cli_home / "data").mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{cli_home / 'data' / 'mismartera.db'}")
    try:
        seed_demo(BarStore(db), TimeManager(), ["AAPL", "MSFT"], date(2024, 11, 25), 4, 7)
    finally:
        db.dispose()
    return cli_home


@pytest.fixture
def run_cli(cli_home: Path):
    """Run the real `mismartera` program in a subprocess with a private home; returns CliResult."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120,
            cwd: Path | None = None) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
        full_env.update({"MISMARTERA_HOME": str(cli_home), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
        # the package is not installed in development: a run from another folder finds it here
        full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "mismartera", *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=cwd or ROOT,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
