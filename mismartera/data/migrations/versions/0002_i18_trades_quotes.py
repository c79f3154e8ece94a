"""trades and quotes: keyed (symbol, ts, seq), ts in epoch microseconds UTC

Revision ID: 0002_i18_trades_quotes
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_i18_trades_quotes"
down_revision = "0002_i17_sweeps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trades",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("ts", sa.BigInteger, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("size", sa.Float, nullable=False),
        sa.Column("exchange", sa.String(8), nullable=True),
        sa.Column("conditions", sa.String(64), nullable=True),
        sa.Column("trade_id", sa.BigInteger, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "quotes",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("ts", sa.BigInteger, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("bid_price", sa.Float, nullable=False),
        sa.Column("bid_size", sa.Float, nullable=False),
        sa.Column("ask_price", sa.Float, nullable=False),
        sa.Column("ask_size", sa.Float, nullable=False),
        sa.Column("bid_exchange", sa.String(8), nullable=True),
        sa.Column("ask_exchange", sa.String(8), nullable=True),
        sa.Column("conditions", sa.String(64), nullable=True),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("quotes")
    op.drop_table("trades")
