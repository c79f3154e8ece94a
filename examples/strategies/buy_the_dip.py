"""buy_the_dip: buy when the price falls under the day's VWAP, sell when it is back."""

from mismartera.strategies import Strategy


class BuyTheDip(Strategy):
    """Flat and the 1m close `dip_pct` % or more under the session VWAP: buy `quantity` at market.
    Long and the close back at or above the VWAP: sell the whole position."""

    defaults = {"dip_pct": 0.2, "quantity": 20}
    param_help = {
        "dip_pct": "how far under the VWAP, in %, the close must fall before buying",
        "quantity": "shares bought each time",
    }

    def check_params(self):
        self._positive_number("dip_pct")
        self._positive_number("quantity")

    def on_start(self, ctx):
        self.symbols = self.symbols or list(ctx.symbols)
        self.vwap = {symbol: ctx.indicator(symbol, "vwap") for symbol in self.symbols}

    def on_bar(self, ctx, bar):
        vwap = self.vwap[bar.symbol].value
        if vwap is None or ctx.open_orders(bar.symbol):
            return
        held = ctx.position(bar.symbol)
        if held == 0 and bar.close <= vwap * (1 - self.params["dip_pct"] / 100):
            ctx.buy(bar.symbol, self.params["quantity"])
        elif held > 0 and bar.close >= vwap:
            ctx.sell(bar.symbol, held)
            ctx.log.info("%s back at the VWAP %.2f: sold %g", bar.symbol, vwap, held)
