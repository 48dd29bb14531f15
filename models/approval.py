"""The approval chain (thẩm định, phê duyệt): stages per cycle and every decision taken."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import created_at_field, json_field


class ApprovalStage(SQLModel, table=True):
    """One stage of the chain. Stages with the same ``sequence`` run in parallel."""

    __table_args__ = (sa.UniqueConstraint("cycle_id", "code", name="uq_approvalstage_code"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    sequence: int
    deadline: date | None = None
    allowed_decisions: list[str] = json_field(nullable=False)


class ApprovalStageApprover(SQLModel, table=True):
    stage_id: int = Field(foreign_key="approvalstage.id", primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", primary_key=True)


class ApprovalDecision(SQLModel, table=True):
    """A decision on a plan version at a stage. ``idempotency_key`` makes re-execution record it once."""

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True, index=True)
    plan_version_id: int = Field(foreign_key="planversion.id", index=True)
    stage_id: int = Field(foreign_key="approvalstage.id", index=True)
    decision: str = Field(max_length=32)
    decided_by_contact_id: int | None = Field(default=None, foreign_key="contact.id")
    entered_by: str | None = Field(default=None, max_length=160, description="who typed it, if on behalf")
    comment: str | None = Field(default=None, max_length=4000)
    payload: dict[str, Any] | None = json_field(description="adjustments, returned units, rejected items")
    decided_at: datetime = created_at_field()
