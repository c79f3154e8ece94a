"""Finding the process that owns the session of a data home: a small discovery file in the state dir.

The owner (a shell, a script, `system start --wait`, `mismartera serve`) claims the file when its
session starts and removes it when the session ends or the process exits; a `serve` host keeps it
for its whole life. The file says where the owner's control API listens; the API's bearer token is
in a file of its own beside it. Both are written atomically (a temporary file, then a link or a
rename) with mode 0600, so a reader never sees half a file and nobody else can read the token.

A file whose pid is gone (the owner crashed or was killed) is stale: `find_owner` removes it, with
the token file, and reports its run so the caller can mark it as not running any more.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mismartera.system.owner import pid_alive

RECORD_FILE = "session.json"
TOKEN_FILE = "api-token"
FILE_MODE = 0o600


@dataclass(frozen=True)
class OwnerRecord:
    """What the discovery file says about the owner of the session."""

    pid: int
    host: str                 # the machine's name (a pid means nothing on another machine)
    kind: str                 # "shell", "script", "one-shot", "serve"
    started_at: str           # ISO-8601, UTC: when the process became the owner
    api_host: str = "127.0.0.1"
    port: int | None = None   # None while the API server is still starting
    run_id: int | None = None

    @property
    def api_url(self) -> str | None:
        if self.port is None:
            return None
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host
        return f"http://{host}:{self.port}"

    @property
    def where(self) -> str:
        """`pid 4242 (shell)`, plus the machine when it is another one."""
        there = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid} ({self.kind}){there}"

    def with_changes(self, **changes: Any) -> OwnerRecord:
        return replace(self, **changes)

    def same_owner(self, other: OwnerRecord) -> bool:
        """The same owner (its run id may have changed since)."""
        return self.with_changes(run_id=None) == other.with_changes(run_id=None)


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD_FILE


def token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE


def _write_private(folder: Path, text: str) -> Path:
    """A new 0600 file in `folder` holding `text`; returns its path. (Not fsynced: the file describes a
    running process, and a machine that loses power loses the process too.)"""
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", text=True)
    try:
        os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def write_atomically(path: Path, text: str, *, exclusive: bool = False) -> bool:
    """Write `path` whole or not at all (mode 0600). With `exclusive`, only when it does not exist yet:
    returns False (and writes nothing) when another writer got there first."""
    temporary = _write_private(path.parent, text)
    try:
        if exclusive:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
        else:
            os.replace(temporary, path)
            temporary = None  # type: ignore[assignment]
        return True
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def read_record(state_dir: Path) -> OwnerRecord | None:
    """The discovery file's record, or None when there is none (or it is not a record at all)."""
    try:
        data = json.loads(record_path(state_dir).read_text(encoding="utf-8"))
        return OwnerRecord(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        return None


def claim(state_dir: Path, record: OwnerRecord) -> OwnerRecord | None:
    """Become the owner: write the record unless another owner's record is there. Returns None on
    success, else the other owner's record (stale records are removed first by `find_owner`)."""
    while True:
        if write_atomically(record_path(state_dir), json.dumps(asdict(record)), exclusive=True):
            return None
        other = read_record(state_dir)
        if other is None:
            # Unreadable (or removed in between): a half-dead file from an old version; take it over.
            with contextlib.suppress(FileNotFoundError):
                record_path(state_dir).unlink()
            continue
        if other.same_owner(record):
            update(state_dir, record)
            return None
        return other


def update(state_dir: Path, record: OwnerRecord) -> None:
    """Rewrite our own record (a new port or run id)."""
    write_atomically(record_path(state_dir), json.dumps(asdict(record)))


def release(state_dir: Path, pid: int | None = None) -> None:
    """Remove the discovery file if it is ours (`pid`, default this process)."""
    pid = os.getpid() if pid is None else pid
    record = read_record(state_dir)
    if record is not None and record.pid == pid and record.host == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            record_path(state_dir).unlink()


def is_alive(record: OwnerRecord) -> bool:
    """A record of another machine cannot be checked here: it is taken as alive."""
    return record.host != socket.gethostname() or pid_alive(record.pid)


def find_owner(state_dir: Path, on_stale: Callable[[OwnerRecord], None] | None = None) -> OwnerRecord | None:
    """The live owner's record, or None. A stale record (its pid is gone) is removed with the token
    file, and handed to `on_stale` (which marks its run as not running any more)."""
    record = read_record(state_dir)
    if record is None:
        return None
    if is_alive(record):
        return record
    for path in (record_path(state_dir), token_path(state_dir)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if on_stale is not None:
        on_stale(record)
    return None


def write_token(state_dir: Path, token: str) -> Path:
    """Store the API token (mode 0600, replacing any older one)."""
    path = token_path(state_dir)
    write_atomically(path, token + "\n")
    return path


def read_token(state_dir: Path) -> str | None:
    try:
        return token_path(state_dir).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def remove_token(state_dir: Path, token: str) -> None:
    """Remove the token file if it still holds our token."""
    if read_token(state_dir) == token:
        with contextlib.suppress(FileNotFoundError):
            token_path(state_dir).unlink()
