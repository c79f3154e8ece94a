"""`DayStep`: the work done for each 1m bar of a trading day, written once for backtest and live.

For each bar, in this order:

    1. move the session clock to the bar's END (ts + 60) when the minute changes: the bar becomes
       visible only now (a backtest's SimulatedClock; a live session's LiveClock holds that instant);
    2. the broker fills orders placed earlier at this bar's open and marks the close (a symbol with
       no open order only has its close marked, without a `process_bar` call);
    3. append the bar to SessionData, update its 1m indicators, note its minute for upkeep, feed the
       derived-bar builders;
    4. count it as a bar in the market when a position is held, and call `on_bar` of each enabled
       strategy trading the symbol.

The backtest hands `run` a whole day of `(symbol position, bar)` events; a live session hands it
each minute the live feed releases. What differs between the two is only where the events come
from and which clock `set_epoch` moves. The loop is the backtest's hot loop: everything it needs is
bound to a local before it starts, and the coordinator's `_interrupt` flag is the one attribute read
per bar (pause, stop and requests from other threads set it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from mismartera.bars import Bar
from mismartera.data.derived import DerivedBuilder
from mismartera.execution.broker import Broker
from mismartera.execution.orders import Fill
from mismartera.system.session_data import SessionData
from mismartera.system.strategy_host import StrategySlot
from mismartera.system.upkeep import DayWork
from mismartera.timekeeping.calendar import TradingSession

CHECK_MASK = 1023         # look at the wall clock every 1024 bars


class StepClock(Protocol):
    def set_epoch(self, seconds: int) -> None: ...


class StepOwner(Protocol):
    """What the step needs of its coordinator (`Coordinator`, and `LiveCoordinator` through it)."""

    symbols: list[str]
    derived: list[str]
    data: SessionData
    slots: list[StrategySlot]
    broker: Broker
    held: dict[str, float]
    speed: float
    day_position: int
    day_live: int
    _interrupt: bool

    @property
    def clock(self) -> StepClock: ...

    def _handle_interrupt(self) -> bool: ...

    def _pace(self, end: int) -> bool: ...

    def _periodic(self, force: bool) -> None: ...

    def _apply_fills(self, fills: list[Fill]) -> None: ...

    def to_strategies(self, slots: Sequence[StrategySlot], bar: Bar) -> None: ...

    def _derived_bar(self, symbol: str, interval: str, row: tuple, rows: dict[tuple[str, str], list[tuple]]
                     ) -> None: ...


class DayStep:
    """The per-bar step of one trading day of a session.

    Args:
        owner: the session's coordinator (its broker, clock, SessionData, strategies, counters).
        session: the trading day.

    Attributes:
        done: bars fed so far today.
        in_market: of those, bars of a symbol held at the time.
        work: the day's upkeep work (minutes present per symbol, derived rows once `finish`ed).
    """

    def __init__(self, owner: StepOwner, session: TradingSession) -> None:
        self.owner = owner
        self.session = session
        symbols = owner.symbols
        self.present: dict[str, list[int]] = {s: [] for s in symbols}
        self.work = DayWork(session, self.present)
        self.builders = [[DerivedBuilder(interval, session) for interval in owner.derived] for _ in symbols]
        self.derived_rows: dict[tuple[str, str], list[tuple]] = {(s, i): [] for s in symbols for i in owner.derived}
        # One lane per symbol, unpacked once per bar: its name, the bound appends of its series and
        # present list, the bound `update`s of its 1m indicators and the strategies trading it.
        data = owner.data
        self.lanes = [(symbol, data.series(symbol, "1m").append, self.present[symbol].append,
                       tuple(indicator.update for indicator in data.feeds[symbol]["1m"]),
                       tuple(slot for slot in owner.slots if symbol in slot.symbols))
                      for symbol in symbols]
        self.done = 0
        self.in_market = 0
        self.clock_end = -1

    def run(self, events: Iterable[tuple[int, Bar]]) -> bool:
        """Feed `events` (symbol position in config order, bar), in order; False when the session
        must stop part-way (the counters keep what was fed)."""
        owner = self.owner
        lanes = self.lanes
        builders = self.builders
        derived_rows = self.derived_rows
        derived_bar = owner._derived_bar
        process_bar = owner.broker.process_bar
        with_orders, last_price = owner.broker.replay_view()
        apply_fills = owner._apply_fills
        to_strategies = owner.to_strategies
        clock_at = owner.clock.set_epoch   # the datetime is built only when someone asks
        held = owner.held
        speed = owner.speed
        derived = bool(owner.derived)
        clock_end = self.clock_end
        done = self.done
        in_market = self.in_market
        try:
            for position, bar in events:
                if owner._interrupt and not owner._handle_interrupt():
                    return False
                _, ts, open_, high, low, close, volume, _, _, _ = bar
                end = ts + 60
                if end != clock_end:
                    if speed > 0 and not owner._pace(end):
                        return False
                    clock_end = end
                    clock_at(end)
                    if speed > 0:  # paced: cheap to keep the live count exact
                        owner.day_position = owner.day_live = done
                symbol, keep, mark, updates, subscribed = lanes[position]
                if symbol in with_orders:
                    fills = process_bar(symbol, ts, open_, high, low, close)
                    if fills:
                        apply_fills(fills)
                else:   # no open order: all process_bar would do is mark the close
                    last_price[symbol] = close
                keep(bar)
                for update in updates:
                    update(open_, high, low, close, volume)
                mark(ts)
                if derived:
                    for builder in builders[position]:
                        for made in builder.add(bar[1:9]):
                            derived_bar(symbol, builder.to, made.row, derived_rows)
                if symbol in held:
                    in_market += 1
                if subscribed:
                    to_strategies(subscribed, bar)
                done += 1
                if not done & CHECK_MASK:
                    owner.day_position = owner.day_live = done
                    owner._periodic(force=False)
            return True
        finally:
            self.clock_end, self.done, self.in_market = clock_end, done, in_market

    def finish(self) -> DayWork:
        """The day is over: flush the derived-bar builders; the day's work for upkeep."""
        owner = self.owner
        for position, symbol in enumerate(owner.symbols):
            for builder in self.builders[position]:
                for made in builder.flush():
                    owner._derived_bar(symbol, builder.to, made.row, self.derived_rows)
        self.work.derived = self.derived_rows
        return self.work
