"""`AppContext`: what every command handler gets — settings, database, bar store, time manager,
the system manager — each built on first use, plus the two things a handler may ask of the user
interface (a progress reporter and a yes/no confirmation), injected by `mismartera.cli`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mismartera.config.settings import Settings

if TYPE_CHECKING:
    from mismartera.data.bar_cache import BarCache
    from mismartera.data.bar_store import BarStore
    from mismartera.data.database import Database
    from mismartera.timekeeping.calendar import TimeManager


class Progress(Protocol):
    """A progress reporter for long commands (rich bar in a terminal, plain lines otherwise)."""

    def advance(self, amount: float = 1) -> None: ...

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    def advance(self, amount: float = 1) -> None:
        pass

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ProgressFactory = Callable[..., Any]  # (description: str, total: float | None, unit: str) -> Progress
Confirm = Callable[[str], bool]


class AppContext:
    """Shared state of one mismartera process (a REPL, a script run or a one-shot command)."""

    def __init__(self, settings: Settings, *, interactive: bool = False,
                 progress: ProgressFactory | None = None, confirm: Confirm | None = None) -> None:
        self.settings = settings
        self.interactive = interactive
        self._progress = progress
        self._confirm = confirm
        self._lock = threading.RLock()
        self._db: Database | None = None
        self._bars: BarStore | None = None
        self._time: TimeManager | None = None
        self._system: Any = None
        self.extras: dict[str, Any] = {}

    # ------------------------------------------------------------------ lazily built parts
    @property
    def db(self) -> Database:
        with self._lock:
            if self._db is None:
                from mismartera.data.database import Database

                self.settings.ensure_dirs()
                self._db = Database(self.settings.db_url)
            return self._db

    @property
    def bars(self) -> BarStore:
        with self._lock:
            if self._bars is None:
                from mismartera.data.bar_store import BarStore

                self._bars = BarStore(self.db)
            return self._bars

    def open_bar_cache(self, force: bool = False) -> BarCache | None:
        """A new handle on this database's columnar replay cache (one per replay, so each starts by
        checking the database's versions), or None when the setting or --no-cache switched it off
        (`force`: the handle even then, for `data cache`)."""
        if not (self.settings.bar_cache or force):
            return None
        from mismartera.data.bar_cache import BarCache

        return BarCache(self.bars, self.settings.data_dir / "bar_cache")

    @property
    def time(self) -> TimeManager:
        """The calendar; its clock is the running session's clock when there is one."""
        with self._lock:
            if self._time is None:
                from mismartera.timekeeping.calendar import TimeManager

                self._time = TimeManager(cache_path=self.settings.state_dir / "xnys_sessions.json")
            return self._time

    def has_system(self) -> bool:
        return self._system is not None

    def set_system(self, system: Any) -> None:
        self._system = system

    @property
    def system(self) -> Any:
        """The process's `SystemManager` (created on first use)."""
        with self._lock:
            if self._system is None:
                from mismartera.system.manager import SystemManager

                self._system = SystemManager(self)
            return self._system

    # ------------------------------------------------------------------ user interface hooks
    def progress(self, description: str, total: float | None = None, unit: str = "rows") -> Any:
        if self._progress is None:
            return NullProgress()
        return self._progress(description, total, unit)

    def confirm(self, question: str) -> bool:
        """Ask a yes/no question; False when nobody can answer (not a terminal)."""
        if self._confirm is None:
            return False
        return self._confirm(question)

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
