"""bar_versions: a version number per (symbol, interval, month) of bars, bumped by every write

Revision ID: 0002_i16_bar_versions
Revises: 0002_i18_trades_quotes
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_i16_bar_versions"
down_revision = "0002_i18_trades_quotes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bar_versions",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("interval", sa.String(4), primary_key=True),
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bar_versions")
