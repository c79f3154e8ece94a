"""`make_indicator(kind, **params)`: build an indicator from a config name, with one-line errors."""

from __future__ import annotations

import inspect
from typing import Any

from mismartera.errors import UsageError
from mismartera.indicators.atr import ATR
from mismartera.indicators.averages import EMA, SMA
from mismartera.indicators.base import Indicator
from mismartera.indicators.bollinger import BollingerBands
from mismartera.indicators.extremes import RollingHigh, RollingLow
from mismartera.indicators.rsi import RSI
from mismartera.indicators.vwap import VWAP
from mismartera.suggest import suffix

KINDS: dict[str, type[Indicator]] = {
    cls.kind: cls for cls in (SMA, EMA, RSI, VWAP, ATR, BollingerBands, RollingHigh, RollingLow)
}


def make_indicator(kind: str, **params: Any) -> Indicator:
    """Build the indicator named `kind` ("sma", "ema", "rsi", "vwap", "atr", "bollinger", "high",
    "low") with `params` (e.g. period=10). Names are case-insensitive. Unknown kinds or parameters
    raise UsageError with a did-you-mean."""
    if not isinstance(kind, str):
        raise UsageError(f"indicator kind must be a name like 'sma' (got {kind!r})")
    key = kind.strip().lower()
    cls = KINDS.get(key)
    if cls is None:
        raise UsageError(f"unknown indicator '{kind}'{suffix(key, KINDS)} (expected one of: {', '.join(KINDS)})")
    accepted = parameters(key)
    for name in params:
        if name not in accepted:
            known = ", ".join(accepted) or "none"
            raise UsageError(f"{key}: unknown parameter '{name}'{suffix(name, accepted)} (expected: {known})")
    missing = [name for name, default in accepted.items() if default is inspect.Parameter.empty and name not in params]
    if missing:
        raise UsageError(f"{key}: missing parameter {', '.join(missing)} (a whole number >= 1, e.g. {missing[0]}=14)")
    try:
        return cls(**params)
    except UsageError as exc:
        raise UsageError(f"{key}: {exc.message}") from None


def parameters(kind: str) -> dict[str, Any]:
    """The parameters an indicator kind takes, each with its default (inspect.Parameter.empty if required)."""
    signature = inspect.signature(KINDS[kind].__init__)
    return {name: p.default for name, p in signature.parameters.items() if name != "self"}
