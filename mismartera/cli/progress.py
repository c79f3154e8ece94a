"""Progress for long commands: a rich progress bar (with rate) in a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


class RichProgress:
    def __init__(self, console: Console, description: str, total: float | None, unit: str) -> None:
        # rich.progress (its table, spinners, live display) is imported by the first long command only
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._unit = unit
        self._start = time.perf_counter()
        self._task = self._progress.add_task(description, total=total, rate="")
        self._progress.start()

    def _rate(self) -> str:
        elapsed = time.perf_counter() - self._start
        done = self._progress.tasks[0].completed
        return f"{done / elapsed:,.0f} {self._unit}/s" if elapsed > 0 else ""

    def advance(self, amount: float = 1) -> None:
        self._progress.update(self._task, advance=amount, rate=self._rate())

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        # rich leaves a field alone when it is None
        self._progress.update(self._task, completed=completed, total=total, description=description,
                              rate=self._rate())

    def close(self) -> None:
        self._progress.stop()

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlainProgress:
    """A line every `every` seconds on stderr, so logs of scripts and cron jobs show movement."""

    def __init__(self, description: str, total: float | None, unit: str, every: float = 5.0) -> None:
        self.description, self.total, self.unit, self.every = description, total, unit, every
        self.done = 0.0
        self._start = self._last = time.perf_counter()

    def _maybe_print(self) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            of = f"/{self.total:,.0f}" if self.total else ""
            rate = self.done / (now - self._start) if now > self._start else 0
            print(f"{self.description}: {self.done:,.0f}{of} {self.unit} ({rate:,.0f} {self.unit}/s)",
                  file=sys.stderr, flush=True)

    def advance(self, amount: float = 1) -> None:
        self.done += amount
        self._maybe_print()

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        if completed is not None:
            self.done = completed
        if total is not None:
            self.total = total
        if description is not None:
            self.description = description
        self._maybe_print()

    def close(self) -> None:
        pass

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_factory(console: Console) -> Callable[..., RichProgress | PlainProgress]:
    """What `AppContext.progress` calls: a rich bar on a terminal, plain lines elsewhere."""

    def make(description: str, total: float | None = None, unit: str = "rows") -> RichProgress | PlainProgress:
        if console.is_terminal:
            return RichProgress(console, description, total, unit)
        return PlainProgress(description, total, unit)

    return make
