"""Incremental indicators: each `update(open, high, low, close, volume)` costs O(1) and returns the
new value (None until warm). Strategies build them by class or with `make_indicator("sma", period=10)`."""

from mismartera.indicators.atr import ATR
from mismartera.indicators.averages import EMA, SMA
from mismartera.indicators.base import Indicator
from mismartera.indicators.bollinger import BollingerBands
from mismartera.indicators.extremes import RollingHigh, RollingLow
from mismartera.indicators.factory import KINDS, make_indicator
from mismartera.indicators.rsi import RSI
from mismartera.indicators.vwap import VWAP

__all__ = [
    "ATR",
    "EMA",
    "KINDS",
    "RSI",
    "SMA",
    "VWAP",
    "BollingerBands",
    "Indicator",
    "RollingHigh",
    "RollingLow",
    "make_indicator",
]
