"""The peer: the reference strategy in backtrader, in a process of its own (started by compare.py).

The rules are those of mismartera's built-in `sma_crossover`, one for one:
  * SMA(10) and SMA(30) of the 1m close, across days; nothing until both have a value (backtrader
    calls `next` only once every indicator is warm, the same bar mismartera's SMAs first have one);
  * a tie is anything within 1e-9 × max(|slow|, 1) and never trades, so float noise between two
    ways of summing a window cannot flip a signal;
  * flat and fast > slow + tolerance: buy 100 at market; long and fast < slow − tolerance: sell the
    whole position at market; nothing while the symbol has an order pending;
  * market orders fill at the next bar's open (backtrader's default), no commission, no slippage;
  * symbols are decided in the order given, as mismartera breaks timestamp ties in config order.

Every symbol is its own data feed read from its CSV file (epoch-second timestamps, backtrader's
fastest date parsing), with `runonce` and `preload` on and the default observers off, so the peer
runs its fastest configuration. Prints one JSON line: bars, end-to-end seconds (CSV read through
the final value), peak RSS, final equity and fills.

    python benchmarks/_backtrader_run.py CSV_DIR SYMBOL,SYMBOL,...
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import backtrader as bt
from _peak_memory import peak_rss_mb

FAST, SLOW, QUANTITY, CASH = 10, 30, 100, 100_000
TOLERANCE = 1e-9


class SmaCrossover(bt.Strategy):
    params = (("fast", FAST), ("slow", SLOW), ("quantity", QUANTITY))

    def __init__(self) -> None:
        # Built after cerebro has preloaded every feed (parsed the CSV files): the end of loading.
        self.loaded_at = time.perf_counter()
        self.fast = [bt.indicators.SimpleMovingAverage(d.close, period=self.p.fast) for d in self.datas]
        self.slow = [bt.indicators.SimpleMovingAverage(d.close, period=self.p.slow) for d in self.datas]
        # Keyed by feed position: backtrader overloads == on lines, so feeds make poor dict keys.
        self.pending: list[bt.Order | None] = [None] * len(self.datas)
        self.index = {id(d): n for n, d in enumerate(self.datas)}
        self.fills = 0
        self.refused = 0

    def notify_order(self, order: bt.Order) -> None:
        if order.status in (order.Submitted, order.Accepted):
            return
        if order.status == order.Completed:
            self.fills += 1
        else:   # Margin, Rejected, Cancelled, Expired: the symbol may trade again
            self.refused += 1
        self.pending[self.index[id(order.data)]] = None

    def next(self) -> None:
        for n, data in enumerate(self.datas):
            if self.pending[n] is not None:
                continue
            fast, slow = self.fast[n][0], self.slow[n][0]
            tolerance = TOLERANCE * max(abs(slow), 1.0)
            held = self.getposition(data).size
            if held == 0 and fast > slow + tolerance:
                self.pending[n] = self.buy(data=data, size=self.p.quantity, exectype=bt.Order.Market)
            elif held > 0 and fast < slow - tolerance:
                self.pending[n] = self.sell(data=data, size=held, exectype=bt.Order.Market)


def main(argv: list[str]) -> int:
    csv_dir, names = Path(argv[0]), argv[1].split(",")
    began = time.perf_counter()
    cerebro = bt.Cerebro(runonce=True, preload=True, stdstats=False)
    for symbol in names:
        cerebro.adddata(bt.feeds.GenericCSVData(
            dataname=str(csv_dir / f"{symbol}.csv"), name=symbol, dtformat=1, headers=True,
            timeframe=bt.TimeFrame.Minutes, compression=1,
            datetime=0, open=1, high=2, low=3, close=4, volume=5, openinterest=-1))
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.0)
    cerebro.addstrategy(SmaCrossover)
    strategy = cerebro.run()[0]
    equity = cerebro.broker.getvalue()
    ended = time.perf_counter()
    bars = sum(len(data) for data in strategy.datas)
    print(json.dumps({"bars": bars, "seconds": ended - began, "load_seconds": strategy.loaded_at - began,
                      "run_seconds": ended - strategy.loaded_at, "rss_mb": peak_rss_mb(), "equity": equity,
                      "fills": strategy.fills, "rejected": strategy.refused}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
