"""The one rule for a ticker symbol, shared by the command line, session configs and importers.

A symbol is a letter, then up to 9 letters, digits, '.' or '-' (AAPL, BRK.B, BF-B), upper case:
Alpaca's US-equity tickers fit, and every symbol that passes can be stored (the column holds 16).
"""

from __future__ import annotations

import re

MAX_LENGTH = 10
PATTERN = re.compile(rf"[A-Z][A-Z0-9.\-]{{0,{MAX_LENGTH - 1}}}")
RULE = f"a letter, then up to {MAX_LENGTH - 1} letters, digits, '.' or '-', like AAPL or BRK.B"


def check_symbol(text: str) -> str:
    """`text` upper-cased and trimmed; ValueError saying what is expected when it is not a symbol."""
    symbol = text.strip().upper()
    if not PATTERN.fullmatch(symbol):
        shown = text if len(text) <= 24 else text[:24] + "…"
        raise ValueError(f"'{shown}' is not a ticker symbol (expected {RULE})")
    return symbol
