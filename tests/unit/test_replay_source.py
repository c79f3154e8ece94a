"""Issue 11: the replay data source (`api_config.data_api: "replay"`) — config checks, its clock, its
stream (every stored bar once, in order; a quick stop), sessions run through `system start`, and the
source and broker registries."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from synthetic_bars import synthetic_bars

from mismartera.bars import Bar
from mismartera.commands.context import AppContext
from mismartera.config.session import load_session_config, parse_session_config
from mismartera.config.settings import load_settings
from mismartera.errors import ConfigError
from mismartera.execution.registry import BROKERS
from mismartera.named import Registry
from mismartera.sources.base import SourceSetup
from mismartera.sources.registry import LIVE_SOURCES, open_source
from mismartera.sources.replay import AFTER_CLOSE, ReplayClock, ReplaySource, ReplayStream

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["AAA", "BBB"]
DAY = date(2024, 11, 29)   # closes at 13:00 ET


@pytest.fixture
def app(tmp_path: Path):
    ctx = AppContext(load_settings({"MISMARTERA_HOME": str(tmp_path / "home")}))
    yield ctx
    if ctx.has_system() and ctx.system.state.active:
        ctx.system.stop(5)
    ctx.close()


def replay_config(speed: float = 0.0, start: date = DAY, end: date = DAY, **extra: object) -> dict:
    return {"session_name": "rehearsal", "mode": "live",
            "replay_config": {"start_date": start.isoformat(), "end_date": end.isoformat(),
                              "speed_multiplier": speed},
            "session_data_config": {"symbols": SYMBOLS},
            "strategies": [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20, "quantity": 10}}],
            "api_config": {"data_api": "replay", "trade_api": "simulated"}, **extra}


def test_replay_needs_a_live_session_with_replay_config() -> None:
    data = replay_config()
    del data["replay_config"]
    with pytest.raises(ConfigError, match="replay runs a live session on stored bars"):
        parse_session_config(data)
    data = replay_config(mode="backtest", backtest_config={"start_date": "2024-11-29", "end_date": "2024-11-29"})
    with pytest.raises(ConfigError, match="needs mode 'live'"):
        parse_session_config(data)
    data = replay_config(start=DAY, end=DAY - timedelta(days=3))
    with pytest.raises(ConfigError, match=r"replay_config\.end_date: 2024-11-26 is before start_date 2024-11-29"):
        parse_session_config(data)


def test_the_shipped_rehearsal_sample_loads() -> None:
    config = load_session_config(ROOT / "config" / "replay_rehearsal.json")
    assert config.mode == "live" and config.api_config.data_api == "replay"
    assert config.replay_config is not None and config.replay_config.speed_multiplier == 60


def test_a_window_without_trading_days_is_refused(app: AppContext) -> None:
    config = parse_session_config(replay_config(start=date(2024, 11, 28), end=date(2024, 11, 28)))  # Thanksgiving
    with pytest.raises(ConfigError, match="no trading days between 2024-11-28 and 2024-11-28"):
        open_source(SourceSetup(config, app.settings, app.bars, app.time))


def test_the_clock_stands_still_at_speed_zero_and_runs_at_speed_n() -> None:
    session = _session()
    still = ReplayClock(session.open, 0)
    assert still.now() == session.open
    still.jump(session.open.timestamp() + 60)
    still.jump(session.open.timestamp())          # never backwards
    assert still.epoch() == session.open.timestamp() + 60
    running = ReplayClock(session.open, 1000)
    time.sleep(0.05)
    assert running.epoch() > session.open.timestamp()


def _session():
    from mismartera.timekeeping.calendar import TimeManager

    session = TimeManager().session(DAY)
    assert session is not None
    return session


def test_the_stream_puts_every_stored_bar_once_in_minute_then_config_order(app: AppContext) -> None:
    bars = synthetic_bars(app.time, SYMBOLS, DAY, DAY)
    del bars["BBB"][3]                                    # a gap: BBB has no bar at minute 3
    for symbol, rows in bars.items():
        app.bars.upsert(symbol, "1m", rows)
    session = _session()
    clock = ReplayClock(session.open - timedelta(minutes=5), 0)
    stream = ReplayStream(app.bars, SYMBOLS, [session], clock, timedelta(minutes=5)).start()
    seen: list[Bar] = []
    deadline = time.monotonic() + 30
    while stream.state == "streaming" or not stream.bars.empty():
        assert time.monotonic() < deadline
        try:
            seen.append(stream.bars.get(timeout=0.05))
        except Exception:
            continue
    assert stream.state == "ended" and stream.streamed == len(seen) == 2 * session.minutes - 1
    assert [(b.ts, SYMBOLS.index(b.symbol)) for b in seen] == sorted((b.ts, SYMBOLS.index(b.symbol)) for b in seen)
    assert clock.epoch() == session.close.timestamp() + AFTER_CLOSE
    stream.stop()


def test_stop_is_quick_while_nobody_takes_the_bars(app: AppContext) -> None:
    for symbol, rows in synthetic_bars(app.time, SYMBOLS, DAY, DAY).items():
        app.bars.upsert(symbol, "1m", rows)
    session = _session()
    stream = ReplayStream(app.bars, SYMBOLS, [session], ReplayClock(session.open, 0), timedelta(0)).start()
    assert _wait(lambda: stream.bars.full())
    started = time.monotonic()
    assert stream.stop(2.0)
    assert time.monotonic() - started < 1.0 and stream.state == "stopped"
    assert "replay-stream" not in {t.name for t in threading.enumerate()}


def _wait(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_paced_rehearsal_runs_the_live_path_at_speed_n(app: AppContext) -> None:
    for symbol, rows in synthetic_bars(app.time, SYMBOLS, DAY, DAY).items():
        app.bars.upsert(symbol, "1m", rows[:60])          # the first hour only; the clock still runs to the close
    config = parse_session_config(replay_config(speed=6000.0))
    started = time.monotonic()
    status = app.system.run(config, timeout=120)
    elapsed = time.monotonic() - started
    # 5 minutes before the open + 210 minutes of session at 6000x: at least 2.15 s of wall time
    assert elapsed >= (215 * 60) / 6000 - 0.1
    assert status.state == "stopped" and status.mode == "live"
    coordinator = app.system.coordinator
    assert coordinator.finished and coordinator.bars_done == 120
    assert coordinator.missing == 2 * (210 - 60)          # the store has no bar after the first hour
    _, daily = app.system.report(status.run_id)
    assert [row.day for row in daily] == [DAY]


def test_stop_during_a_paced_rehearsal_returns_within_seconds(app: AppContext) -> None:
    for symbol, rows in synthetic_bars(app.time, SYMBOLS, DAY, DAY).items():
        app.bars.upsert(symbol, "1m", rows)
    app.system.start(parse_session_config(replay_config(speed=10.0)))
    assert _wait(lambda: app.system.coordinator is not None and app.system.coordinator.waiting != "")
    started = time.monotonic()
    status = app.system.stop(5)
    assert time.monotonic() - started < 4.0 and status.state == "stopped"


def test_registries_list_the_providers_and_name_the_choices() -> None:
    assert LIVE_SOURCES.names() == ["alpaca", "replay"]
    assert BROKERS.names() == ["simulated", "alpaca_paper", "alpaca_live"]
    assert LIVE_SOURCES.get("replay") is ReplaySource
    with pytest.raises(ConfigError, match=r"api_config.data_api: unknown 'replai' \(expected one of alpaca, "
                                          r"replay\) — did you mean 'replay'\?"):
        LIVE_SOURCES.get("replai")
    extra = Registry("x", {})
    extra.register("replay", "mismartera.sources.replay:ReplaySource")
    assert extra.get("replay") is ReplaySource
    with pytest.raises(ValueError, match="not 'module:attribute'"):
        extra.register("bad", "mismartera.sources.replay")


def members(protocol: type) -> set[str]:
    """The names a protocol asks for: its methods, properties and annotated attributes."""
    names = {name for name in vars(protocol) if not name.startswith("_")}
    return names | set(getattr(protocol, "__annotations__", {}))


@pytest.mark.parametrize("registry", [BROKERS, LIVE_SOURCES], ids=["brokers", "sources"])
def test_every_registered_provider_has_every_member_of_its_protocol(registry: Registry) -> None:
    from mismartera.execution.broker import Broker
    from mismartera.sources.base import MarketDataSource

    protocol = Broker if registry is BROKERS else MarketDataSource
    for name in registry.names():
        made = registry.get(name)
        provider = made if isinstance(made, type) else made.__annotations__["return"]
        if isinstance(provider, str):   # a maker function annotated under `from __future__ import annotations`
            provider = getattr(__import__(made.__module__, fromlist=[provider]), provider)
        missing = {m for m in members(protocol) if not hasattr(provider, m)}
        missing -= {m for m in missing if m in provider.__init__.__code__.co_names}
        assert missing == set(), f"{name}: {provider.__name__} lacks {sorted(missing)}"


def test_speed_given_at_start_paces_a_replay_and_is_refused_for_a_market_session(app: AppContext) -> None:
    from mismartera.errors import UsageError

    for symbol, rows in synthetic_bars(app.time, SYMBOLS, DAY, DAY).items():
        app.bars.upsert(symbol, "1m", rows)
    app.system.start(parse_session_config(replay_config(speed=0.0)), 5.0)
    assert app.system.config is not None and app.system.config.replay_config is not None
    assert app.system.config.replay_config.speed_multiplier == 5.0
    app.system.stop(5)
    market = replay_config()
    del market["replay_config"]
    market["api_config"] = {"data_api": "alpaca", "trade_api": "simulated"}
    with pytest.raises(UsageError, match="--speed applies to backtests and replays; rehearsal is a live session"):
        app.system.start(parse_session_config(market), 5.0)
    with pytest.raises(UsageError, match="--speed -1 is negative"):
        app.system.start(parse_session_config(replay_config()), -1.0)
