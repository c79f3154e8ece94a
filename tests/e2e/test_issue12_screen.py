"""Issue 12, point 2, on an emulated screen (pexpect + pyte): the toolbar on the terminal's bottom row
and readable at 80 columns, and `system watch` redrawn cleanly after a resize."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyte
import pytest
from test_shell_repl import PROMPT, Terminal

pytestmark = pytest.mark.e2e


class AnsweringScreen(pyte.Screen):
    """A screen that answers the program's cursor-position requests, as a real terminal does."""

    reply: Callable[[str], None] | None = None

    def write_process_input(self, data: str) -> None:
        if self.reply is not None:
            self.reply(data)


class CprTerminal(Terminal):
    def __init__(self, home: Path, **kwargs) -> None:
        super().__init__(home, env={"PROMPT_TOOLKIT_NO_CPR": "0"}, **kwargs)
        screen = AnsweringScreen(self.cols, self.rows)
        screen.reply = self.child.send
        self.screen = screen
        self.stream = pyte.Stream(screen)

    def resize(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)

    def row(self, index: int) -> str:
        return self.screen.display[index].rstrip()


@pytest.fixture
def cpr_terminal(cli_home: Path) -> Iterator[Callable[..., CprTerminal]]:
    started: list[CprTerminal] = []

    def start(**kwargs) -> CprTerminal:
        term = CprTerminal(cli_home, **kwargs)
        started.append(term)
        term.wait_prompt()
        return term

    yield start
    for term in started:
        term.close()


@pytest.fixture
def plain_terminal(cli_home: Path) -> Iterator[Callable[..., Terminal]]:
    """The shell test suite's terminal (cursor-position requests off)."""
    started: list[Terminal] = []

    def start(**kwargs) -> Terminal:
        term = Terminal(cli_home, **kwargs)
        started.append(term)
        term.wait_prompt()
        return term

    yield start
    for term in started:
        term.close()


def test_gh12_toolbar_sits_on_the_bottom_row_and_keeps_equity_at_80_columns(cpr_terminal,
                                                                          example_bars: Path) -> None:
    term = cpr_terminal(rows=24, cols=80)
    term.wait_for(lambda text: term.row(23).lstrip().startswith("stopped"))
    assert term.row(0).rstrip() == PROMPT                 # the prompt stays where it was, at the top
    assert all(term.row(i) == "" for i in range(1, 23))
    term.line("system start config/example_session.json --speed 60")
    term.wait_for("session example started")
    # (a toolbar drawn in the instant before the first day begins says day 0/4)
    term.wait_for(lambda text: term.row(23).lstrip().startswith("running") and "day 1/4" in term.row(23))
    bottom = term.row(23)
    assert len(bottom) <= 80 and "…" not in bottom
    assert re.search(r"equity [\d,]+\.\d\d \([+-][\d,]+\.\d\d\)", bottom), bottom
    assert "day 1/4" in bottom and " ET" in bottom
    prompt_rows = [i for i in range(24) if term.row(i).startswith(PROMPT)]
    assert prompt_rows and prompt_rows[-1] < 23
    term.line("system stop")
    term.wait_for("stopped (run 1)")
    term.wait_for(lambda text: term.row(23).lstrip().startswith("stopped"))


def frame_is_clean(term: CprTerminal) -> bool:
    """The screen holds one dashboard frame drawn for the terminal's width and nothing else: its top
    on the first row and as wide as the terminal, each panel title once, every drawn line a line of
    a panel, the footer once and nothing below it."""
    lines = [term.row(i) for i in range(term.rows)]
    if not lines[0].startswith("╭─ mismartera") or len(lines[0]) != term.cols or not lines[0].endswith("╮"):
        return False
    for title in ("╭─ mismartera", "╭─ coordinator", "╭─ upkeep", "╭─ prefetch", "╭─ account",
                  "╭─ orders and fills", "q, Esc or Ctrl-C"):
        if sum(line.count(title) for line in lines) != 1:
            return False
    footer = next(i for i, line in enumerate(lines) if line.startswith("q, Esc or Ctrl-C"))
    if any(lines[footer + 1:]):
        return False
    return all(line.lstrip()[0] in "╭│╰" and line[-1] in "╮│╯" for line in lines[:footer] if line.strip())


def test_gh12_watch_redraws_cleanly_after_a_resize(cpr_terminal, example_bars: Path) -> None:
    term = cpr_terminal(rows=40, cols=120)
    term.line("time holidays 2025")                      # something on screen above the watch
    term.wait_for("Thanksgiving")
    term.wait_prompt()
    term.line("system start config/example_session.json --speed 60")
    term.wait_for("session example started")
    term.wait_prompt()
    term.line("system watch")
    term.wait_for(lambda text: "q, Esc or Ctrl-C" in text and "orders and fills" in text)
    for rows, cols in ((40, 90), (44, 130), (36, 100)):
        term.resize(rows, cols)
        term.wait_for(lambda text: frame_is_clean(term), timeout=10)
        time.sleep(0.6)                                  # a few more refreshes: still clean
        term.pump()
        assert frame_is_clean(term), term.text
    term.send("q")
    term.wait_prompt()
    assert "q, Esc or Ctrl-C" not in term.text
    term.line("system stop")
    term.wait_for("stopped (run 1)")


def test_gh12_a_long_table_pages_and_limit_shortens_it(plain_terminal, example_bars: Path) -> None:
    term = plain_terminal(rows=24, cols=100, env={"PAGER": "less", "LESS": ""})
    term.line("system start config/example_session.json --wait")
    term.wait_for("Equity, run 1", timeout=60)
    term.wait_prompt()
    term.line("account orders")
    # less shows the first screen and waits: its ':' prompt on the bottom row, not the shell's
    term.wait_for(lambda text: term.screen.display[-1].rstrip() == ":" and "Orders (run 1)" in text)
    assert "Symbol   Side   Qty" in term.text and term.prompt_line().rstrip() != PROMPT
    assert not any(line.rstrip() == PROMPT for line in term.screen.display)
    term.send("q")
    term.wait_prompt()
    term.line("account orders --limit 5")
    term.wait_for(lambda text: "--limit 0 for all" in text and term.prompt_line().rstrip() == PROMPT)
    shown = [line for line in term.text.splitlines() if " AAPL " in line or " MSFT " in line]
    caption = next(line for line in term.text.splitlines() if "--limit 0 for all" in line)
    assert caption.startswith("the last 5 of ") and len(shown) >= 5
