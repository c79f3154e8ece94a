"""The session config: the JSON file `system start` runs (see `config/*.json`).

`load_session_config(path)` returns a validated, frozen `SessionConfig` or raises `ConfigError`
with one line per problem, each naming the JSON path, what was found and what is expected.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from mismartera.config import strict_json
from mismartera.errors import ConfigError
from mismartera.suggest import did_you_mean
from mismartera.symbols import check_symbol

INTERVALS = ("1m", "5m", "15m", "30m", "1h", "1d")
Interval = Literal["1m", "5m", "15m", "30m", "1h", "1d"]


class _Model(BaseModel):
    # Numbers must be finite (no NaN or Infinity) and a boolean is never taken as a number.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            kinds = {annotation, *getattr(annotation, "__args__", ())}
            if bool not in kinds and kinds & {int, float}:
                raise ValueError(f"{str(value).lower()} is a boolean (expected a number)")
        return value


def _symbols(values: list[str]) -> list[str]:
    out = []
    for value in values:
        symbol = check_symbol(value)
        if symbol in out:
            raise ValueError(f"{symbol} is listed twice")
        out.append(symbol)
    return out


class BacktestConfig(_Model):
    start_date: date
    end_date: date
    speed_multiplier: float = Field(0.0, ge=0)
    prefetch_days: int = Field(1, ge=0, le=30)

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")
        if start is not None and value < start:
            raise ValueError(f"{value.isoformat()} is before start_date {start.isoformat()}")
        return value


class ReplayConfig(_Model):
    """`api_config.data_api: "replay"`: a live session fed by stored bars instead of a live stream."""

    start_date: date
    end_date: date
    speed_multiplier: float = Field(0.0, ge=0)       # 0: as fast as the bars can be delivered
    minutes_before_open: int = Field(5, ge=0, le=330)  # where the clock starts on each day

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")
        if start is not None and value < start:
            raise ValueError(f"{value.isoformat()} is before start_date {start.isoformat()}")
        return value


class HistoricalConfig(_Model):
    trailing_days: int = Field(0, ge=0, le=3650)
    intervals: list[Interval] = ["1m"]


class GapFillerConfig(_Model):
    """Live sessions: fetch missed minutes from the REST API (on by default, so no bar is lost)."""

    enabled: bool = True
    max_retries: int = Field(3, ge=0)
    retry_interval_seconds: float = Field(60.0, gt=0)
    # how long a minute missing from the stream (and not yet fetched) holds the strategies back
    # before it is released to them as missing; it is then still fetched in the background
    gap_wait_seconds: float = Field(20.0, gt=0, le=600)


TickStream = Literal["trades", "quotes"]
TICK_STREAMS = ("trades", "quotes")


class SessionDataConfig(_Model):
    symbols: list[str] = Field(min_length=1)
    streams: list[Interval] = ["1m"]
    # "trades" and "quotes" written in `streams` land here, so `streams` stays the bar intervals
    tick_streams: list[TickStream] = []
    historical: HistoricalConfig = HistoricalConfig()
    gap_filler: GapFillerConfig = GapFillerConfig()

    _check_symbols = field_validator("symbols")(classmethod(lambda cls, v: _symbols(v)))

    @model_validator(mode="before")
    @classmethod
    def _split_tick_streams(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("streams"), list):
            streams = data["streams"]
            ticks = [s for s in streams if s in TICK_STREAMS]
            if ticks:
                data = {**data, "streams": [s for s in streams if s not in TICK_STREAMS],
                        "tick_streams": list(dict.fromkeys([*data.get("tick_streams", []), *ticks]))}
        return data

    @field_validator("streams")
    @classmethod
    def _needs_1m(cls, value: list[Interval]) -> list[Interval]:
        if "1m" not in value:
            value = ["1m", *value]
        return list(dict.fromkeys(value))


class StrategyConfig(_Model):
    name: str | None = None
    path: str | None = None
    symbols: list[str] | None = None
    params: dict[str, Any] = {}
    on_error: Literal["disable", "stop"] = "disable"

    _check_symbols = field_validator("symbols")(
        classmethod(lambda cls, v: None if v is None else _symbols(v))
    )

    @model_validator(mode="after")
    def _name_or_path(self) -> StrategyConfig:
        if bool(self.name) == bool(self.path):
            raise ValueError("give exactly one of 'name' (a built-in or dotted module) or 'path' (a .py file)")
        return self

    @property
    def label(self) -> str:
        return self.name or Path(self.path or "").stem


class TradingConfig(_Model):
    initial_cash: float = Field(100_000.0, gt=0)
    max_buying_power: float | None = Field(None, gt=0)
    max_per_trade: float | None = Field(None, gt=0)
    max_per_symbol: float | None = Field(None, gt=0)
    max_open_positions: int | None = Field(None, ge=1)
    commission_per_share: float = Field(0.0, ge=0)
    commission_min: float = Field(0.0, ge=0)
    slippage_bps: float = Field(0.0, ge=0)
    allow_short: bool = False
    close_positions_at_end_of_day: bool = False


class ApiConfig(_Model):
    data_api: Literal["database", "alpaca", "replay"] = "database"
    trade_api: Literal["simulated", "alpaca_paper", "alpaca_live"] = "simulated"
    # Alpaca's market-data feed for live bars, REST history and backfills: iex is free, sip
    # (every US exchange) needs a paid subscription.
    data_feed: Literal["iex", "sip"] = "iex"
    confirm_live_trading: bool = False
    # a stop waits this long for orders sent but not yet answered, then records them `unknown`
    stop_order_grace_seconds: float = Field(10.0, ge=0, le=120)
    # a bar stream silent this long during market hours shows as silent and is reconnected
    data_timeout_seconds: float = Field(30.0, gt=0, le=600)


class SessionConfig(_Model):
    session_name: str = Field(min_length=1, max_length=200)
    mode: Literal["backtest", "live"] = "backtest"
    exchange_group: Literal["US_EQUITY"] = "US_EQUITY"
    backtest_config: BacktestConfig | None = None
    replay_config: ReplayConfig | None = None
    session_data_config: SessionDataConfig
    strategies: list[StrategyConfig] = []
    trading_config: TradingConfig = TradingConfig()
    api_config: ApiConfig = ApiConfig()
    # A strategy callback running longer than this fails the session (its thread is abandoned).
    strategy_timeout_seconds: float = Field(10.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _mode_needs(self) -> SessionConfig:
        if self.mode == "backtest" and self.backtest_config is None:
            raise ValueError("backtest_config: missing (a backtest needs start_date and end_date)")
        if self.api_config.data_api == "replay" and (self.mode != "live" or self.replay_config is None):
            raise ValueError("api_config.data_api: replay runs a live session on stored bars; it needs mode 'live' "
                             "and replay_config with start_date and end_date")
        if self.api_config.trade_api == "alpaca_live" and not self.api_config.confirm_live_trading:
            raise ValueError(
                "api_config.trade_api: alpaca_live trades real money; set api_config.confirm_live_trading "
                "to true to allow it"
            )
        return self

    @property
    def symbols(self) -> list[str]:
        return list(self.session_data_config.symbols)


# ---------------------------------------------------------------- error formatting

_EXPECTED = {
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_type": "a date YYYY-MM-DD",
    "date_from_datetime_inexact": "a date YYYY-MM-DD",
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The known keys of the model reached by following `loc` from SessionConfig."""
    model: Any = SessionConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for arg in list(candidates):
            candidates.extend(getattr(arg, "__args__", ()))
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(getattr(model, "model_fields", {}))


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _found(value: Any) -> str:
    """The offending value as shown in a message (long values cut)."""
    if isinstance(value, str):
        text = repr(value)
    else:
        text = json.dumps(value) if isinstance(value, (dict, list, bool, type(None))) else str(value)
    return text if len(text) <= 60 else text[:60] + f"… ({len(text):,} characters)"


def format_validation_error(error: ValidationError) -> list[str]:
    """One line per problem: `json.path: what was found, what is expected`."""
    lines = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            parent = loc[:-1]
            guess = did_you_mean(key, _fields_at(parent))
            hint = f" — did you mean '{guess}'?" if guess else ""
            known = ", ".join(_fields_at(parent))
            lines.append(f"{_path(loc)}: unknown key{hint}" + ("" if guess else f" (expected one of: {known})"))
        elif kind == "missing":
            lines.append(f"{_path(loc)}: missing (required)")
        elif kind in ("value_error", "assertion_error"):
            message = str(item.get("ctx", {}).get("error", item["msg"]))
            if not loc and ":" in message.split(" ")[0]:
                lines.append(message)
            else:
                lines.append(f"{_path(loc)}: {message}")
        elif kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            lines.append(f"{_path(loc)}: {_found(item.get('input'))} is not allowed (expected {expected})")
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            ctx = item.get("ctx", {})
            words = {"greater_than": "> {gt}", "greater_than_equal": ">= {ge}",
                     "less_than": "< {lt}", "less_than_equal": "<= {le}"}[kind].format(**ctx)
            lines.append(f"{_path(loc)}: {_found(item.get('input'))} is out of range (expected a number {words})")
        elif kind == "string_too_long":
            limit = item.get("ctx", {}).get("max_length")
            lines.append(f"{_path(loc)}: is {len(str(item.get('input')))} characters long (expected at most {limit})")
        elif kind == "finite_number":
            lines.append(f"{_path(loc)}: {_found(item.get('input'))} is not a finite number (expected a finite number)")
        elif kind == "too_short":
            lines.append(f"{_path(loc)}: is empty (expected at least one entry)")
        elif kind in _EXPECTED:
            lines.append(f"{_path(loc)}: {_found(item.get('input'))} is not valid (expected {_EXPECTED[kind]})")
        else:
            lines.append(f"{_path(loc)}: {item['msg']} (found {_found(item.get('input'))})")
    return lines


def parse_session_config(data: Any, source: str = "config") -> SessionConfig:
    """Validate already-parsed JSON data."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level, found {type(data).__name__}")
    try:
        return SessionConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid session config", format_validation_error(exc)) from None


def load_session_config(path: str | Path) -> SessionConfig:
    """Read and validate a session-config JSON file."""
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"config file not found: {file}")
    if file.is_dir():
        raise ConfigError(f"{file} is a folder (expected a session-config .json file)")
    try:
        data = strict_json.loads(strict_json.decode(file.read_bytes(), str(file)), str(file))
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    except strict_json.JsonProblem as exc:
        raise ConfigError(str(exc)) from None
    return parse_session_config(data, str(file))


def with_overrides(config: SessionConfig, *, start: date | None = None, end: date | None = None,
                   symbols: list[str] | None = None, source: str = "config") -> SessionConfig:
    """The config with a run's command-line overrides applied (`--start`, `--end`, `--symbols`), checked
    like the file. With new symbols, each strategy keeps those of its own that remain, and trades all
    of the new ones when none remain."""
    if start is None and end is None and symbols is None:
        return config
    data = config.model_dump(mode="json")
    if start is not None or end is not None:
        if data.get("backtest_config") is None:
            raise ConfigError(f"{source}: --start and --end apply to backtests (this is a {config.mode} session)")
        if start is not None:
            data["backtest_config"]["start_date"] = start.isoformat()
        if end is not None:
            data["backtest_config"]["end_date"] = end.isoformat()
    if symbols is not None:
        data["session_data_config"]["symbols"] = symbols
        wanted = {symbol.strip().upper() for symbol in symbols}
        for strategy in data.get("strategies", []):
            if strategy.get("symbols") is not None:
                kept = [symbol for symbol in strategy["symbols"] if symbol in wanted]
                strategy["symbols"] = kept or None
    return parse_session_config(data, f"{source} with the command-line overrides")
