"""A small world for submission tests: a unit with last year's plan items, this year's cycle with its
funding sources and fields, and helpers that fill a generated workbook the way a unit's officer would."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from sqlmodel import Session

from models import ApplicationField, PlanItem, PlanningCycle, Unit
from models.base import ItemStatus
from tasks.submissions.workbook import (
    ITEMS_DATA_START_ROW,
    STATUS_DATA_START_ROW,
    WorkbookContext,
    build_workbook,
    item_columns,
    load_workbook_context,
    status_columns,
    workbook_texts,
)
from tests.factories import make_cycle, make_unit

ISSUED_AT = datetime(2026, 8, 1, 8, 0, tzinfo=UTC)
FIELDS = [
    ("INT", "Ứng dụng CNTT trong nội bộ cơ quan nhà nước"),
    ("SVC", "Ứng dụng CNTT phục vụ người dân và doanh nghiệp"),
    ("SEC", "Bảo đảm an toàn thông tin"),
]


@dataclass
class World:
    session: Session
    cycle: PlanningCycle
    previous_cycle: PlanningCycle
    unit: Unit
    other_unit: Unit
    in_progress: PlanItem  # carried over (prefilled)
    not_started: PlanItem  # carried over (prefilled)
    completed: PlanItem  # status sheet only

    def context(self, unit: Unit | None = None, cycle: PlanningCycle | None = None) -> WorkbookContext:
        return load_workbook_context(session=self.session, cycle=cycle or self.cycle, unit=unit or self.unit)

    def blank(self, unit: Unit | None = None, cycle: PlanningCycle | None = None) -> bytes:
        return build_workbook(self.context(unit, cycle), issued_at=ISSUED_AT)


def _add_fields(session: Session, cycle: PlanningCycle) -> None:
    for order, (code, name) in enumerate(FIELDS):
        session.add(ApplicationField(cycle_id=cycle.id, code=code, name=name, display_order=order))  # type: ignore[arg-type]


@pytest.fixture
def world(session: Session) -> World:
    unit = make_unit(session, code="SYT", name="Sở Y tế")
    other = make_unit(session, code="STC", name="Sở Tài chính")
    # the partner units the filled workbook names (resolved against the registry)
    make_unit(session, code="SKHCN", name="Sở Khoa học và Công nghệ")
    make_unit(session, code="TTCNTT", name="Trung tâm Công nghệ thông tin")
    previous = make_cycle(session, year=2026, money_unit="trieu")
    _add_fields(session, previous)
    cycle = make_cycle(session, year=2027, money_unit="trieu", previous_cycle_id=previous.id)
    _add_fields(session, cycle)

    def plan_item(name: str, status: str, position: int, **fields: Any) -> PlanItem:
        values: dict[str, Any] = {"field_code": "INT", "origin": "new", "start_year": 2026, "end_year": 2026}
        item = PlanItem(
            cycle_id=previous.id,  # type: ignore[arg-type]
            lead_unit_id=unit.id,  # type: ignore[arg-type]
            name=name,
            status=status,
            position=position,
            **(values | fields),
        )
        session.add(item)
        return item

    in_progress = plan_item(
        "Nâng cấp hệ thống thông tin quản lý bệnh viện",
        ItemStatus.in_progress,
        1,
        objective="Kết nối liên thông dữ liệu khám chữa bệnh",
        scope="Các bệnh viện tuyến tỉnh",
        end_year=2027,
        percent_complete=60,
    )
    not_started = plan_item("Triển khai hồ sơ sức khỏe điện tử", ItemStatus.not_started, 2)
    completed = plan_item("Đào tạo kỹ năng số cho cán bộ y tế", ItemStatus.completed, 3)
    # Another unit's item never reaches this unit's workbook.
    session.add(
        PlanItem(cycle_id=previous.id, lead_unit_id=other.id, name="Phần mềm kế toán", status="in_progress")  # type: ignore[arg-type]
    )
    session.commit()
    return World(session, cycle, previous, unit, other, in_progress, not_started, completed)


# ---------------------------------------------------------------- filling a workbook like a unit does


def open_book(content: bytes) -> Workbook:
    return load_workbook(io.BytesIO(content))


def save_book(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def items_sheet(wb: Workbook):  # type: ignore[no-untyped-def]
    return wb[workbook_texts()["sheets"]["items"]]


def status_sheet(wb: Workbook):  # type: ignore[no-untyped-def]
    return wb[workbook_texts()["sheets"]["status"]]


def item_letter(context: WorkbookContext, key: str) -> str:
    """Column letter of an items-sheet column: a key such as ``name`` or ``amount:NSDP``."""
    for column in item_columns(context):
        if key == column.key or key == f"amount:{column.source_code}":
            return column.letter
    raise KeyError(key)


def status_letter(context: WorkbookContext, key: str) -> str:
    return next(c.letter for c in status_columns(context) if c.key == key)


NEW_ROWS: list[dict[str, Any]] = [
    {
        "stt": 3,
        "name": "Xây dựng kho dữ liệu y tế dùng chung",
        "coordinating_units": "Sở Khoa học và Công nghệ; Trung tâm CNTT",
        "field": "Ứng dụng CNTT phục vụ người dân và doanh nghiệp",
        "origin": "Dự án mới",
        "objective": "Tích hợp dữ liệu khám chữa bệnh toàn tỉnh",
        "scope": "Toàn tỉnh",
        "start_year": 2027,
        "end_year": 2028,
        "amount:NSDP": "1.234,5",  # Vietnamese text: 1.234,5 triệu
        "amount:NSTW": 1234.5,  # an Excel number
        "total": "2.469",
        "basis": "Kế hoạch số 12/KH-UBND",
    },
    {
        "stt": 4,
        "name": "Bảo đảm an toàn thông tin cho cổng dịch vụ công",
        "field": "Bảo đảm an toàn thông tin",
        "origin": "Dự án mới",
        "start_year": 2027,
        "end_year": 2027,
        "amount:NSDP": "123.456",  # grouped Vietnamese thousands, in triệu
        "amount:NSTW": "0,5 triệu đồng",  # the column's own unit word is accepted
    },
]

# The same amounts in đồng, per row above, and for the carry-over rows filled by `filled_workbook`.
EXPECTED_NEW_AMOUNTS = [
    {"NSDP": 1_234_500_000, "NSTW": 1_234_500_000},
    {"NSDP": 123_456_000_000, "NSTW": 500_000},
]
CARRY_OVER_AMOUNTS = {"amount:NSDP": 100, "amount:NSTW": 0.1}  # 100 triệu; 0,1 triệu = 100.000 đồng
EXPECTED_TOTALS = {
    "NSDP": 1_234_500_000 + 123_456_000_000 + 2 * 100_000_000,
    "NSTW": 1_234_500_000 + 500_000 + 2 * 100_000,
}


def fill_items(wb: Workbook, context: WorkbookContext, rows: list[dict[str, Any]], first_row: int) -> None:
    ws = items_sheet(wb)
    for offset, values in enumerate(rows):
        for key, value in values.items():
            ws[f"{item_letter(context, key)}{first_row + offset}"] = value


def filled_workbook(
    world: World,
    *,
    mutate: Callable[[Workbook, WorkbookContext], None] | None = None,
    unit: Unit | None = None,
) -> bytes:
    """A complete, valid submission: both prefilled carry-over rows get amounts, two new rows follow,
    and the status sheet (prefilled from last year's statuses) gets a percent and a note."""
    context = world.context(unit)
    wb = open_book(world.blank(unit))
    carry = len(context.carry_over_candidates)
    fill_items(wb, context, [CARRY_OVER_AMOUNTS] * carry, ITEMS_DATA_START_ROW)
    fill_items(wb, context, NEW_ROWS, ITEMS_DATA_START_ROW + carry)
    status = status_sheet(wb)
    status[f"{status_letter(context, 'percent')}{STATUS_DATA_START_ROW}"] = 70
    status[f"{status_letter(context, 'note')}{STATUS_DATA_START_ROW}"] = "Đang nghiệm thu giai đoạn 1"
    if mutate is not None:
        mutate(wb, context)
    return save_book(wb)


AS_OF_ON_TIME = date(2026, 9, 15)
