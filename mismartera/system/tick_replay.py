"""`TickReplay`: a backtest's stored trades and quotes, played into SessionData as the clock passes them.

For each trading day the coordinator loads the day's rows (pre-open to after-close) of every session
symbol; as the per-bar step moves the clock to a bar's end, every trade and quote stamped before that
instant becomes visible: `ctx.last_trade(symbol)` / `ctx.quote(symbol)` return the latest of them,
exactly what a live session streaming them would hold at that minute. The latest row before the day
is loaded too, so a strategy sees yesterday's last quote until today's first one arrives.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

from mismartera.bars import quote_from_row, trade_from_row
from mismartera.data.database import Database
from mismartera.data.tick_store import MICROS, TickKind, TickRow, TickStore
from mismartera.system.session_data import SessionData
from mismartera.timekeeping.calendar import TradingSession


class TickReplay:
    """Plays stored trades and quotes of `symbols` into `data`.

    Args:
        db: the database holding them.
        symbols: the session's symbols.
        kinds: the tick streams the config asked for ("trades", "quotes").
        data: the session's SessionData (its `set_trade` / `set_quote` are called).
    """

    def __init__(self, db: Database, symbols: Sequence[str], kinds: Iterable[TickKind], data: SessionData) -> None:
        self.stores = [TickStore(db, kind) for kind in kinds]
        self.symbols = list(symbols)
        self.data = data
        # one lane per (kind, symbol): stamps, rows, how many are applied, the setter, the row converter
        self._lanes: list[tuple[list[int], list[TickRow], list[int], str, TickStore]] = []
        self.applied = 0

    def load_day(self, session: TradingSession) -> None:
        """Read the day's rows (and the last one before the day) of every lane."""
        start = int(session.pre_open.timestamp()) * MICROS
        end = int(session.after_close.timestamp()) * MICROS
        lanes = []
        for store in self.stores:
            for symbol in self.symbols:
                rows = store.read(symbol, start, end)
                before = store.latest(symbol, before_ts=start)
                if before is not None:
                    rows.insert(0, before)
                lanes.append(([row[0] for row in rows], rows, [0], symbol, store))
        self._lanes = lanes

    def advance(self, until_us: int) -> None:
        """Make visible every row stamped before `until_us` (epoch microseconds)."""
        data = self.data
        for stamps, rows, done, symbol, store in self._lanes:
            upto = bisect_left(stamps, until_us, done[0])
            if upto > done[0]:
                self.applied += upto - done[0]
                done[0] = upto
                row = rows[upto - 1]
                if store.kind == "trades":
                    data.set_trade(trade_from_row(symbol, row))
                else:
                    data.set_quote(quote_from_row(symbol, row))
