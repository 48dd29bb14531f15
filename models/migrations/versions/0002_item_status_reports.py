"""item status reports: last year's status per item, as each unit reported it

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "itemstatusreport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_version_id", sa.Integer(), nullable=False),
        sa.Column("plan_item_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("percent_complete", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("sheet_row", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_item_id"], ["planitem.id"], name=op.f("fk_itemstatusreport_plan_item_id_planitem")
        ),
        sa.ForeignKeyConstraint(
            ["submission_version_id"],
            ["submissionversion.id"],
            name=op.f("fk_itemstatusreport_submission_version_id_submissionversion"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_itemstatusreport")),
        sa.UniqueConstraint(
            "submission_version_id", "plan_item_id", name="uq_itemstatusreport_version_item"
        ),
    )
    op.create_index(
        op.f("ix_itemstatusreport_plan_item_id"), "itemstatusreport", ["plan_item_id"], unique=False
    )
    op.create_index(
        op.f("ix_itemstatusreport_submission_version_id"),
        "itemstatusreport",
        ["submission_version_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_itemstatusreport_submission_version_id"), table_name="itemstatusreport")
    op.drop_index(op.f("ix_itemstatusreport_plan_item_id"), table_name="itemstatusreport")
    op.drop_table("itemstatusreport")
