"""Resolve mismartera's settings once: defaults, then the settings file, then the environment.

This is the only module that reads `os.environ` (and it can be given another mapping, which is how
tests and the one-shot CLI pass theirs). Secrets (Alpaca keys) come from the environment or the
settings file, never from command-line arguments, and `Settings.describe()` masks them.

Environment:
    MISMARTERA_HOME       put data, state and config under this one folder
    MISMARTERA_DB_URL     any SQLAlchemy URL (default: SQLite file in the data dir)
    MISMARTERA_LOG_LEVEL  level of the log file (default INFO)
    MISMARTERA_API_HOST, MISMARTERA_API_PORT   where a session's control API listens (127.0.0.1, a free port)
    MISMARTERA_BAR_CACHE  on (default) / off: backtests replay from the columnar bar cache
    ALPACA_API_KEY, ALPACA_SECRET_KEY, ALPACA_BASE_URL, ALPACA_DATA_URL, ALPACA_STREAM_URL,
    ALPACA_TRADING_STREAM_URL

Settings file: `<config dir>/settings.toml`:

    [database]
    url = "postgresql+psycopg://user:pw@localhost/mismartera"
    busy_timeout_seconds = 60         # SQLite: how long a writer waits for another writer
    connect_timeout_seconds = 5       # PostgreSQL: connecting
    statement_timeout_seconds = 15    # PostgreSQL: one statement (server side); the client waits 2 s more
    keepalive_seconds = 10            # PostgreSQL: TCP keepalives (idle; probes every third of it)
    [alpaca]
    api_key = "..."
    secret_key = "..."
    [logging]
    level = "INFO"
    [api]
    host = "127.0.0.1"   # another address serves beyond this machine (a warning is printed)
    port = 0             # 0: a free port
    [import]
    max_price = 1e9                   # CSV rows with a larger price or vwap are bad rows
    max_volume = 1e13                 # … and with a larger volume or trade count
    [cache]
    enabled = true
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mismartera.errors import ConfigError
from mismartera.files import os_error_line, private_dir

APP_NAME = "mismartera"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
class ApiSettings:
    """Where the control API of a session listens."""

    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class DatabaseSettings:
    """How long the database may keep mismartera waiting (see the settings-file section above)."""

    busy_timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 5.0
    statement_timeout_seconds: float = 15.0
    keepalive_seconds: float = 10.0


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
    api: ApiSettings = field(default_factory=ApiSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    import_limits: tuple[float, float] = (1e9, 1e13)   # (max_price, max_volume) of imported bars
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
        """Make the data, state (0700: history, log, tokens) and config folders, or raise a ConfigError
        saying which one cannot be used and why."""
        for folder in (self.data_dir, self.state_dir, self.config_dir):
            try:
                if folder == self.state_dir:
                    private_dir(folder)
                else:
                    folder.mkdir(parents=True, exist_ok=True)
                if not folder.is_dir():
                    raise ConfigError(f"cannot use {folder}: it is not a folder{self._home_hint()}")
                if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                    raise ConfigError(f"cannot use {folder}: permission denied (expected a folder you can read "
                                      f"and write){self._home_hint()}")
            except OSError as exc:
                raise ConfigError(os_error_line(exc, "creating", folder) + self._home_hint()) from None

    def _home_hint(self) -> str:
        return " (set by MISMARTERA_HOME)" if self.home else ""

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
            ("api.host", self.api.host),
            ("api.port", str(self.api.port) if self.api.port else "0 (a free port)"),
        ]


def mask_secret(value: str | None) -> str:
    """`PKAB…` style: enough to recognise a key, never enough to use it."""
    if not value:
        return "(not set)"
    if len(value) <= 8:
        return "****"
    return value[:4] + "…" + "*" * 4


# Linear time on any input: every repetition is bounded or stops at a delimiter that cannot occur
# inside what it repeats over, so no position is scanned more than a constant number of times.
_URL_USERINFO = re.compile(r"(?P<head>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^:/@\s]{0,256}:)"
                           r"(?P<pw>[^@/\s]{1,256})(?P<tail>@)")
_URL_QUERY_SECRET = re.compile(r"(?i)(?P<head>[?&;](?:ssl)?(?:password|passwd|pwd|passphrase|secret|token)"
                               r"[A-Za-z0-9_]{0,32}=)(?P<pw>[^&#\s]{1,4096})")


def mask_url(url: str) -> str:
    """Hide the passwords of a URL: `user:pw@` and query parameters such as `password=` or `sslpassword=`."""
    url = _URL_USERINFO.sub(lambda m: m.group("head") + "***" + m.group("tail"), url)
    return _URL_QUERY_SECRET.sub(lambda m: m.group("head") + "***", url)


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


_TEXT, _SECONDS, _POSITIVE = "a string", "a number of seconds > 0", "a number > 0"
_PORT = "a port number (0 to 65535)"   # checked where it is read (_api_settings)
_SWITCH = "true or false"              # checked where it is read (_switch)
SETTINGS_KEYS: dict[str, dict[str, str]] = {
    "database": {"url": _TEXT, "busy_timeout_seconds": _SECONDS, "connect_timeout_seconds": _SECONDS,
                 "statement_timeout_seconds": _SECONDS, "keepalive_seconds": _SECONDS},
    "logging": {"level": _TEXT},
    "api": {"host": _TEXT, "port": _PORT},
    "import": {"max_price": _POSITIVE, "max_volume": _POSITIVE},
    "cache": {"enabled": _SWITCH},
    "alpaca": {name: _TEXT for name in ("api_key", "secret_key", "base_url", "data_url", "stream_url",
                                        "trading_stream_url")},
}


def _check_value(where: str, value: object, expected: str) -> str | None:
    """The problem with one settings value, or None."""
    if expected in (_PORT, _SWITCH):
        return None
    if expected == _TEXT:
        return None if isinstance(value, str) else f"{where}: {_shown(value)} is not valid (expected {expected})"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return f"{where}: {_shown(value)} is not valid (expected {expected})"
    return None


def _shown(value: object) -> str:
    return repr(value)[:40] if isinstance(value, str) else str(value)[:40]


def _read_settings_file(path: Path) -> dict:
    """The settings file's values, checked key by key; {} when there is no file."""
    try:
        if not path.is_file():
            if path.exists():
                raise ConfigError(f"{path} is not a file (expected the settings TOML file)")
            return {}
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}; expected a UTF-8 TOML file)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    problems = []
    for section, values in data.items():
        if section not in SETTINGS_KEYS or not isinstance(values, dict):
            problems.append(f"{section}: unknown section (expected one of {', '.join(sorted(SETTINGS_KEYS))})")
            continue
        known = SETTINGS_KEYS[section]
        for key, value in values.items():
            if key not in known:
                problems.append(f"{section}.{key}: unknown key (expected one of {', '.join(sorted(known))})")
                continue
            problem = _check_value(f"{section}.{key}", value, known[key])
            if problem:
                problems.append(problem)
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
    api = _api_settings(env, file_values.get("api", {}))
    database = DatabaseSettings(**{key: float(value) for key, value in db_section.items() if key != "url"})
    import_section = file_values.get("import", {})
    import_limits = (float(import_section.get("max_price", 1e9)), float(import_section.get("max_volume", 1e13)))
    bar_cache = _switch(env.get("MISMARTERA_BAR_CACHE"), file_values.get("cache", {}).get("enabled", True),
                        "MISMARTERA_BAR_CACHE / [cache] enabled")
    level = (env.get("MISMARTERA_LOG_LEVEL") or log_section.get("level") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"log level '{level[:40]}' is not valid (expected one of {', '.join(LOG_LEVELS)})")
    return Settings(
        home=home,
        data_dir=data_dir,
        state_dir=state_dir,
        config_dir=config_dir,
        db_url=db_url,
        log_level=level,
        alpaca=alpaca,
        settings_file=settings_file,
        api=api,
        database=database,
        import_limits=import_limits,
        bar_cache=bar_cache,
    )


def _api_settings(env: Mapping[str, str], section: Mapping[str, object]) -> ApiSettings:
    host = env.get("MISMARTERA_API_HOST") or section.get("host") or ApiSettings.host
    raw_port = env.get("MISMARTERA_API_PORT") or section.get("port") or 0
    where = "MISMARTERA_API_PORT" if env.get("MISMARTERA_API_PORT") else "api.port"
    try:
        port = int(str(raw_port))
    except ValueError:
        raise ConfigError(f"{where}: {raw_port!r} is not a port number (expected 0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{where}: {port} is out of range (expected 0 to 65535)")
    return ApiSettings(str(host), port)



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
