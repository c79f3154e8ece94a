"""Issue 14, point 7: the chaos suite's short version — `kill -9` of a real backtest process at 3
random moments, and of a CSV import once, on SQLite and PostgreSQL (benchmarks/chaos.py runs 20).

After each kill the database is intact, `system runs` shows the run interrupted, and `--resume`
reaches the uninterrupted run's daily equity, orders and fills exactly; the killed import stored all
of its file or nothing, and importing again stores exactly the file's rows."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.e2e


@pytest.fixture
def chaos(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import chaos

    return chaos


def test_kill_9_loses_nothing_committed_and_resumes_to_the_same_equity(chaos, tmp_path: Path, db_url: str) -> None:
    home = chaos.Home(tmp_path, None if db_url.startswith("sqlite") else db_url)
    outcomes = chaos.run_chaos(home, kills=3, imports=1, days=8, seed_value=3, import_rows=40_000,
                               log=lambda line: None)
    report = chaos.table(outcomes)
    assert all(o.integrity_ok for o in outcomes), report
    assert all(o.recovered and o.rows_lost == 0 for o in outcomes), report
    killed = [o for o in outcomes if o.what == "backtest"]
    assert all(o.state in ("interrupted", "finished") for o in killed), report
    assert any(o.state == "interrupted" for o in killed), report
    killed_import = [o for o in outcomes if o.what == "import"]
    assert killed_import[0].state in ("all rows", "no rows"), report
