"""The shell's persistent history (prompt_toolkit's file format) with secrets masked before a line is
kept, in memory or on disk: what Up-arrow and Ctrl-R find is exactly what the file holds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.history import FileHistory

from mismartera.files import make_private, os_error_line

log = logging.getLogger("mismartera.cli")


class MaskedFileHistory(FileHistory):
    """A `FileHistory` that passes every new line through `mask` first; the file is 0600. When it
    cannot be written (disk full), one warning says so and the shell goes on without it."""

    def __init__(self, path: Path, mask: Callable[[str], str]) -> None:
        super().__init__(str(path))
        self._mask = mask
        self._broken = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            make_private(path)
        except OSError as exc:
            self._broken = True
            log.warning("%s; the history is kept in memory only", os_error_line(exc, "opening", path))

    def load_history_strings(self):  # type: ignore[no-untyped-def]
        try:
            yield from super().load_history_strings()
        except OSError as exc:
            log.warning("%s; starting with an empty history", os_error_line(exc, "reading", str(self.filename)))

    def append_string(self, string: str) -> None:
        super().append_string(self._mask(string))

    def store_string(self, string: str) -> None:
        if self._broken:
            return
        try:
            super().store_string(string)
        except OSError as exc:
            self._broken = True
            log.warning("%s; the history is kept in memory only", os_error_line(exc, "writing", str(self.filename)))


def read_history(path: Path) -> list[str]:
    """The lines in the history file, oldest first (empty when there is no file yet)."""
    if not path.is_file():
        return []
    return list(reversed(list(FileHistory(str(path)).load_history_strings())))
