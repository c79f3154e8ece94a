"""The interactive shell: reads lines at the `system@mismartera> ` prompt and hands each to dispatch.

Only reading lives here: prompt_toolkit's `PromptSession` with registry completion (threaded),
suggestions and Ctrl-R search over the masked history file, and the status toolbar redrawn twice a
second. While the prompt is up, `patch_stdout` sends anything printed by other threads (warnings
from the log, say) above the input line. Ctrl-C clears the line, or interrupts a running command;
Ctrl-D, `exit` and `quit` leave — after asking, and stopping it, when a session is running.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import ThreadedCompleter
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.shortcuts import prompt
from prompt_toolkit.styles import Style
from prompt_toolkit.utils import get_term_environment_variable

from mismartera.cli import runtime
from mismartera.cli.completer import CompletionData, ShellCompleter, load_from_store
from mismartera.cli.dispatch import describe_error, execute, print_failure
from mismartera.cli.history import MaskedFileHistory
from mismartera.cli.parser import parse_line
from mismartera.cli.script import PROMPT, perform
from mismartera.cli.shutdown import running_status, stop_running_session
from mismartera.cli.toolbar import Toolbar, current_status
from mismartera.cli.watch import follow_terminal_size
from mismartera.commands import load_all
from mismartera.commands.registry import Registry
from mismartera.errors import ExitCode, UsageError

REFRESHING_GROUPS = ("data", "demo", "run")
WARM_DELAY = 0.5  # seconds after the first prompt before background loading starts
STYLE = Style.from_dict({"bottom-toolbar": "noreverse bg:#262626 #d0d0d0", "prompt": "bold"})
log = logging.getLogger("mismartera.cli.repl")


class _Output(Vt100_Output):
    """prompt_toolkit draws the bottom toolbar only once it knows the rows below the cursor, which a
    terminal tells through a cursor-position request (CPR) — never, where CPR is off or unanswered.
    Claiming one row makes the layout take its own preferred height, so the toolbar is drawn at once,
    under the prompt, and no CPR round trip delays the first prompt. The CPR is still asked: its
    answer (a key event prompt_toolkit handles) gives the real rows below the cursor, and the layout
    then fills them, which puts the toolbar on the terminal's bottom row, as pgcli's."""

    def get_rows_below_cursor_position(self) -> int:
        if self.responds_to_cpr:
            self.ask_for_cpr()
        return 1


INTERACTIVE_SWITCH_INTERVAL = 0.001  # seconds


def run_repl(rt: runtime.Runtime) -> int:
    """Read and run commands until the user leaves. Returns the process exit code."""
    registry = load_all()
    settings = rt.ctx.settings
    data = CompletionData(load_from_store(lambda: rt.ctx.bars))
    completer = ShellCompleter(registry, data, config_dirs=[Path("config"), settings.config_dir],
                               status=lambda: current_status(rt.ctx))
    session: PromptSession[str] = PromptSession(
        history=MaskedFileHistory(settings.history_file, rt.redactor.mask),
        completer=ThreadedCompleter(completer),
        complete_while_typing=False,
        auto_suggest=AutoSuggestFromHistory(),
        bottom_toolbar=Toolbar(rt.ctx, _width),
        refresh_interval=0.5,
        reserve_space_for_menu=6,
        style=STYLE,
        output=_Output.from_pty(sys.stdout, term=get_term_environment_variable()),
    )
    rt.interactive = True
    rt.ask = _asker()
    # A speed-0 backtest keeps a worker thread busy in Python; with CPython's default 5 ms GIL switch
    # interval every wake-up of the prompt's event loop can wait that long, several times per key.
    # A shorter interval keeps typing responsive while the engine runs, at a small cost to it.
    sys.setswitchinterval(INTERACTIVE_SWITCH_INTERVAL)
    started = threading.Event()

    def first_frame() -> None:
        if not started.is_set():
            started.set()
            _start_background(rt, data)

    def one_line() -> bool:
        """Read and run one line; False when the user leaves."""
        try:
            with patch_stdout(raw=True):
                line = session.prompt([("class:prompt", PROMPT)], pre_run=first_frame)
        except EOFError:
            return not _may_leave(rt)
        text = line.strip()
        if not text:
            return True
        _mask_typed_line(rt, line)
        follow_terminal_size(rt.out)   # the terminal may have been resized at the prompt
        run_line(rt, registry, text)
        # `data` commands change the stored symbols; after others a stale list is refreshed now and then
        data.request(0.0 if text.split()[0] in REFRESHING_GROUPS else 60.0)
        if rt.exit_requested:
            rt.exit_requested = False
            return not _may_leave(rt)
        return True

    try:
        while not runtime.terminated():
            try:
                if not one_line():
                    break
            except KeyboardInterrupt:  # Ctrl-C at the prompt, or between commands: a fresh line
                continue
    finally:
        data.stop()
        rt.interactive = False
    stopped = stop_running_session(rt)
    return stopped or (int(ExitCode.INTERRUPTED) if runtime.terminated() else int(ExitCode.OK))


def run_line(rt: runtime.Runtime, registry: Registry, text: str) -> int:
    """Parse and run one line; errors are reported, never raised."""
    try:
        parsed = parse_line(registry, text)
    except UsageError as exc:
        print_failure(rt.err, describe_error(exc))
        return int(exc.exit_code)
    try:
        return execute(rt.ctx, parsed.command, parsed.kwargs, as_json=parsed.json, out=rt.out, err=rt.err,
                       perform=perform, debug=rt.debug)
    except KeyboardInterrupt:  # landed between the handler and its error reporting
        print_failure(rt.err, describe_error(KeyboardInterrupt()))
        return int(ExitCode.INTERRUPTED)


def _mask_typed_line(rt: runtime.Runtime, line: str) -> None:
    """Redraw the line just entered with its secrets masked, so a typed key does not stay on screen."""
    masked = rt.redactor.mask(line)
    if masked == line or not rt.out.is_terminal:
        return
    rows = max(1, -(-(len(PROMPT) + len(line)) // max(1, rt.out.width)))
    sys.stdout.write(f"\x1b[{rows}F\x1b[J{PROMPT}{masked}\n")
    sys.stdout.flush()


def _width() -> int | None:
    try:
        return get_app().output.get_size().columns
    except Exception:
        return None


def _asker() -> Callable[[str], bool]:
    def ask(question: str) -> bool:
        try:
            answer = prompt(f"{question} [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    return ask


def _may_leave(rt: runtime.Runtime) -> bool:
    """True when nothing runs, or the user agrees to stop the running session."""
    status = running_status(rt)
    if status is None:
        return True
    name = f" '{status.session_name}'" if status.session_name else ""
    if rt.ask is not None and rt.ask(f"A session{name} is {status.state.value}. Stop it and leave?"):
        return True
    rt.err.print("still here; the session keeps running", style="dim", markup=False)
    return False


def _start_background(rt: runtime.Runtime, data: CompletionData, delay: float = WARM_DELAY) -> None:
    """Once the first prompt is up: fill the completion cache, and load the session table (from its
    cache, or exchange_calendars and pandas when the cache is stale) so the first `time` or `system`
    command does not wait for it. Delayed a little, so the first frame is drawn with the whole CPU."""

    def warm() -> None:
        threading.Event().wait(delay)
        data.start()
        try:
            rt.ctx.time.preload()
        except Exception as exc:
            log.debug("warming the calendar failed: %r", exc)

    threading.Thread(target=warm, name="warm-imports", daemon=True).start()
