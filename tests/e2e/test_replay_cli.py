"""Issue 11: a live session on the replay source through the real `mismartera` program — the shipped
rehearsal config (at full speed) on demo bars, one-shot with `--wait --json`, reported like any run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_a_replayed_live_session_runs_one_shot_and_reports(run_cli, example_bars: Path, tmp_path: Path) -> None:
    config = json.loads((ROOT / "config" / "replay_rehearsal.json").read_text())
    config["session_data_config"]["symbols"] = ["AAPL", "MSFT"]
    config["replay_config"]["speed_multiplier"] = 0
    path = tmp_path / "rehearsal.json"
    path.write_text(json.dumps(config))
    result = run_cli("system", "start", "--config", str(path), "--wait", "--json", timeout=120)
    assert result.code == 0, result
    report = json.loads(result.out)
    assert report["run"]["state"] == "finished"
    assert not report["run"]["started_at"].startswith("2024-11-29")   # a run is stamped with wall time
    assert [d["day"] for d in report["equity"]] == ["2024-11-29"]   # the early close, 13:00 ET
    assert report["summary"]["bars"] == 2 * 210 and report["summary"]["trades"] > 0
