"""Issue 12, point 4: configs from anywhere — the shipped samples found from any folder (and named),
`config samples [DIR]`, and `system start CONFIG --start --end --symbols --speed` for one run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# The package is not installed: a run from another folder finds it through PYTHONPATH.
ELSEWHERE = {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_gh12_start_from_another_folder_uses_the_sample_and_says_so(run_cli, example_bars: Path,
                                                                   tmp_path: Path) -> None:
    result = run_cli("system", "start", "config/example_session.json", "--wait", cwd=tmp_path, env=ELSEWHERE)
    assert result.code == 0, result
    sample = ROOT / "mismartera" / "samples" / "example_session.json"
    assert "using the sample config" in result.out and "example_session.json" in result.out
    assert f"in {tmp_path}" in result.out.replace("\n", "")
    assert "Backtest report" in result.out and "2024-11-25 to 2024-11-29" in result.out
    assert sample.is_file()
    plain = run_cli("system", "start", "example_session.json", "--wait", "--json", cwd=tmp_path, env=ELSEWHERE)
    assert plain.code == 0, plain
    assert json.loads(plain.out)["run"]["id"] == 2      # --json: the note stays out of the document
    missing = run_cli("system", "start", "config/nope.json", cwd=tmp_path, env=ELSEWHERE)
    assert missing.code == 4, missing
    assert "config file not found: config/nope.json" in missing.err and "example_session.json" in missing.err


def test_gh12_a_local_file_wins_over_the_sample(run_cli, example_bars: Path, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    config = json.loads((ROOT / "config" / "example_session.json").read_text())
    config["session_name"] = "mine"
    (tmp_path / "config" / "example_session.json").write_text(json.dumps(config))
    result = run_cli("system", "start", "config/example_session.json", "--wait", "--json", cwd=tmp_path,
                     env=ELSEWHERE)
    assert result.code == 0, result
    assert json.loads(result.out)["run"]["session_name"] == "mine"
    assert "using the sample" not in result.out


def test_gh12_config_samples_copies_and_keeps(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "mine"
    first = run_cli("config", "samples", str(target), "--json")
    assert first.code == 0, first
    copied = json.loads(first.out)["copied"]
    shipped = sorted(p.name for p in (ROOT / "config").glob("*.json"))
    assert "example_session.json" in shipped
    assert sorted(Path(p).name for p in copied) == shipped
    assert (target / "demo.json").read_text() == (ROOT / "config" / "demo.json").read_text()
    (target / "demo.json").write_text("{}")
    second = run_cli("config", "samples", str(target))
    assert second.code == 0 and f"kept {len(shipped)} already there" in second.out
    assert (target / "demo.json").read_text() == "{}"
    default = run_cli("config", "samples", cwd=tmp_path, env=ELSEWHERE)
    assert default.code == 0 and (tmp_path / "config" / "example_session.json").is_file()
    assert run_cli("config", "samples", str(target / "demo.json")).code == 2


def test_gh12_start_overrides_window_symbols_and_speed_for_one_run(run_cli, example_bars: Path) -> None:
    result = run_cli("system", "start", "config/example_session.json", "--start", "2024-11-26", "--end",
                     "2024-11-27", "--symbols", "msft", "--speed", "0", "--wait", "--json")
    assert result.code == 0, result
    report = json.loads(result.out)
    assert [d["day"] for d in report["equity"]] == ["2024-11-26", "2024-11-27"]
    assert set(report["summary"]["per_symbol_pnl"]) <= {"MSFT"}
    runs = json.loads(run_cli("system", "runs", "--json").out)
    stored = json.loads(run_cli("account", "fills", "--json").out)
    assert {f["symbol"] for f in stored} <= {"MSFT"} and runs[0]["days"] == "2/2"
    # the file itself is unchanged: the next run without overrides has the whole window
    again = json.loads(run_cli("system", "start", "config/example_session.json", "--wait", "--json").out)
    assert len(again["equity"]) == 4
    backwards = run_cli("system", "start", "config/example_session.json", "--start", "2024-11-28", "--end",
                        "2024-11-26")
    assert backwards.code == 4, backwards
    assert "end_date: 2024-11-26 is before start_date 2024-11-28" in backwards.err
    assert run_cli("system", "start", "--symbols", "", "--wait").code == 2
    bad_symbol = run_cli("system", "start", "--symbols", "AAPL,$X", "--wait")
    assert bad_symbol.code == 4 and "'$X' is not a ticker symbol" in bad_symbol.err, bad_symbol
