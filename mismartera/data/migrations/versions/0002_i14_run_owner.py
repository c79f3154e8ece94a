"""runs: the owning process (pid, host, process start time), so a run whose owner is gone is found;
a live run's client order id prefix, so a later session can find its orders at the broker

Revision ID: 0002_i14_run_owner
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_i14_run_owner"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner_pid", sa.Integer, nullable=True))
        batch.add_column(sa.Column("owner_host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("owner_started", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("order_prefix", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("order_prefix")
        batch.drop_column("owner_started")
        batch.drop_column("owner_host")
        batch.drop_column("owner_pid")
