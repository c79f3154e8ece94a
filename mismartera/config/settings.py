"""Resolve mismartera's settings once: defaults, then the settings file, then the environment.

This is the only module that reads `os.environ` (and it can be given another mapping, which is how
tests and the one-shot CLI pass theirs). Secrets (Alpaca keys) come from the environment or the
settings file, never from command-line arguments, and `Settings.describe()` masks them.

Environment:
    MISMARTERA_HOME       put data, state and config under this one folder
    MISMARTERA_DB_URL     any SQLAlchemy URL (default: SQLite file in the data dir)
    MISMARTERA_LOG_LEVEL  level of the log file (default INFO)
    MISMARTERA_BAR_CACHE  on (default) / off: backtests replay from the columnar bar cache
    ALPACA_API_KEY, ALPACA_SECRET_KEY, ALPACA_BASE_URL, ALPACA_DATA_URL, ALPACA_STREAM_URL,
    ALPACA_TRADING_STREAM_URL

Settings file: `<config dir>/settings.toml`:

    [database]
    url = "postgresql+psycopg://user:pw@localhost/mismartera"
    [alpaca]
    api_key = "..."
    secret_key = "..."
    [logging]
    level = "INFO"
    [cache]
    enabled = true
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mismartera.errors import ConfigError

APP_NAME = "mismartera"


@dataclass(frozen=True)
class AlpacaSettings:
    api_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    data_url: str | None = None
    stream_url: str | None = None
    trading_stream_url: str | None = None

    @property
    def has_keys(self) -> bool:
        return bool(self.api_key and self.secret_key)

    def __repr__(self) -> str:
        return f"AlpacaSettings(api_key={mask_secret(self.api_key)!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class Settings:
    home: Path | None
    data_dir: Path
    state_dir: Path
    config_dir: Path
    db_url: str
    log_level: str
    alpaca: AlpacaSettings
    settings_file: Path
    bar_cache: bool = True   # replay from the columnar bar cache (`[cache] enabled`, MISMARTERA_BAR_CACHE, --no-cache)

    def __repr__(self) -> str:
        return f"Settings(home={self.home!r}, db_url={mask_url(self.db_url)!r}, alpaca={self.alpaca!r})"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "mismartera.log"

    @property
    def history_file(self) -> Path:
        return self.state_dir / "history"

    def ensure_dirs(self) -> None:
        for folder in (self.data_dir, self.state_dir, self.config_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def describe(self) -> list[tuple[str, str]]:
        """The effective settings as (name, value) pairs, secrets masked."""
        return [
            ("home", str(self.home) if self.home else "(platform defaults)"),
            ("data_dir", str(self.data_dir)),
            ("state_dir", str(self.state_dir)),
            ("config_dir", str(self.config_dir)),
            ("settings_file", str(self.settings_file)),
            ("db_url", mask_url(self.db_url)),
            ("log_file", str(self.log_file)),
            ("log_level", self.log_level),
            ("bar_cache", "on" if self.bar_cache else "off"),
            ("history_file", str(self.history_file)),
            ("alpaca.api_key", mask_secret(self.alpaca.api_key)),
            ("alpaca.secret_key", mask_secret(self.alpaca.secret_key)),
            ("alpaca.base_url", self.alpaca.base_url or "(alpaca default)"),
            ("alpaca.data_url", self.alpaca.data_url or "(alpaca default)"),
            ("alpaca.stream_url", self.alpaca.stream_url or "(alpaca default)"),
        ]


def mask_secret(value: str | None) -> str:
    """`PKAB…` style: enough to recognise a key, never enough to use it."""
    if not value:
        return "(not set)"
    if len(value) <= 8:
        return "****"
    return value[:4] + "…" + "*" * 4


_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z0-9+.\-]+://[^:/@]*:)(?P<pw>[^@]*)(?P<tail>@)")


def mask_url(url: str) -> str:
    """Hide the password of a database URL."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***" + m.group("tail"), url)


def _platform_dirs(environ: Mapping[str, str]) -> tuple[Path | None, Path, Path, Path]:
    home = environ.get("MISMARTERA_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return root, root / "data", root / "state", root / "config"
    import platformdirs

    return (
        None,
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
    )


def _read_settings_file(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    known = {"database": {"url"}, "logging": {"level"}, "cache": {"enabled"},
             "alpaca": {"api_key", "secret_key", "base_url", "data_url", "stream_url", "trading_stream_url"}}
    problems = []
    for section, values in data.items():
        if section not in known or not isinstance(values, dict):
            problems.append(f"{section}: unknown section (expected one of {', '.join(sorted(known))})")
            continue
        for key in values:
            if key not in known[section]:
                problems.append(f"{section}.{key}: unknown key (expected one of {', '.join(sorted(known[section]))})")
    if problems:
        raise ConfigError(f"{path}: invalid settings file", problems)
    return data


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings from defaults, the settings file and the environment."""
    env = os.environ if environ is None else environ
    home, data_dir, state_dir, config_dir = _platform_dirs(env)
    settings_file = config_dir / "settings.toml"
    file_values = _read_settings_file(settings_file)
    db_section = file_values.get("database", {})
    alpaca_section = file_values.get("alpaca", {})
    log_section = file_values.get("logging", {})

    default_db = f"sqlite:///{data_dir / 'mismartera.db'}"
    db_url = env.get("MISMARTERA_DB_URL") or db_section.get("url") or default_db

    def pick(env_name: str, key: str) -> str | None:
        return env.get(env_name) or alpaca_section.get(key) or None

    alpaca = AlpacaSettings(
        api_key=pick("ALPACA_API_KEY", "api_key"),
        secret_key=pick("ALPACA_SECRET_KEY", "secret_key"),
        base_url=pick("ALPACA_BASE_URL", "base_url"),
        data_url=pick("ALPACA_DATA_URL", "data_url"),
        stream_url=pick("ALPACA_STREAM_URL", "stream_url"),
        trading_stream_url=pick("ALPACA_TRADING_STREAM_URL", "trading_stream_url"),
    )
    bar_cache = _switch(env.get("MISMARTERA_BAR_CACHE"), file_values.get("cache", {}).get("enabled", True),
                        "MISMARTERA_BAR_CACHE / [cache] enabled")
    level = (env.get("MISMARTERA_LOG_LEVEL") or log_section.get("level") or "INFO").upper()
    return Settings(
        home=home,
        data_dir=data_dir,
        state_dir=state_dir,
        config_dir=config_dir,
        db_url=db_url,
        log_level=level,
        alpaca=alpaca,
        settings_file=settings_file,
        bar_cache=bar_cache,
    )


def _switch(env_value: str | None, file_value: object, name: str) -> bool:
    """An on/off setting: the environment's word, else the settings file's boolean."""
    if env_value is None or not env_value.strip():
        if isinstance(file_value, bool):
            return file_value
        raise ConfigError(f"{name}: expected true or false (got {file_value!r})")
    word = env_value.strip().lower()
    if word in ("1", "on", "true", "yes"):
        return True
    if word in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{name}: expected on or off (got {env_value!r})")
