"""Exchange calendar, trading sessions and clocks.

Other packages use `TimeManager`, `TradingSession`, `Holiday`, `MarketPhase`, `SimulatedClock`,
`WallClock` and `Clock`. exchange_calendars is imported on first use, not at start-up.
"""

from mismartera.timekeeping.calendar import Holiday, MarketPhase, TimeManager, TradingSession
from mismartera.timekeeping.clock import Clock, SimulatedClock, WallClock

__all__ = ["Clock", "Holiday", "MarketPhase", "SimulatedClock", "TimeManager", "TradingSession", "WallClock"]
