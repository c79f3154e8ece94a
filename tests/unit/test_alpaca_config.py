"""The shipped live/paper sample config and the live-money guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mismartera.config.session import load_session_config, parse_session_config
from mismartera.errors import ConfigError

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "live_paper.json"


def test_live_paper_sample_validates() -> None:
    config = load_session_config(SAMPLE)
    assert config.mode == "live"
    assert config.backtest_config is None
    assert (config.api_config.data_api, config.api_config.trade_api) == ("alpaca", "alpaca_paper")
    assert config.api_config.confirm_live_trading is False
    assert [s.name for s in config.strategies] == ["sma_crossover"]
    assert set(config.strategies[0].symbols or []) <= set(config.symbols)


def test_live_money_needs_the_explicit_confirmation() -> None:
    data = json.loads(SAMPLE.read_text())
    data["api_config"]["trade_api"] = "alpaca_live"
    with pytest.raises(ConfigError, match="confirm_live_trading"):
        parse_session_config(data, "live.json")
    data["api_config"]["confirm_live_trading"] = True
    assert parse_session_config(data, "live.json").api_config.trade_api == "alpaca_live"
