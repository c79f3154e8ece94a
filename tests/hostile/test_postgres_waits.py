"""Issue 15, point 2: PostgreSQL never keeps mismartera waiting: a server that accepts and never
answers fails the connect, a frozen backend fails the statement (client-side deadline), a slow
statement is cancelled by the server; each is one line."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from mismartera.config.settings import DatabaseSettings
from mismartera.data.database import Database, DatabaseUnavailable

pytest.importorskip("psycopg")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word (a frozen postmaster)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_fails_the_connect_within_its_timeout(silent_server: int) -> None:
    url = f"postgresql+psycopg://u:secret@127.0.0.1:{silent_server}/db"
    db = Database(url, DatabaseSettings(connect_timeout_seconds=1))
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as caught:
        db.info()
    assert time.monotonic() - started < 5
    assert str(caught.value).startswith(f"cannot open database postgresql+psycopg://u:***@127.0.0.1:{silent_server}/db:")
    assert "\n" not in str(caught.value) and "secret" not in str(caught.value)


def test_a_stopped_backend_times_out_on_its_own_connection(postgres_url: str) -> None:
    db = Database(postgres_url, DatabaseSettings(statement_timeout_seconds=1))
    db.ensure_schema()
    with pytest.raises(DatabaseUnavailable) as caught, db.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        try:
            os.kill(pid, signal.SIGSTOP)
        except PermissionError:
            pytest.skip("the PostgreSQL server runs as a user this test cannot signal")
        started = time.monotonic()
        try:
            conn.execute(text("SELECT 1"))
        finally:
            os.kill(pid, signal.SIGCONT)
            assert time.monotonic() - started < 6
    assert "the database server did not answer (no answer within 3 s)" in str(caught.value)
    db.dispose()


def test_a_slow_statement_is_cancelled_by_the_server_with_one_line(postgres_url: str) -> None:
    db = Database(postgres_url, DatabaseSettings(statement_timeout_seconds=1))
    with pytest.raises(DatabaseUnavailable) as caught, db.connect() as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    assert "canceling statement due to statement timeout" in str(caught.value)
    assert "\n" not in str(caught.value) and "SELECT" not in str(caught.value)
    db.dispose()
