"""real plans: a unit's "nothing to propose" declaration, the business date of every answer

Revision ID: 0003_h19
Revises: 0002
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0003_h19"
down_revision = "0003_h16c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("answered_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("no_proposal_by", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True))
        batch.add_column(
            sa.Column("no_proposal_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True)
        )
    with op.batch_alter_table("submissionversion") as batch:
        batch.add_column(sa.Column("received_on", sa.Date(), nullable=True))
    with op.batch_alter_table("planningcycle") as batch:
        batch.add_column(
            sa.Column("coordinator_proposes", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("other_leads_allowed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("planningcycle") as batch:
        batch.drop_column("settings")
        batch.drop_column("other_leads_allowed")
        batch.drop_column("coordinator_proposes")
    with op.batch_alter_table("submissionversion") as batch:
        batch.drop_column("received_on")
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("no_proposal_reason")
        batch.drop_column("no_proposal_by")
        batch.drop_column("answered_on")
