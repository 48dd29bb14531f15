"""Plan items: what a unit proposed (per submission version) and what the consolidated plan holds.

Both share `ItemFieldsBase` (every field of a row in a real plan's list of tasks and projects). Amounts
live in their own rows, one per funding source, as integer đồng; ``amount = NULL`` means "source named
but amount not stated", which real plans contain and which must not be summed as zero silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from models.base import ItemOrigin, ItemStatus, created_at_field, json_field, money_field, updated_at_field


class ItemFieldsBase(SQLModel):
    row_ref: str | None = Field(default=None, max_length=32, description="STT as written, e.g. I.3")
    name: str = Field(max_length=1000)
    lead_unit_id: int = Field(foreign_key="unit.id", index=True)
    co_lead_unit_ids: list[int] | None = json_field(description="further lead units, when several")
    coordinating_units: str | None = Field(default=None, max_length=2000, description="đơn vị phối hợp")
    field_code: str | None = Field(default=None, max_length=32, description="lĩnh vực ứng dụng")
    origin: str = Field(default=ItemOrigin.new, max_length=16, description="new / carry_over")
    procurement_mode: str | None = Field(default=None, max_length=64, description="thuê dịch vụ, nâng cấp…")
    objective: str | None = Field(default=None, max_length=4000, description="mục tiêu, nội dung")
    scope: str | None = Field(default=None, max_length=2000, description="phạm vi")
    start_year: int | None = None
    end_year: int | None = None
    basis: str | None = Field(default=None, max_length=2000, description="căn cứ / ghi chú")
    status: str = Field(default=ItemStatus.proposed, max_length=32)
    status_note: str | None = Field(default=None, max_length=2000)
    class_code: str | None = Field(default=None, max_length=16, description="KH&CN / ĐMST / CĐS (frame 2026)")
    subfield_code: str | None = Field(default=None, max_length=32, description="nhóm nội dung của lớp")


class SubmissionItem(ItemFieldsBase, table=True):
    """One row a unit proposed, in one version of its submission. Immutable once stored."""

    id: int | None = Field(default=None, primary_key=True)
    submission_version_id: int = Field(foreign_key="submissionversion.id", index=True)
    sheet_row: int | None = Field(default=None, description="row in the uploaded workbook")
    carry_over_from_id: int | None = Field(default=None, foreign_key="planitem.id")


class SubmissionItemAmount(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("item_id", "funding_source_id", name="uq_subitemamount"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="submissionitem.id", index=True)
    funding_source_id: int = Field(foreign_key="fundingsource.id")
    amount: int | None = money_field()


class PlanItem(ItemFieldsBase, table=True):
    """A row of the consolidated plan (Annex 02) of a cycle; after approval, what units report against."""

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    group_label: str | None = Field(default=None, max_length=255, description="Roman-numeral group heading")
    position: int = 0
    # use_alter: planitem and submissionitem refer to each other (carry-over one way, provenance the other)
    source_item_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey(
                "submissionitem.id", use_alter=True, name="fk_planitem_source_item_id_submissionitem"
            ),
            nullable=True,
        ),
    )
    carry_over_from_id: int | None = Field(default=None, foreign_key="planitem.id", index=True)
    rejected: bool = False
    percent_complete: int | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PlanItemAmount(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("item_id", "funding_source_id", name="uq_planitemamount"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="planitem.id", index=True)
    funding_source_id: int = Field(foreign_key="fundingsource.id")
    amount: int | None = money_field()
    approved_amount: int | None = money_field()


class PlanVersion(SQLModel, table=True):
    """An immutable snapshot of the plan (items and amounts as JSON) with its content hash."""

    __table_args__ = (sa.UniqueConstraint("cycle_id", "number", name="uq_planversion_number"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    number: int
    content_hash: str = Field(max_length=64, index=True)
    content: dict[str, Any] = json_field(nullable=False)
    reason: str | None = Field(default=None, max_length=1000)
    parent_version_id: int | None = Field(default=None, foreign_key="planversion.id")
    is_final: bool = False
    is_amendment: bool = False
    created_by: str | None = Field(default=None, max_length=160)
    created_at: datetime = created_at_field()


def list_submission_items(
    *, session: Session, version_id: int
) -> list[tuple[SubmissionItem, dict[int, int | None]]]:
    """The items of one submission version with their amounts by funding source id, in sheet order."""
    items = list(
        session.exec(
            select(SubmissionItem)
            .where(SubmissionItem.submission_version_id == version_id)
            .order_by(col(SubmissionItem.sheet_row), col(SubmissionItem.id))
        )
    )
    amounts: dict[int, dict[int, int | None]] = {item.id: {} for item in items if item.id is not None}
    if amounts:
        for amount in session.exec(
            select(SubmissionItemAmount).where(col(SubmissionItemAmount.item_id).in_(list(amounts)))
        ):
            amounts[amount.item_id][amount.funding_source_id] = amount.amount
    return [(item, amounts.get(item.id or 0, {})) for item in items]


class ItemStatusReport(SQLModel, table=True):
    """The status of one item of last year's plan as a unit reported it in one submission version (the
    sheet «Tình hình năm trước»). Feeds Annex 01 of the consolidated plan. Immutable once stored."""

    __table_args__ = (
        sa.UniqueConstraint("submission_version_id", "plan_item_id", name="uq_itemstatusreport_version_item"),
    )
    id: int | None = Field(default=None, primary_key=True)
    submission_version_id: int = Field(foreign_key="submissionversion.id", index=True)
    plan_item_id: int = Field(foreign_key="planitem.id", index=True)
    status: str = Field(max_length=32)
    percent_complete: int | None = None
    note: str | None = Field(default=None, max_length=2000)
    sheet_row: int | None = None
