"""`mismartera demo`: seed the demo bars when the database lacks them, run config/demo.json, report.

The config is looked up in `./config/demo.json` (so a trader can edit it), then in the copy that
ships inside the package (`mismartera/samples` is the repository's `config/` folder), so
`pip install . && mismartera demo` works from any folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mismartera
from mismartera.config.session import SessionConfig, load_session_config
from mismartera.errors import ConfigError

DEMO_CONFIG = Path("config") / "demo.json"


def find_demo_config() -> Path:
    candidates = [Path.cwd() / DEMO_CONFIG, Path(mismartera.__file__).resolve().parent / "samples" / "demo.json"]
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(f"demo config not found (looked for {', '.join(str(c) for c in candidates)}); "
                      "reinstall mismartera")


@dataclass(frozen=True)
class DemoSeed:
    seeded: bool
    bars: int
    days: int


def ensure_demo_data(store: Any, tm: Any, config: SessionConfig, progress_factory: Any = None) -> DemoSeed:
    """Seed demo bars for those of `config`'s symbols that have no bars in its window."""
    from mismartera.data.demo import DEFAULT_SEED, seed_demo

    backtest = config.backtest_config
    assert backtest is not None
    sessions = tm.sessions(backtest.start_date, backtest.end_date)
    if not sessions:
        raise ConfigError(f"{config.session_name}: no trading days between {backtest.start_date} and "
                          f"{backtest.end_date}")
    start, end = int(sessions[0].open.timestamp()), int(sessions[-1].close.timestamp())
    # Only symbols without any bar in the window are seeded: bars a user imported are never overwritten.
    missing = [symbol for symbol in config.symbols if store.count(symbol, "1m", start, end) == 0]
    if not missing:
        return DemoSeed(False, 0, len(sessions))
    total = sum(s.minutes for s in sessions) * len(missing)
    progress = progress_factory("seeding demo bars", total, "bars") if progress_factory is not None else None
    try:
        summary = seed_demo(store, tm, missing, sessions[0].day, len(sessions), DEFAULT_SEED, progress)
    finally:
        if progress is not None:
            progress.close()
    return DemoSeed(True, summary.bars, summary.days)


def load_demo_config() -> SessionConfig:
    return load_session_config(find_demo_config())
