"""Issue 12, point 5: strategies you can discover — `strategy list`, `strategy show`, and the README's
"Writing a strategy" example, which is a file this test loads and runs."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "strategies" / "buy_the_dip.py"
ELSEWHERE = {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_gh12_readme_shows_the_example_file_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Writing a strategy", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None and block.group(1) == EXAMPLE.read_text()


def test_gh12_strategy_list_and_show_builtins(run_cli) -> None:
    listed = run_cli("strategy", "list", "--json")
    assert listed.code == 0, listed
    by_name = {s["name"]: s for s in json.loads(listed.out)}
    assert {"sma_crossover", "rsi_reversion"} <= set(by_name)
    assert by_name["sma_crossover"]["source"] == "built-in"
    assert by_name["sma_crossover"]["params"] == {"fast": 10, "slow": 30, "quantity": 100}
    assert by_name["sma_crossover"]["summary"].startswith("long when the fast SMA")
    shown = run_cli("strategy", "show", "rsi_reversion")
    assert shown.code == 0, shown
    for text in ("Parameters", "oversold", "30.0", "buy when the RSI falls below this", "In a session config:",
                 '"name": "rsi_reversion"'):
        assert text in shown.out, text
    block = json.loads(shown.out.split("In a session config:\n", 1)[1])
    assert block == {"strategies": [{"name": "rsi_reversion", "params": {"period": 14, "oversold": 30.0,
                                                                         "overbought": 70.0, "quantity": 100}}]}
    wrong = run_cli("strategy", "show", "sma_crosover")
    assert wrong.code == 1 and "did you mean 'sma_crossover'" in wrong.err


def test_gh12_the_readme_example_is_listed_shown_and_trades(run_cli, example_bars: Path, tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "strategies" / "buy_the_dip.py")
    (tmp_path / "strategies" / "broken.py").write_text("import nothing_of_that_name\n")
    listed = run_cli("strategy", "list", cwd=tmp_path, env=ELSEWHERE)
    assert listed.code == 0, listed
    assert re.search(r"buy_the_dip\s+strategies/buy_th", listed.out), listed.out
    assert "broken" in listed.out and "does not load" in listed.out
    shown = json.loads(run_cli("strategy", "show", "buy_the_dip", "--json", cwd=tmp_path, env=ELSEWHERE).out)
    assert shown["summary"] == "buy when the price falls under the day's VWAP, sell when it is back."
    assert [(p["name"], p["default"]) for p in shown["params"]] == [("dip_pct", 0.2), ("quantity", 20)]
    assert shown["config"] == {"path": "strategies/buy_the_dip.py", "params": {"dip_pct": 0.2, "quantity": 20}}

    config = json.loads((ROOT / "config" / "example_session.json").read_text())
    config["strategies"] = [shown["config"]]
    (tmp_path / "dip.json").write_text(json.dumps(config))
    result = run_cli("system", "start", "dip.json", "--wait", "--json", cwd=tmp_path, env=ELSEWHERE)
    assert result.code == 0, result
    assert json.loads(result.out)["summary"]["trades"] > 0
    orders = json.loads(run_cli("account", "orders", "--status", "filled", "--json").out)
    assert orders and {o["strategy"] for o in orders} == {"buy_the_dip"}
