import json
from pathlib import Path

import pytest

from mismartera.config.session import load_session_config, parse_session_config
from mismartera.errors import ConfigError, ExitCode

ROOT = Path(__file__).resolve().parents[2]


def base() -> dict:
    return json.loads((ROOT / "config" / "example_session.json").read_text())


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_session_config(data, "x.json")
    assert info.value.exit_code == ExitCode.BAD_CONFIG
    return info.value.problems


@pytest.mark.parametrize("name", ["example_session.json", "demo.json"])
def test_shipped_samples_load(name: str) -> None:
    config = load_session_config(ROOT / "config" / name)
    assert config.mode == "backtest"
    assert config.backtest_config is not None
    assert config.symbols


def test_end_before_start_names_both_dates() -> None:
    data = base()
    data["backtest_config"].update(start_date="2025-07-07", end_date="2025-07-01")
    assert problems(data) == ["backtest_config.end_date: 2025-07-01 is before start_date 2025-07-07"]


def test_misspelt_key_gets_did_you_mean() -> None:
    data = base()
    data["trading_config"]["slipage_bps"] = 2
    assert problems(data) == ["trading_config.slipage_bps: unknown key — did you mean 'slippage_bps'?"]


def test_unknown_key_without_close_match_lists_the_known_keys() -> None:
    data = base()
    data["api_config"]["zzz"] = 1
    [line] = problems(data)
    assert line.startswith("api_config.zzz: unknown key (expected one of: data_api, trade_api")


def test_each_problem_gets_its_own_line_with_path_found_and_expected() -> None:
    data = base()
    data["mode"] = "paper"
    data["backtest_config"]["start_date"] = "2025-13-01"
    data["session_data_config"]["symbols"] = []
    data["trading_config"]["slippage_bps"] = -1
    data["strategies"][0]["path"] = "x.py"
    lines = problems(data)
    assert "mode: 'paper' is not allowed (expected 'backtest' or 'live')" in lines
    assert "backtest_config.start_date: '2025-13-01' is not valid (expected a date YYYY-MM-DD)" in lines
    assert "session_data_config.symbols: is empty (expected at least one entry)" in lines
    assert "trading_config.slippage_bps: -1 is out of range (expected a number >= 0.0)" in lines
    assert any(line.startswith("strategies[0]: give exactly one of 'name'") for line in lines)


def test_missing_required_key() -> None:
    data = base()
    del data["session_name"]
    assert problems(data) == ["session_name: missing (required)"]


def test_backtest_without_backtest_config() -> None:
    data = base()
    del data["backtest_config"]
    assert problems(data) == ["backtest_config: missing (a backtest needs start_date and end_date)"]


def test_bad_symbol() -> None:
    data = base()
    data["session_data_config"]["symbols"] = ["AAPL", "not a symbol"]
    assert problems(data) == [
        "session_data_config.symbols: 'not a symbol' is not a ticker symbol (expected a letter, then up to 9 "
        "letters, digits, '.' or '-', like AAPL or BRK.B)"]


def test_live_money_needs_confirmation() -> None:
    data = base()
    data["api_config"]["trade_api"] = "alpaca_live"
    [line] = problems(data)
    assert "alpaca_live trades real money" in line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file not found: .*nope\.json$"):
        load_session_config(tmp_path / "nope.json")


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "session_name": "x",\n  "mode": "backtest"\n  "oops": 1\n}\n')
    with pytest.raises(ConfigError, match=r"broken\.json: invalid JSON at line 4, column 3: Expecting ',' delimiter"):
        load_session_config(path)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object at the top level, found list"):
        load_session_config(path)


def test_symbols_are_upper_cased_and_1m_stream_always_present() -> None:
    data = base()
    data["session_data_config"]["symbols"] = ["aapl"]
    data["session_data_config"]["streams"] = ["5m"]
    config = parse_session_config(data)
    assert config.symbols == ["AAPL"]
    assert config.session_data_config.streams == ["1m", "5m"]


def test_gap_filler_is_on_by_default_so_live_sessions_lose_no_bar() -> None:
    data = base()
    del data["session_data_config"]["gap_filler"]
    assert parse_session_config(data).session_data_config.gap_filler.enabled is True
