"""`data` command handlers called directly: confirmation of deletes, defaults, limits, empty stores."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mismartera.commands import data
from mismartera.commands.context import AppContext
from mismartera.commands.results import Message, RawText, Table
from mismartera.config.settings import load_settings
from mismartera.errors import NotFound, UsageError


@pytest.fixture
def make_ctx(tmp_path: Path):
    made: list[AppContext] = []

    def make(interactive: bool = False, answers: list[bool] | None = None) -> AppContext:
        asked: list[str] = []
        replies = list(answers or [])

        def confirm(question: str) -> bool:
            asked.append(question)
            return replies.pop(0)

        ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path)}), interactive=interactive,
                         confirm=confirm)
        ctx.extras["asked"] = asked
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def test_empty_store_and_unknown_symbols(make_ctx) -> None:
    ctx = make_ctx()
    listed = data.list_series(ctx)
    assert isinstance(listed, Message) and "no bars stored yet" in listed.text
    with pytest.raises(NotFound, match=r"no bars stored for 'AAPL' \(no bars are stored yet"):
        data.info(ctx, "aapl")
    with pytest.raises(UsageError, match="invalid symbol: '1ABC' is not a ticker symbol"):
        data.latest(ctx, "1ABC")


def test_delete_asks_in_a_terminal_and_refuses_without_one(make_ctx) -> None:
    ctx = make_ctx(interactive=True, answers=[False, True])
    data.demo(ctx, symbols="TSLA", start=date(2024, 11, 29), days=1)
    kept = data.delete(ctx, "TSLA")
    assert kept.text == "nothing deleted" and ctx.bars.count("TSLA", "1m") == 210
    assert ctx.extras["asked"] == ["Delete 210 bar(s) of TSLA?"]
    gone = data.delete(ctx, "TSLA", start=date(2024, 11, 29), end=date(2024, 11, 29))
    assert gone.text == "deleted 210 bar(s) of TSLA" and ctx.bars.count("TSLA", "1m") == 0
    script = make_ctx(interactive=False)
    data.demo(script, symbols="TSLA", start=date(2024, 11, 29), days=1)
    with pytest.raises(UsageError, match="refusing to delete 210 bar"):
        data.delete(script, "TSLA")
    assert script.extras["asked"] == []
    with pytest.raises(UsageError, match="--end 2024-11-28 is before --start 2024-11-29"):
        data.delete(script, "TSLA", start=date(2024, 11, 29), end=date(2024, 11, 28), yes=True)
    assert data.delete(script, "TSLA", start=date(2024, 12, 2), yes=True).text.startswith("nothing to delete")


def test_bars_limit_csv_and_quality_defaults(make_ctx) -> None:
    ctx = make_ctx()
    data.demo(ctx, symbols="SPY", start=date(2024, 11, 27), days=2)
    table = data.bars(ctx, "SPY", date(2024, 11, 27), date(2024, 11, 29), limit=5)
    assert isinstance(table, Table) and len(table.rows) == 5
    assert table.caption == "5 bar(s) (first 5 of 600: use --limit 0 for all)"
    everything = data.bars(ctx, "SPY", date(2024, 11, 27), date(2024, 11, 29), limit=0)
    assert len(everything.rows) == 600 and everything.caption == "600 bar(s)"
    as_csv = data.bars(ctx, "SPY", date(2024, 11, 29), csv=True, limit=0)
    assert isinstance(as_csv, RawText) and len(as_csv.text.splitlines()) == 211
    with pytest.raises(UsageError, match="--limit -1 is negative"):
        data.bars(ctx, "SPY", date(2024, 11, 29), limit=-1)
    report = data.quality(ctx, "SPY")
    assert report.data["start"] == date(2024, 11, 27) and report.data["end"] == date(2024, 11, 29)
    assert report.data["pct"] == 100.0 and [d["expected"] for d in report.data["days"]] == [390, 210]
