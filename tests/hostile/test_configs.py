"""Issue 15, points 3, 5 and 8: session configs are read strictly (BOM, duplicate keys, booleans,
finite numbers, nesting depth, long strings, the one symbol rule) with one line each and exit 4."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mismartera.config.session import load_session_config
from mismartera.errors import ConfigError

SAMPLE = (Path(__file__).resolve().parents[2] / "mismartera" / "samples" / "demo.json").read_text()


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "session.json"
    path.write_text(text, encoding=encoding)
    return path


def problem(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_session_config(path)
    return str(caught.value).replace(str(path), "CFG")


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    assert load_session_config(write(tmp_path, "\ufeff" + SAMPLE)).session_name == "demo"


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path: Path) -> None:
    text = SAMPLE.replace('"prefetch_days": 2', '"prefetch_days": 2,\n    "speed_multiplier": 5')
    assert problem(tmp_path, text) == ("CFG: key 'speed_multiplier' is given twice in backtest_config "
                                       "(lines 7 and 9; expected each key once)")
    text = SAMPLE.replace('"mode": "backtest",', '"mode": "backtest",\n  "mode": "live",')
    assert problem(tmp_path, text) == ("CFG: key 'mode' is given twice in the top-level object "
                                       "(lines 3 and 4; expected each key once)")


CASES = [
    ('"prefetch_days": 2', '"prefetch_days": true',
     "CFG: invalid session config\nbacktest_config.prefetch_days: true is a boolean (expected a number)"),
    ('"initial_cash": 100000', '"initial_cash": Infinity',
     "CFG: trading_config.initial_cash: Infinity is not a finite number (line 18; expected a finite number)"),
    ('"initial_cash": 100000', '"initial_cash": 1e999',
     "CFG: trading_config.initial_cash: 1e999 is not a finite number (line 18; expected a finite number)"),
    ('"quantity": 30', '"quantity": NaN',
     "CFG: strategies[0].params.quantity: NaN is not a finite number (line 15; expected a finite number)"),
    ('"slippage_bps": 1', '"slippage_bps": -Infinity',
     "CFG: trading_config.slippage_bps: -Infinity is not a finite number (line 21; expected a finite number)"),
    ('"AAPL", "MSFT"', '"AAPL", "BRK/B"',
     "CFG: invalid session config\nsession_data_config.symbols: 'BRK/B' is not a ticker symbol (expected a "
     "letter, then up to 9 letters, digits, '.' or '-', like AAPL or BRK.B)"),
    ('"AAPL", "MSFT"', '"AAPL", "ABCDEFGHIJKLMNOP"',
     "CFG: invalid session config\nsession_data_config.symbols: 'ABCDEFGHIJKLMNOP' is not a ticker symbol "
     "(expected a letter, then up to 9 letters, digits, '.' or '-', like AAPL or BRK.B)"),
]


@pytest.mark.parametrize(("old", "new", "message"), CASES, ids=["bool", "inf", "huge", "nan", "-inf", "slash",
                                                                 "16chars"])
def test_each_bad_number_or_symbol_is_one_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SAMPLE
    assert problem(tmp_path, SAMPLE.replace(old, new)) == message


def test_deep_nesting_is_refused_before_json_recurses(tmp_path: Path) -> None:
    text = SAMPLE.replace('"params": {', '"params": {"x": ' + "[" * 100_000 + "]" * 100_000 + ",")
    assert problem(tmp_path, text) == "CFG: line 15: nested more than 32 levels deep (a session config needs a few)"


def test_a_100kb_session_name_is_refused_quickly(tmp_path: Path) -> None:
    text = SAMPLE.replace('"session_name": "demo"', '"session_name": "' + "x" * 100_000 + '"')
    started = time.perf_counter()
    assert problem(tmp_path, text) == ("CFG: invalid session config\n"
                                       "session_name: is 100000 characters long (expected at most 200)")
    assert time.perf_counter() - started < 1.0


def test_programmatic_configs_get_the_same_checks() -> None:
    from mismartera.config.session import parse_session_config

    data = json.loads(SAMPLE)
    data["trading_config"]["initial_cash"] = float("inf")
    with pytest.raises(ConfigError, match=r"trading_config.initial_cash: inf is not a finite number"):
        parse_session_config(data)


@pytest.mark.e2e
def test_a_bad_config_exits_4_with_one_line(run_cli, tmp_path: Path) -> None:
    path = write(tmp_path, SAMPLE.replace('"prefetch_days": 2', '"prefetch_days": 2, "prefetch_days": 3'))
    result = run_cli("system", "start", str(path), "--wait")
    assert result.code == 4, result
    assert result.err.strip() == (f"Error: {path}: key 'prefetch_days' is given twice in backtest_config "
                                  "(lines 8 and 8; expected each key once)")
