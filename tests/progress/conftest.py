"""A small approved plan for progress tests: two units leading items (one rejected item), a unit that only
owns an indicator, a coordinator; Q1/2027 periods; helpers that fill a progress workbook like an officer."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from sqlmodel import Session, select

from models import FundingSource, Indicator, IndicatorTarget, PlanItem, PlanItemAmount, PlanningCycle, Unit
from models.base import CycleStatus, ItemStatus
from models.progress import ProgressReport, ReportingPeriod
from tasks.progress.calendar import open_reporting_periods
from tasks.progress.requests import request_progress_reports
from tasks.progress.workbook import (
    INDICATORS_DATA_START_ROW,
    ITEMS_DATA_START_ROW,
    ProgressContext,
    build_progress_workbook,
    indicator_columns,
    item_columns,
    load_progress_context,
    progress_texts,
)
from tests.factories import make_contact, make_cycle, make_unit

ISSUED_AT = datetime(2027, 3, 8, 1, 0, tzinfo=UTC)
Q1_DEADLINE = date(2027, 3, 17)  # 3 working days after Sunday 14/3/2027


@dataclass
class ProgressWorld:
    session: Session
    cycle: PlanningCycle
    health: Unit  # leads two items
    finance: Unit  # leads one item
    interior: Unit  # owns an indicator only
    idle: Unit  # leads only a rejected item: never asked
    coordinator: Unit
    hospital_system: PlanItem  # approved 1.500 triệu NSDP + 500 triệu NSTW
    health_records: PlanItem  # approved 200 triệu NSDP
    accounting: PlanItem
    online_dossiers: Indicator

    def q1(self) -> ReportingPeriod:
        return self.session.exec(
            select(ReportingPeriod).where(
                ReportingPeriod.cycle_id == self.cycle.id, ReportingPeriod.label == "Quý I/2027"
            )
        ).one()

    def request_q1(self) -> dict[str, ProgressReport]:
        period = self.q1()
        request_progress_reports(session=self.session, cycle=self.cycle, period=period)
        self.session.commit()
        reports = self.session.exec(select(ProgressReport).where(ProgressReport.period_id == period.id)).all()
        codes = {u.id: u.code for u in self.session.exec(select(Unit))}
        return {codes[r.unit_id]: r for r in reports}

    def context(self, report: ProgressReport) -> ProgressContext:
        return load_progress_context(session=self.session, report=report)

    def blank(self, report: ProgressReport) -> bytes:
        return build_progress_workbook(self.context(report), issued_at=ISSUED_AT)


@pytest.fixture
def progress_world(session: Session) -> ProgressWorld:
    coordinator = make_unit(session, code="SKHCN", name="Sở Khoa học và Công nghệ")
    make_contact(session, coordinator, role="coordinator", email="tonghop@example.org")
    health = make_unit(session, code="SYT", name="Sở Y tế")
    finance = make_unit(session, code="STC", name="Sở Tài chính")
    interior = make_unit(session, code="SNV", name="Sở Nội vụ")
    idle = make_unit(session, code="SXD", name="Sở Xây dựng")
    for unit in (health, finance, interior, idle):
        make_contact(session, unit, email=f"{unit.code.lower()}@example.org")
    make_contact(session, health, role="head", email="giamdoc.syt@example.org")
    cycle = make_cycle(
        session,
        year=2027,
        money_unit="trieu",
        status=CycleStatus.approved,
        coordinating_unit_id=coordinator.id,
    )
    sources = {
        s.code: s for s in session.exec(select(FundingSource).where(FundingSource.cycle_id == cycle.id))
    }

    def item(unit: Unit, name: str, position: int, amounts: dict[str, int | None], **fields: Any) -> PlanItem:
        row = PlanItem(cycle_id=cycle.id, lead_unit_id=unit.id, name=name, position=position, **fields)  # type: ignore[arg-type]
        session.add(row)
        session.flush()
        for code, amount in amounts.items():
            session.add(
                PlanItemAmount(
                    item_id=row.id, funding_source_id=sources[code].id, amount=amount, approved_amount=amount
                )  # type: ignore[arg-type]
            )
        return row

    million = 1_000_000
    hospital = item(
        health,
        "Nâng cấp hệ thống thông tin quản lý bệnh viện",
        1,
        {"NSDP": 1_500 * million, "NSTW": 500 * million},
        status=ItemStatus.in_progress,
        percent_complete=20,
    )
    records = item(health, "Triển khai hồ sơ sức khỏe điện tử", 2, {"NSDP": 200 * million})
    accounting = item(finance, "Phần mềm kế toán ngân sách", 3, {"NSDP": 300 * million})
    item(idle, "Cổng thông tin quy hoạch xây dựng", 4, {"NSDP": 100 * million}, rejected=True)
    indicator = Indicator(
        cycle_id=cycle.id,  # type: ignore[arg-type]
        code="CT01",
        name="Tỷ lệ hồ sơ thủ tục hành chính được xử lý trực tuyến",
        measure_unit="%",
        responsible_unit_id=interior.id,
    )
    session.add(indicator)
    session.flush()
    session.add(IndicatorTarget(indicator_id=indicator.id, level="all", target=Decimal("20")))  # type: ignore[arg-type]
    open_reporting_periods(session=session, cycle=cycle)
    session.commit()
    return ProgressWorld(
        session, cycle, health, finance, interior, idle, coordinator, hospital, records, accounting, indicator
    )


# ---------------------------------------------------------------- filling a workbook like an officer


def open_book(content: bytes) -> Workbook:
    return load_workbook(io.BytesIO(content))


def save_book(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def items_sheet(wb: Workbook):  # type: ignore[no-untyped-def]
    return wb[progress_texts()["sheets"]["items"]]


def indicators_sheet(wb: Workbook):  # type: ignore[no-untyped-def]
    return wb[progress_texts()["sheets"]["indicators"]]


def item_letter(context: ProgressContext, key: str) -> str:
    for column in item_columns(context):
        if key == column.key or key == f"approved:{column.source_code}":
            return column.letter
    raise KeyError(key)


def indicator_letter(context: ProgressContext, key: str) -> str:
    return next(c.letter for c in indicator_columns(context) if c.key == key)


HEALTH_ROWS: list[dict[str, Any]] = [
    {
        "status": "Đang triển khai",
        "percent": 45,
        "disbursed": "650,5",  # triệu, Vietnamese decimal comma
        "problems": "Chậm bàn giao hạ tầng máy chủ",
        "proposals": "Đề nghị bố trí vốn đợt 2",
    },
    {"status": "Chưa triển khai", "percent": None, "disbursed": None},
]


def fill_items(wb: Workbook, context: ProgressContext, rows: list[dict[str, Any]]) -> None:
    ws = items_sheet(wb)
    for offset, values in enumerate(rows):
        for key, value in values.items():
            ws[f"{item_letter(context, key)}{ITEMS_DATA_START_ROW + offset}"] = value


def filled_report(
    world: ProgressWorld,
    report: ProgressReport,
    *,
    rows: list[dict[str, Any]] | None = None,
    indicator_value: Any = None,
    mutate: Callable[[Workbook, ProgressContext], None] | None = None,
) -> bytes:
    context = world.context(report)
    wb = open_book(world.blank(report))
    fill_items(wb, context, rows if rows is not None else HEALTH_ROWS[: len(context.items)])
    if context.indicators:
        ws = indicators_sheet(wb)
        ws[f"{indicator_letter(context, 'value')}{INDICATORS_DATA_START_ROW}"] = indicator_value or "45,5"
        ws[f"{indicator_letter(context, 'note')}{INDICATORS_DATA_START_ROW}"] = "Số liệu Cổng dịch vụ công"
    if mutate is not None:
        mutate(wb, context)
    return save_book(wb)
