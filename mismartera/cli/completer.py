"""Tab completion for the REPL, derived from the command registry: groups, commands, options, and
values — choices, symbols stored in the database, session configs under `config/`, files, dates and
bar intervals.

Values that need the database are kept in `CompletionData`, filled by a named background thread
(`completion-refresh`) when the shell starts and again after each command, and swapped in as one
tuple; completing never waits for the database. The REPL wraps the completer in prompt_toolkit's
`ThreadedCompleter` so that even a slow file listing never blocks typing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from mismartera.bars import INTERVAL_SECONDS
from mismartera.commands.registry import Arg, Command, Registry
from mismartera.execution.orders import OPEN_ORDER_STATUSES
from mismartera.strategies.loader import BUILTINS

log = logging.getLogger("mismartera.cli.completer")
INTERVALS = tuple(INTERVAL_SECONDS)
RUNS_OFFERED = 20


@dataclass(frozen=True)
class Snapshot:
    symbols: tuple[str, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    runs: tuple[tuple[str, str], ...] = ()  # (run id, "session_name state"), newest first


class CompletionData:
    """Database-backed completion values; `load` runs in the refresher thread, readers take `.current`."""

    def __init__(self, load: Callable[[], Snapshot] | None = None) -> None:
        self.current = Snapshot()
        self._load = load
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loaded_at = float("-inf")

    def refresh_now(self) -> None:
        if self._load is None:
            return
        self._loaded_at = time.monotonic()
        try:
            self.current = self._load()
        except Exception as exc:  # a missing or broken database only means fewer completions
            log.debug("completion refresh failed: %r", exc)

    def start(self, interval: float = 300.0) -> None:
        """Refresh in a background thread now, whenever `request()` is called, and every `interval` s."""
        if self._thread is not None or self._load is None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                self.refresh_now()
                self._wake.wait(interval)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="completion-refresh", daemon=True)
        self._thread.start()

    def request(self, older_than: float = 0.0) -> None:
        """Ask for a refresh now, or only when the values are more than `older_than` seconds old."""
        if time.monotonic() - self._loaded_at >= older_than:
            self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


def load_from_store(bars: Callable[[], object]) -> Callable[[], Snapshot]:
    """A loader reading the stored symbols, the first and last day of stored bars, and the latest runs."""

    def load() -> Snapshot:
        from datetime import UTC, datetime

        from sqlalchemy import select

        from mismartera.data.schema import runs

        store = bars()
        series = store.series()  # type: ignore[attr-defined]
        symbols = tuple(sorted({s.symbol for s in series}))
        with store.db.connect() as conn:  # type: ignore[attr-defined]
            latest = conn.execute(select(runs.c.id, runs.c.session_name, runs.c.state)
                                  .order_by(runs.c.id.desc()).limit(RUNS_OFFERED)).all()
        run_ids = tuple((str(row.id), f"{row.session_name} {row.state}") for row in latest)
        if not series:
            return Snapshot(symbols, runs=run_ids)
        first = datetime.fromtimestamp(min(s.first_ts for s in series), UTC).date()
        last = datetime.fromtimestamp(max(s.last_ts for s in series), UTC).date()
        return Snapshot(symbols, first, last, run_ids)

    return load


def _split(text: str) -> tuple[list[str], str]:
    """Words before the cursor and the (possibly empty) word being typed."""
    words = text.split()
    if not text or text[-1].isspace():
        return words, ""
    return words[:-1], words[-1]


class ShellCompleter(Completer):
    """Completes a command line against the registry."""

    def __init__(self, registry: Registry, data: CompletionData | None = None,
                 config_dirs: Iterable[Path] = (), today: Callable[[], date] = date.today,
                 status: Callable[[], object | None] = lambda: None) -> None:
        self.registry = registry
        self.data = data or CompletionData()
        self.config_dirs = [Path(p) for p in config_dirs]
        self.today = today
        self.status = status  # the running session's latest snapshot (open orders), None without one
        self._paths = PathCompleter(expanduser=True)

    # ------------------------------------------------------------------ entry point
    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before, word = _split(document.text_before_cursor)
        if not before:
            yield from self._first_words(word)
            return
        head = before[0]
        if len(before) == 1 and head in self.registry.groups and head:
            yield from self._group_commands(head, word)
            return
        cmd, rest = self._command(before)
        if cmd is None:
            return
        yield from self._arguments(cmd, rest, word, complete_event)

    # ------------------------------------------------------------------ names
    def _first_words(self, word: str) -> Iterator[Completion]:
        for name, text in self.registry.groups.items():
            if name and name.startswith(word) and self.registry.in_group(name):
                yield Completion(name, -len(word), display_meta=text)
        for cmd in self.registry.in_group(""):
            for name in (cmd.name, *cmd.aliases):
                if name.startswith(word):
                    yield Completion(name, -len(word), display_meta=cmd.summary)

    def _group_commands(self, group: str, word: str) -> Iterator[Completion]:
        for cmd in self.registry.in_group(group):
            for name in (cmd.name, *cmd.aliases):
                if name.startswith(word):
                    yield Completion(name, -len(word), display_meta=cmd.summary)

    def _command(self, before: list[str]) -> tuple[Command | None, list[str]]:
        head = before[0]
        if head in self.registry.groups and head and len(before) >= 2:
            return self.registry.get(head, before[1]), before[2:]
        return self.registry.get("", head), before[1:]

    # ------------------------------------------------------------------ arguments
    def _arguments(self, cmd: Command, rest: list[str], word: str, event: CompleteEvent) -> Iterator[Completion]:
        options = {a.flag: a for a in cmd.args if not a.positional}
        options.update({f"-{a.short}": a for a in cmd.args if not a.positional and a.short})
        if rest and rest[-1] in options and not options[rest[-1]].is_flag and "=" not in rest[-1]:
            yield from self._values(options[rest[-1]], word, rest, event)
            return
        if word.startswith("-"):
            used = set(rest)
            for arg in cmd.args:
                if not arg.positional and (arg.flag not in used or arg.multiple) and arg.flag.startswith(word):
                    yield Completion(arg.flag, -len(word), display_meta=arg.help)
            if cmd.json and "--json" not in used and "--json".startswith(word):
                yield Completion("--json", -len(word), display_meta="print JSON")
            return
        positionals = [a for a in cmd.args if a.positional]
        index = self._positional_index(rest, options)
        if index < len(positionals):
            yield from self._values(positionals[index], word, rest, event)
        elif positionals and positionals[-1].multiple:
            yield from self._values(positionals[-1], word, rest, event)

    @staticmethod
    def _positional_index(rest: list[str], options: dict[str, Arg]) -> int:
        count, skip = 0, False
        for word in rest:
            if skip:
                skip = False
                continue
            if word.startswith("-") and len(word) > 1:
                arg = options.get(word.split("=", 1)[0])
                skip = arg is not None and not arg.is_flag and "=" not in word
                continue
            count += 1
        return count

    def _values(self, arg: Arg, word: str, rest: list[str], event: CompleteEvent) -> Iterator[Completion]:
        kind = arg.complete or ("date" if arg.type is date else None)
        if arg.choices:
            yield from _matching(arg.choices, word, case_insensitive=True)
        elif kind == "symbol":
            yield from _matching(self.data.current.symbols, word.upper(), replace=len(word))
        elif kind == "interval":
            yield from _matching(INTERVALS, word)
        elif kind == "date":
            yield from _matching(self._dates(), word)
        elif kind == "config":
            found = list(_matching(self._configs(), word))
            yield from found or self._files(word, event)
        elif kind == "file":
            yield from self._files(word, event)
        elif kind == "strategy":   # names only: completing never imports a user's file
            yield from _matching([*BUILTINS, *(p.stem for p in sorted(Path("strategies").glob("*.py"))
                                               if not p.name.startswith("_"))], word)
        elif kind == "run":
            for run_id, meta in self.data.current.runs:
                if run_id.startswith(word):
                    yield Completion(run_id, -len(word), display_meta=meta)
        elif kind == "order":
            yield from self._open_orders(word)
        elif kind in ("command", "group"):
            groups = [rest[0]] if rest and rest[0] in self.registry.groups else []
            if kind == "command" and groups:
                yield from self._group_commands(groups[0], word)
            elif not rest:
                yield from self._first_words(word)

    def _open_orders(self, word: str) -> Iterator[Completion]:
        try:
            snapshot = self.status()
        except Exception:  # no session, or it is being torn down: nothing to offer
            return
        for order in getattr(snapshot, "recent_orders", ()):
            if order.status in OPEN_ORDER_STATUSES and str(order.id).startswith(word):
                meta = f"{order.side} {order.quantity:g} {order.symbol} {order.order_type}"
                yield Completion(str(order.id), -len(word), display_meta=meta)

    def _dates(self) -> list[str]:
        today = self.today()
        days = [today - timedelta(days=n) for n in range(0, 8) if (today - timedelta(days=n)).weekday() < 5]
        snapshot = self.data.current
        extra = [d for d in (snapshot.last_day, snapshot.first_day) if d is not None]
        seen: dict[str, None] = {}
        for day in [*extra, *days]:
            seen.setdefault(day.isoformat(), None)
        return list(seen)

    def _configs(self) -> list[str]:
        found: list[str] = []
        for folder in self.config_dirs:
            if folder.is_dir():
                found += [str(p) for p in sorted(folder.glob("*.json"))]
        return found

    def _files(self, word: str, event: CompleteEvent) -> Iterator[Completion]:
        yield from self._paths.get_completions(Document(word, len(word)), event)


def _matching(values: Iterable[str], word: str, *, case_insensitive: bool = False,
              replace: int | None = None) -> Iterator[Completion]:
    start = -(len(word) if replace is None else replace)
    for value in values:
        if value.startswith(word) or (case_insensitive and value.lower().startswith(word.lower())):
            yield Completion(value, start)
