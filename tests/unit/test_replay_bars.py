"""`as_bars`: stored rows become the same Bars `Bar(symbol, *row)` makes, whatever the row's shape."""

from __future__ import annotations

from mismartera.bars import Bar
from mismartera.system.coordinator import as_bars


def test_stored_rows_become_bars_equal_to_the_constructor_s() -> None:
    rows = [(1_700_000_000 + 60 * i, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 1000.0, 7, 10.2) for i in range(3)]
    bars = as_bars("AAPL", rows)
    assert bars == [Bar("AAPL", *row) for row in rows]
    assert all(type(bar) is Bar for bar in bars)
    assert bars[0].interval == "1m" and bars[0].symbol == "AAPL" and bars[2].vwap == 10.2
    assert bars[1].end_ts == 1_700_000_120


def test_short_rows_take_the_defaults_and_no_rows_is_no_bars() -> None:
    assert as_bars("MSFT", [(1_700_000_000, 1.0, 2.0, 0.5, 1.5, 100.0)]) == [
        Bar("MSFT", 1_700_000_000, 1.0, 2.0, 0.5, 1.5, 100.0, None, None, "1m")]
    assert as_bars("MSFT", []) == []
