"""`AppContext`: what every command handler gets — settings, database, bar store, time manager,
the system manager — each built on first use, plus the two things a handler may ask of the user
interface (a progress reporter and a yes/no confirmation), injected by `mismartera.cli`.
"""

from __future__ import annotations

import copy
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
Locate = Callable[["AppContext"], Any]   # -> another process's session (a RemoteSystem) or None
Attach = Callable[["AppContext", Any], None]


class AppContext:
    """Shared state of one mismartera process (a REPL, a script run or a one-shot command)."""

    def __init__(self, settings: Settings, *, interactive: bool = False,
                 progress: ProgressFactory | None = None, confirm: Confirm | None = None,
                 locate_owner: Locate | None = None, attach_host: Attach | None = None,
                 detach: Locate | None = None) -> None:
        """`locate_owner`, `attach_host` and `detach` come from the user interface (mismartera.cli):
        finding another process's session, hosting this process's (its control API), and handing a
        new session to a detached host (one-shot `system start`)."""
        self.settings = settings
        self.locate_owner = locate_owner
        self.attach_host = attach_host
        self.detach = detach
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
                self._db = Database(self.settings.db_url, self.settings.database)
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

    def has_db(self) -> bool:
        """Whether this process has opened its `Database` already."""
        return self._db is not None

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
                if self.attach_host is not None:
                    self.attach_host(self, self._system)
            return self._system

    @property
    def session(self) -> Any:
        """The session the session commands steer: another process's, through its control API, when
        that process owns the session of this data home; else this process's own `SystemManager`."""
        if self.locate_owner is not None:
            remote = self.locate_owner(self)
            if remote is not None:
                return remote
        return self.system

    def session_host(self) -> Any:
        """Where `system start` without --wait puts a new session: the owner found by `session`, a
        detached host when this process is about to end (one-shot mode), else this process."""
        if self.locate_owner is not None:
            remote = self.locate_owner(self)
            if remote is not None:
                return remote
        if self.detach is not None:
            return self.detach(self)
        return self.system

    def without_interface(self) -> AppContext:
        """The same parts (database, calendar, session) for callers with no terminal of their own — the
        control API's routes: no progress display and no questions on the owner's screen."""
        view = copy.copy(self)
        view._progress = None
        view._confirm = None
        view.interactive = False
        view.locate_owner = view.detach = None
        return view

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
