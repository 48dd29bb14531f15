"""amount bounds: a cycle's largest amount per item and funding source

Revision ID: 0003_h16c
Revises: 0002
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = "0003_h16c"
down_revision = "0003_h16b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("planningcycle") as batch:
        batch.add_column(sa.Column("max_item_amount", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("planningcycle") as batch:
        batch.drop_column("max_item_amount")
