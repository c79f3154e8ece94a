"""`alpaca …`: is the Alpaca connection usable (keys, account, market clock)?"""

from __future__ import annotations

from mismartera.commands.context import AppContext
from mismartera.commands.registry import Option, command, group
from mismartera.commands.results import Record

GROUP = group("alpaca", "Alpaca connection: keys, account, market clock")


@command(GROUP, "status", help="Keys in use (masked), account status and cash, Alpaca's clock, is the market open",
         args=(Option("live", "check the live-money account instead of the paper one", type=bool),),
         json=True, examples=("alpaca status", "alpaca status --json", "alpaca status --live"))
def status(ctx: AppContext, live: bool = False) -> Record:
    # imported here: alpaca-py takes a while to import and only this command needs it
    from mismartera.integrations.alpaca.trading import check_connection

    report = check_connection(ctx.settings.alpaca, paper=not live)
    account, clock = report.account, report.clock
    return Record("Alpaca", [
        ("API key", report.api_key),
        ("Secret key", report.secret_key),
        ("Endpoint", report.base_url),
        ("Account", f"{account.account_number} ({'paper' if report.paper else 'LIVE MONEY'})"),
        ("Account status", account.status + (" — trading blocked" if account.trading_blocked else "")),
        ("Cash", account.cash),
        ("Buying power", account.buying_power),
        ("Equity", account.equity),
        ("Alpaca clock", clock.timestamp),
        ("Market", "open" if clock.is_open else "closed"),
        ("Next open", clock.next_open),
        ("Next close", clock.next_close),
    ], formats={"Cash": "money", "Buying power": "money", "Equity": "money"},
        data={"api_key": report.api_key, "secret_key": report.secret_key, "endpoint": report.base_url,
              "paper": report.paper, "account_number": account.account_number, "account_status": account.status,
              "trading_blocked": account.trading_blocked, "cash": account.cash,
              "buying_power": account.buying_power, "equity": account.equity, "clock": clock.timestamp,
              "market_open": clock.is_open, "next_open": clock.next_open, "next_close": clock.next_close})
