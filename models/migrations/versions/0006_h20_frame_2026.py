"""the 2026 frame: each item's KH&CN / ĐMST / CĐS class and sub-field; the province's budget total per
plan year (the denominator of the share findings); official codes of units (administrative-unit code,
Decision 19/2025/QĐ-TTg; agency e-ID code, Decision 20/2020/QĐ-TTg)

Revision ID: 0003_h20
Revises: 0002
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0003_h20"
down_revision = "0003_h19"
branch_labels = None
depends_on = None

ITEM_TABLES = ("submissionitem", "planitem")


def upgrade() -> None:
    for table in ITEM_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("class_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
            batch.add_column(
                sa.Column("subfield_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
            )
    with op.batch_alter_table("planningcycle") as batch:
        batch.add_column(sa.Column("budget_total", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("unit") as batch:
        batch.add_column(sa.Column("admin_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch.add_column(sa.Column("eid_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch.create_index("ix_unit_admin_code", ["admin_code"], unique=True)
        batch.create_index("ix_unit_eid_code", ["eid_code"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("unit") as batch:
        batch.drop_index("ix_unit_eid_code")
        batch.drop_index("ix_unit_admin_code")
        batch.drop_column("eid_code")
        batch.drop_column("admin_code")
    with op.batch_alter_table("planningcycle") as batch:
        batch.drop_column("budget_total")
    for table in ITEM_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("subfield_code")
            batch.drop_column("class_code")
