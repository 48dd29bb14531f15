"""Planning cycles and their configuration: funding sources, fields, envelopes, reminder policy, calendar."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from models.base import (
    CycleStatus,
    FundingGroup,
    MoneyUnit,
    created_at_field,
    json_field,
    money_field,
    updated_at_field,
)

# ---------------------------------------------------------------- PlanningCycle


class PlanningCycleBase(SQLModel):
    year: int = Field(index=True, unique=True, ge=2000, le=2100)
    title: str = Field(max_length=400)
    coordinating_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    coordinator_proposes: bool = Field(
        default=True, description="the coordinating unit also gets a request and a workbook of its own"
    )
    settings: dict[str, Any] | None = json_field(
        description="per-cycle settings: 'documents' (reference date, agency names, recipients), 'layout'"
    )
    other_leads_allowed: bool = Field(
        default=False, description="a unit may propose items led by another unit (or a collective lead)"
    )
    guidance_reference: str | None = Field(default=None, max_length=400, description="e.g. CV 2055/BTTTT-THH")
    opens_on: date | None = None
    submission_deadline: date | None = None
    review_deadline: date | None = None
    approval_deadline: date | None = None
    status: str = Field(default=CycleStatus.draft, max_length=32, index=True)
    money_unit: str = Field(default=MoneyUnit.trieu, max_length=8, description="display unit: dong/trieu/ty")
    previous_cycle_id: int | None = Field(default=None, foreign_key="planningcycle.id")
    decision_number: str | None = Field(default=None, max_length=64, description="Số quyết định ban hành")
    decision_date: date | None = None
    decision_signer: str | None = Field(default=None, max_length=160)
    max_item_amount: int | None = money_field(
        description="largest amount per item and funding source, in đồng; NULL: templates/defaults/cycle.yaml"
    )
    budget_total: int | None = money_field(description="tổng chi ngân sách của tỉnh trong năm (đồng)")


class PlanningCycle(PlanningCycleBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


# ---------------------------------------------------------------- FundingSource


class FundingSourceBase(SQLModel):
    code: str = Field(max_length=32, description="e.g. NSDP, NSTW, SN, DTPT")
    name: str = Field(max_length=200)
    group: str = Field(default=FundingGroup.local, max_length=32)
    display_order: int = 0


class FundingSource(FundingSourceBase, table=True):
    __table_args__ = (sa.UniqueConstraint("cycle_id", "code", name="uq_fundingsource_cycle_code"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)


class ApplicationField(SQLModel, table=True):
    """The controlled list of application fields (lĩnh vực ứng dụng), per cycle because guidance changes."""

    __table_args__ = (sa.UniqueConstraint("cycle_id", "code", name="uq_applicationfield_cycle_code"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    display_order: int = 0


class FundingEnvelope(SQLModel, table=True):
    """A ceiling (trần kinh phí) per funding source, for the whole plan (unit_id NULL) or one unit."""

    __table_args__ = (
        sa.UniqueConstraint("cycle_id", "funding_source_id", "unit_id", name="uq_envelope_scope"),
    )
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    funding_source_id: int = Field(foreign_key="fundingsource.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    amount: int | None = money_field(nullable=False)


class ReminderPolicy(SQLModel, table=True):
    """When to remind, per cycle and kind of request. Offsets are in working days."""

    __table_args__ = (sa.UniqueConstraint("cycle_id", "request_kind", name="uq_reminderpolicy_kind"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    request_kind: str = Field(max_length=32)
    before_working_days: list[int] = json_field(nullable=False)
    on_due_day: bool = True
    overdue_every_working_days: int = 3
    escalate_after_working_days: int = 5
    quiet_hours_start: int = 20  # 20:00 local
    quiet_hours_end: int = 7  # 07:00 local
    settings: dict[str, Any] | None = json_field()


class CalendarException(SQLModel, table=True):
    """A day that differs from the `holidays` package: an extra day off, or a substituted working day."""

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True, unique=True)
    is_working_day: bool
    note: str | None = Field(default=None, max_length=200)


# ---------------------------------------------------------------- queries


def get_cycle_by_year(*, session: Session, year: int) -> PlanningCycle | None:
    return session.exec(select(PlanningCycle).where(PlanningCycle.year == year)).first()


def list_funding_sources(*, session: Session, cycle_id: int) -> list[FundingSource]:
    return list(
        session.exec(
            select(FundingSource)
            .where(FundingSource.cycle_id == cycle_id)
            .order_by(col(FundingSource.display_order), col(FundingSource.id))
        )
    )


def list_application_fields(*, session: Session, cycle_id: int) -> list[ApplicationField]:
    return list(
        session.exec(
            select(ApplicationField)
            .where(ApplicationField.cycle_id == cycle_id)
            .order_by(col(ApplicationField.display_order), col(ApplicationField.id))
        )
    )


def list_calendar_exceptions(*, session: Session) -> list[CalendarException]:
    return list(session.exec(select(CalendarException).order_by(col(CalendarException.day))))
