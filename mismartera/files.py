"""Private files and folders: what mismartera writes about its user (history, log, state, tokens).

- `private_dir(path)`: a folder only its owner can enter (0700), made if missing.
- `write_private(path, text)`: a 0600 file written whole or not at all (a temporary file in the same
  folder, flushed to disk, then renamed over `path`), for token and discovery files.
- `open_private(path, mode)`: open a file that is created 0600 (and narrowed to 0600 if it exists),
  for files that are appended to, such as the shell history and the log.
- `os_error_line(exc, action, path)`: one line for an OSError, saying what was being done and
  where ("disk full while writing …", "permission denied: cannot create …").
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Make `path` (and its parents) if missing; the folder itself is narrowed to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    found = path.stat()
    if found.st_mode & 0o077 and found.st_uid == os.geteuid():
        path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` as a 0600 file, atomically: a reader sees the old file or the new one,
    never a part; a failure (disk full) leaves the old file and no temporary behind."""
    folder = path.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, PRIVATE_FILE)  # mkstemp makes 0600 already; say it, whatever the umask
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def open_private(path: Path, mode: str = "a", **kwargs: Any) -> IO[Any]:
    """`open(path, mode)` for a file that must be 0600: created so, or narrowed to it."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    handle = os.open(path, flags, PRIVATE_FILE)
    try:
        if stat.S_ISREG(os.fstat(handle).st_mode):  # never a device such as /dev/null
            os.fchmod(handle, PRIVATE_FILE)
    except OSError:
        pass
    return os.fdopen(handle, mode, **kwargs)


def make_private(path: Path) -> None:
    """Create `path` empty as 0600 if missing, or narrow an existing file to 0600."""
    open_private(path, "a").close()


def os_error_line(exc: OSError, action: str, path: Path | str) -> str:
    """One line for an OSError: `disk full while writing PATH`, `permission denied: cannot read PATH`…"""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full while {action} {path} (nothing was half-written; free some space and retry)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied while {action} {path}"
    if exc.errno == errno.ENOTDIR:
        return f"cannot use {path}: a part of the path is a file (expected a folder)"
    if exc.errno == errno.EEXIST:
        return f"cannot use {path}: it exists and is not a folder"
    reason = exc.strerror or type(exc).__name__
    return f"{reason.lower()} while {action} {path}"
