"""Through the year: reporting periods, progress reports per unit, entries per item, indicators."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import SubmissionStatus, created_at_field, money_field, tz_datetime_field


class ReportingPeriod(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("cycle_id", "kind", "label", name="uq_reportingperiod_label"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    kind: str = Field(max_length=16)
    label: str = Field(max_length=64, description="e.g. Quý I/2026")
    starts_on: date
    ends_on: date = Field(description="data cut-off (ngày chốt số liệu)")
    deadline: date


class ProgressReport(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("period_id", "unit_id", name="uq_progressreport_unit"),)
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="reportingperiod.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    status: str = Field(default=SubmissionStatus.requested, max_length=32)
    deadline: date | None = None
    submitted_at: datetime | None = tz_datetime_field()
    attempt_id: int | None = Field(default=None, foreign_key="intakeattempt.id")
    requested_at: datetime = created_at_field()


class ProgressEntry(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("report_id", "plan_item_id", name="uq_progressentry_item"),)
    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="progressreport.id", index=True)
    plan_item_id: int = Field(foreign_key="planitem.id", index=True)
    status: str = Field(max_length=32)
    percent_complete: int = Field(ge=0, le=100)
    disbursed: int | None = money_field()
    problems: str | None = Field(default=None, max_length=4000)
    proposals: str | None = Field(default=None, max_length=4000)


class Indicator(SQLModel, table=True):
    """A numeric target of the plan (e.g. share of dossiers processed online), owned by one unit."""

    __table_args__ = (sa.UniqueConstraint("cycle_id", "code", name="uq_indicator_code"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="planningcycle.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=1000)
    measure_unit: str | None = Field(default=None, max_length=32, description="%, số, hệ thống…")
    responsible_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    comparator: str = Field(default=">=", max_length=4)


class IndicatorTarget(SQLModel, table=True):
    """A target per administrative level (province / district / commune) or for the whole plan."""

    __table_args__ = (sa.UniqueConstraint("indicator_id", "level", name="uq_indicatortarget_level"),)
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    level: str = Field(default="all", max_length=16)
    target: Decimal = Field(sa_type=sa.Numeric(18, 4))


class IndicatorValue(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("indicator_id", "report_id", name="uq_indicatorvalue_report"),)
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    report_id: int = Field(foreign_key="progressreport.id", index=True)
    value: Decimal = Field(sa_type=sa.Numeric(18, 4))
    note: str | None = Field(default=None, max_length=2000)
