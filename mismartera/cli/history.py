"""The shell's persistent history (prompt_toolkit's file format) with secrets masked before a line is
kept, in memory or on disk: what Up-arrow and Ctrl-R find is exactly what the file holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.history import FileHistory


class MaskedFileHistory(FileHistory):
    """A `FileHistory` that passes every new line through `mask` first."""

    def __init__(self, path: Path, mask: Callable[[str], str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(str(path))
        self._mask = mask

    def append_string(self, string: str) -> None:
        super().append_string(self._mask(string))


def read_history(path: Path) -> list[str]:
    """The lines in the history file, oldest first (empty when there is no file yet)."""
    if not path.is_file():
        return []
    return list(reversed(list(FileHistory(str(path)).load_history_strings())))
