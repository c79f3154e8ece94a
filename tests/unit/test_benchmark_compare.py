"""benchmarks/compare.py (issue 7): the seeded bars are what the reference run promises, a small
run of both engines agrees to the cent, and a disagreement fails loudly."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from mismartera.timekeeping.calendar import TimeManager

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import _seeded_bars
    import compare

    return _seeded_bars, compare


def test_seeded_bars_are_whole_cents_on_the_calendar_and_repeatable(bench) -> None:
    seeded, _ = bench
    window = seeded.window(TimeManager(), 3, first=date(2021, 11, 24))   # the day after Thanksgiving closes at 13:00
    assert [(s.day, s.minutes) for s in window.sessions] == [
        (date(2021, 11, 24), 390), (date(2021, 11, 26), 210), (date(2021, 11, 29), 390)]
    rows = list(seeded.generate("S03", 3, window.sessions, seed=4))
    assert rows == list(seeded.generate("S03", 3, window.sessions, seed=4))
    assert rows != list(seeded.generate("S03", 3, window.sessions, seed=5))
    assert len(rows) == window.bars_per_symbol == 990
    opens = {int(s.open.timestamp()) for s in window.sessions}
    assert sum(row[0] in opens for row in rows) == 3
    for ts, o, h, low, c, volume, *_ in rows:
        for price in (o, h, low, c):
            assert price == round(price, 2) and price > 0
        assert low <= min(o, c) and h >= max(o, c)
        assert volume >= 20_000 and ts % 60 == 0


def test_ten_symbols_long_cost_well_under_the_starting_cash(bench) -> None:
    seeded, _ = bench
    assert sum(100 * seeded.base_price(n) for n in range(10)) < 40_000


def test_a_small_reference_run_agrees_to_the_cent() -> None:
    pytest.importorskip("backtrader")
    done = subprocess.run([sys.executable, str(BENCH / "compare.py"), "--days", "3", "--symbols", "2", "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    mm, bt = figures["mismartera"], figures["backtrader"]
    assert figures["bars"] == mm["bars"] == bt["bars"] == 2 * 3 * 390
    assert figures["problems"] == []
    assert mm["fills"] == bt["fills"] > 10
    assert abs(mm["equity"] - bt["equity"]) <= 0.01
    assert mm["rejected"] == bt["rejected"] == 0
    assert mm["rss_mb"] > 0 and bt["rss_mb"] > 0 and figures["ratio"] > 0


def test_repeated_runs_report_the_median_run_of_each_engine() -> None:
    pytest.importorskip("backtrader")
    done = subprocess.run([sys.executable, str(BENCH / "compare.py"), "--days", "2", "--symbols", "1", "--repeat", "3",
                           "--json"], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    runs = figures["runs"]
    assert len(runs["mismartera"]) == len(runs["backtrader"]) == 3
    assert figures["mismartera"]["bars_per_second"] == sorted(runs["mismartera"])[1]
    assert figures["backtrader"]["bars_per_second"] == sorted(runs["backtrader"])[1]
    assert figures["problems"] == []   # every run agreed with backtrader to the cent, same fills


def test_disagreements_are_named(bench) -> None:
    _, compare = bench
    mm = {"bars": 100, "equity": 100_000.00, "report_equity": 100_000.00, "fills": 8, "state": "stopped"}
    assert compare.check(mm, dict(mm), 100) == []
    problems = compare.check(mm, {**mm, "equity": 100_000.02, "fills": 9, "bars": 90}, 100)
    assert problems == [
        "backtrader replayed 90 bars, expected 100",
        "final equity differs: mismartera 100,000.0000 vs backtrader 100,000.0200 (difference -0.0200, allowed ±0.01)",
        "fills differ: mismartera 8 vs backtrader 9",
    ]


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "0"], "--days 0 is out of range"),
    (["--symbols", "101"], "--symbols 101 is out of range"),
    (["--repeat", "0"], "--repeat 0 is out of range"),
    (["--days", "300", "--memory-check", "200"], "--memory-check 200 must be above --days 300"),
])
def test_bad_arguments_are_usage_errors(bench, capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    _, compare = bench
    with pytest.raises(SystemExit) as exited:
        compare.parse_args(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
