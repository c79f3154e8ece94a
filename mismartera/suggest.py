"""Did-you-mean suggestions for misspelt names (commands, keys, symbols)."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """Return the closest choice to `word`, or None when nothing is close enough."""
    matches = get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def suffix(word: str, choices: Iterable[str]) -> str:
    """A ` — did you mean 'x'?` suffix for an error line, or an empty string."""
    guess = did_you_mean(word, choices)
    return f" — did you mean '{guess}'?" if guess else ""
