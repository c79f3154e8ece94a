"""`data cache` and backtests through the real program: the same report with and without the
columnar cache, and a change to the database seen by the next replay (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path


def _summary(run_cli, *flags: str) -> dict:
    result = run_cli(*flags, "system", "start", "--config", "config/example_session.json", "--wait", "--json")
    assert result.code == 0, str(result)
    found = json.loads(result.out)
    assert found["run"]["state"] == "finished"
    summary = found["summary"]
    for timing in [key for key in summary if key.endswith("_seconds") or key.endswith("per_second")]:
        del summary[timing]
    return summary


def test_backtest_is_the_same_with_and_without_the_cache(example_bars: Path, run_cli) -> None:
    cold = _summary(run_cli)                       # builds the cache files
    info = json.loads(run_cli("data", "cache", "info", "--json").out)
    assert info["files"] == 2 and info["stale"] == 0 and info["enabled"] is True
    warm = _summary(run_cli)                       # reads them
    without = _summary(run_cli, "--no-cache")
    assert cold == warm == without
    off = run_cli("data", "cache", "info", "--json", env={"MISMARTERA_BAR_CACHE": "off"})
    assert json.loads(off.out)["enabled"] is False

    deleted = run_cli("data", "delete", "MSFT", "--start", "2024-11-26", "--end", "2024-11-26", "--yes")
    assert deleted.code == 0, str(deleted)
    assert json.loads(run_cli("data", "cache", "info", "--json").out)["stale"] == 1
    after = _summary(run_cli)
    assert after == _summary(run_cli, "--no-cache")
    assert after != cold


def test_cache_commands(example_bars: Path, run_cli) -> None:
    rebuilt = run_cli("data", "cache", "rebuild", "AAPL", "--json")
    assert rebuilt.code == 0 and json.loads(rebuilt.out)["written"] == 1
    assert "files" in run_cli("data", "cache", "info").out
    cleared = run_cli("data", "cache", "clear", "--json")
    assert json.loads(cleared.out)["removed"] == 1
    bad = run_cli("data", "cache", "clear", "AAPL")
    assert bad.code == 2 and "takes no symbols" in bad.err
    unknown = run_cli("data", "cache", "rebuild", "ZZZZ")
    assert unknown.code != 0 and "ZZZZ" in unknown.err
    setting = run_cli("data", "cache", "info", env={"MISMARTERA_BAR_CACHE": "maybe"})
    assert setting.code == 4 and "MISMARTERA_BAR_CACHE" in setting.err
