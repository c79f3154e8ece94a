"""mismartera: a trading shell for US equities."""

__version__ = "0.1.0"
