"""The prefilled progress workbook and the one progress intake: happy path, every validation rule with its
sheet, row and column, duplicates, late reports, and a file for another unit."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from openpyxl.workbook.workbook import Workbook
from sqlmodel import Session, func, select

from models import IndicatorValue, IntakeAttempt, ProgressEntry
from models.progress import ProgressReport
from tasks.common.calendar import WorkingCalendar
from tasks.excel.files import sheet_part
from tasks.excel.metadata import META_SHEET
from tasks.progress.intake import ingest_progress_report, is_late
from tasks.progress.validation import is_progress_workbook
from tasks.progress.workbook import (
    INDICATORS_DATA_START_ROW,
    ITEMS_DATA_START_ROW,
    ProgressContext,
    progress_texts,
)
from tests.progress.conftest import (
    ProgressWorld,
    filled_report,
    indicator_letter,
    indicators_sheet,
    item_letter,
    items_sheet,
    open_book,
    save_book,
)

ON_TIME = date(2027, 3, 16)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _ingest(world: ProgressWorld, content: bytes, as_of: date = ON_TIME, **kwargs: Any):  # type: ignore[no-untyped-def]
    return ingest_progress_report(
        session=world.session,
        filename="bao-cao.xlsx",
        content=content,
        channel="cli",
        as_of=as_of,
        actor="test",
        **kwargs,
    )


def test_a_progress_workbook_is_told_by_its_metadata_sheet_wherever_that_sheet_is(
    progress_world: ProgressWorld,
) -> None:
    """The dispatch reads only the metadata sheet's part, found through the workbook's relationships: a
    file whose sheets were reordered (the part names change) is still a progress report, and a proposal
    whose cells name the kind is still not one."""
    world = progress_world
    reports = world.request_q1()
    blank = world.blank(reports["SYT"])
    wb = open_book(blank)
    last = f"xl/worksheets/sheet{len(wb.sheetnames)}.xml"
    wb.move_sheet(META_SHEET, offset=-wb.sheetnames.index(META_SHEET))  # first: now sheet1.xml
    assert wb.sheetnames[0] == META_SHEET
    moved = save_book(wb)
    assert is_progress_workbook(moved)
    with zipfile.ZipFile(io.BytesIO(moved)) as archive:  # the part is found by name, not by position
        assert sheet_part(archive, META_SHEET) == "xl/worksheets/sheet1.xml"
        assert sheet_part(archive, "no such sheet") is None
    with zipfile.ZipFile(io.BytesIO(save_book(open_book(blank)))) as archive:
        assert sheet_part(archive, META_SHEET) == last
    del wb[META_SHEET]
    items_sheet(wb)["A1"] = "progress_report"  # the kind's word in a unit's cell, no metadata sheet
    assert not is_progress_workbook(save_book(wb))


def test_prefilled_workbook(progress_world: ProgressWorld) -> None:
    world = progress_world
    reports = world.request_q1()
    content = world.blank(reports["SYT"])
    assert is_progress_workbook(content)
    wb = open_book(content)
    assert wb[META_SHEET].sheet_state == "veryHidden"
    context = world.context(reports["SYT"])
    ws = items_sheet(wb)
    row = ITEMS_DATA_START_ROW
    assert ws[f"{item_letter(context, 'ref')}{row}"].value == world.hospital_system.id
    assert ws[f"{item_letter(context, 'name')}{row}"].value == "Nâng cấp hệ thống thông tin quản lý bệnh viện"
    assert ws[f"{item_letter(context, 'approved:NSDP')}{row}"].value == 1500  # triệu
    assert ws[f"{item_letter(context, 'approved:NSTW')}{row}"].value == 500
    assert ws[f"{item_letter(context, 'last_status')}{row}"].value == "Đang triển khai"
    assert ws[f"{item_letter(context, 'last_percent')}{row}"].value == 20
    assert ws[f"{item_letter(context, 'name')}{row + 1}"].value == "Triển khai hồ sơ sức khỏe điện tử"
    assert ws[f"{item_letter(context, 'ref')}{row + 2}"].value is None  # the finance item is not here
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    status_range = f"{item_letter(context, 'status')}{row}:{item_letter(context, 'status')}{row + 1}"
    assert status_range in validations
    lists = wb[progress_texts()["sheets"]["lists"]]
    assert [lists[f"A{r}"].value for r in range(2, 8)] == [
        "Chưa triển khai",
        "Đang triển khai",
        "Hoàn thành một phần",
        "Đã hoàn thành",
        "Tạm dừng",
        "Hủy bỏ",
    ]
    interior = open_book(world.blank(reports["SNV"]))
    context = world.context(reports["SNV"])
    sheet = indicators_sheet(interior)
    assert sheet[f"{indicator_letter(context, 'code')}{INDICATORS_DATA_START_ROW}"].value == "CT01"
    assert sheet[f"{indicator_letter(context, 'target')}{INDICATORS_DATA_START_ROW}"].value == 20


def test_happy_path_stores_entries_and_values(progress_world: ProgressWorld) -> None:
    world = progress_world
    reports = world.request_q1()
    result = _ingest(world, filled_report(world, reports["SYT"]))
    assert result.accepted and not result.duplicate and result.on_time is True, result.errors
    assert (result.entry_count, result.indicator_count) == (2, 0)
    assert result.disbursed_total == 650_500_000
    entries = {e.plan_item_id: e for e in world.session.exec(select(ProgressEntry))}
    hospital = entries[world.hospital_system.id]  # type: ignore[index]
    assert (hospital.status, hospital.percent_complete, hospital.disbursed) == (
        "in_progress",
        45,
        650_500_000,
    )
    assert hospital.problems == "Chậm bàn giao hạ tầng máy chủ"
    records = entries[world.health_records.id]  # type: ignore[index]
    assert (records.status, records.percent_complete, records.disbursed) == ("not_started", 0, None)
    report = world.session.get(ProgressReport, reports["SYT"].id)
    assert report is not None and report.status == "submitted" and report.attempt_id == result.attempt_id

    interior = _ingest(world, filled_report(world, reports["SNV"]))
    assert interior.accepted and interior.indicator_count == 1
    value = world.session.exec(select(IndicatorValue)).one()
    assert value.value == Decimal("45.5") and value.note == "Số liệu Cổng dịch vụ công"


def test_duplicate_file_is_a_no_op_and_a_correction_replaces(progress_world: ProgressWorld) -> None:
    world = progress_world
    reports = world.request_q1()
    content = filled_report(world, reports["SYT"])
    first = _ingest(world, content)
    again = _ingest(world, content)
    assert again.accepted and again.duplicate
    assert _count(world.session, ProgressEntry) == 2 and _count(world.session, IntakeAttempt) == 2
    rows = [{"status": "Đã hoàn thành", "percent": 100, "disbursed": 1900}, {"status": "Tạm dừng"}]
    corrected = _ingest(world, filled_report(world, reports["SYT"], rows=rows), as_of=date(2027, 3, 25))
    assert (
        corrected.accepted and not corrected.duplicate and corrected.on_time is True
    )  # first file was on time
    statuses = sorted(e.status for e in world.session.exec(select(ProgressEntry)))
    assert statuses == ["completed", "suspended"] and first.attempt_id != corrected.attempt_id


def test_late_report(progress_world: ProgressWorld) -> None:
    world = progress_world
    reports = world.request_q1()
    result = _ingest(
        world,
        filled_report(world, reports["STC"], rows=[{"status": "Đang triển khai", "percent": 10}]),
        as_of=date(2027, 3, 18),
    )
    assert result.accepted and result.on_time is False
    report = world.session.get(ProgressReport, reports["STC"].id)
    assert is_late(session=world.session, report=report, calendar=WorkingCalendar()) is True  # type: ignore[arg-type]


def _cell(key: str, value: Any, row_offset: int = 0):  # type: ignore[no-untyped-def]
    def mutate(wb: Workbook, context: ProgressContext) -> None:
        items_sheet(wb)[f"{item_letter(context, key)}{ITEMS_DATA_START_ROW + row_offset}"] = value

    return mutate


def _delete_second_row(wb: Workbook, context: ProgressContext) -> None:
    ws = items_sheet(wb)
    for column in ("ref", "status", "percent"):
        ws[f"{item_letter(context, column)}{ITEMS_DATA_START_ROW + 1}"] = None


@pytest.mark.parametrize(
    ("rows", "mutate", "key", "row", "column"),
    [
        (
            [{"status": "Xong rồi", "percent": 50}, {"status": "Chưa triển khai"}],
            None,
            "status_unknown",
            7,
            "status",
        ),
        ([{"status": None, "percent": 50}, {"status": "Chưa triển khai"}], None, "required", 7, "status"),
        (
            [{"status": "Đã hoàn thành", "percent": 50}, {"status": "Chưa triển khai"}],
            None,
            "completed_not_100",
            7,
            "percent",
        ),
        (
            [{"status": "Đang triển khai", "percent": 40}, {"status": "Chưa triển khai", "percent": 10}],
            None,
            "not_started_not_0",
            8,
            "percent",
        ),
        (
            [{"status": "Đang triển khai", "percent": 100}, {"status": "Chưa triển khai"}],
            None,
            "unfinished_at_100",
            7,
            "percent",
        ),
        (
            [{"status": "Đang triển khai"}, {"status": "Chưa triển khai"}],
            None,
            "percent_required",
            7,
            "percent",
        ),
        (
            [{"status": "Đang triển khai", "percent": 140}, {"status": "Chưa triển khai"}],
            None,
            "percent_invalid",
            7,
            "percent",
        ),
        (
            [{"status": "Đang triển khai", "percent": 40, "disbursed": -5}, {"status": "Chưa triển khai"}],
            None,
            "disbursed_negative",
            7,
            "disbursed",
        ),
        (
            [
                {"status": "Đang triển khai", "percent": 40, "disbursed": "2.000,5"},
                {"status": "Chưa triển khai"},
            ],
            None,
            "disbursed_over_approved",
            7,
            "disbursed",
        ),
        (
            [
                {"status": "Đang triển khai", "percent": 40, "disbursed": "5 tỷ"},
                {"status": "Chưa triển khai"},
            ],
            None,
            "amount_unit_mismatch",
            7,
            "disbursed",
        ),
        (
            [{"status": "Đang triển khai", "percent": 40}, {"status": "Chưa triển khai"}],
            _cell("ref", 99999),
            "unknown_item+missing_item",  # the row's own item is then missing
            7,
            "ref",
        ),
        (
            [{"status": "Đang triển khai", "percent": 40}, {"status": "Chưa triển khai"}],
            _cell("ref", 99999, 2),
            "unknown_item",
            9,
            "ref",
        ),
        ([{"status": "Đang triển khai", "percent": 40}], _delete_second_row, "missing_item", None, None),
    ],
)
def test_each_error_is_located(
    progress_world: ProgressWorld,
    rows: list[dict[str, Any]],
    mutate: Any,
    key: str,
    row: int | None,
    column: str | None,
) -> None:
    world = progress_world
    reports = world.request_q1()
    context = world.context(reports["SYT"])
    result = _ingest(world, filled_report(world, reports["SYT"], rows=rows, mutate=mutate))
    assert not result.accepted
    assert [e.key for e in result.errors] == key.split("+"), [e.message_en for e in result.errors]
    error = result.errors[0]
    assert error.sheet == progress_texts()["sheets"]["items"] and error.row == row
    assert error.column == (item_letter(context, column) if column else None)
    assert error.message_vi and error.message_en
    assert _count(world.session, ProgressEntry) == 0
    assert world.session.get(ProgressReport, reports["SYT"].id).status == "requested"  # type: ignore[union-attr]
    attempt = world.session.get(IntakeAttempt, result.attempt_id)
    assert attempt is not None and not attempt.accepted and attempt.errors[0]["key"] == error.key  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "key"), [("nhiều", "indicator_value_invalid"), (130, "indicator_percent_range")]
)
def test_indicator_errors(progress_world: ProgressWorld, value: Any, key: str) -> None:
    world = progress_world
    reports = world.request_q1()
    result = _ingest(world, filled_report(world, reports["SNV"], indicator_value=value))
    context = world.context(reports["SNV"])
    assert [(e.key, e.sheet, e.row, e.column) for e in result.errors] == [
        (
            key,
            progress_texts()["sheets"]["indicators"],
            INDICATORS_DATA_START_ROW,
            indicator_letter(context, "value"),
        )
    ]


def test_tampered_or_foreign_workbooks_are_refused(progress_world: ProgressWorld) -> None:
    world = progress_world
    reports = world.request_q1()

    def tamper(wb: Workbook, context: ProgressContext) -> None:
        wb[META_SHEET]["B3"] = str(reports["STC"].id)  # report_id

    tampered = _ingest(world, filled_report(world, reports["SYT"], mutate=tamper))
    assert [e.key for e in tampered.errors] == ["meta_tampered"]
    foreign = _ingest(world, filled_report(world, reports["SYT"]), unit=world.finance)
    assert [e.key for e in foreign.errors] == ["meta_wrong_unit"]
    plain = save_book(Workbook())
    assert [e.key for e in _ingest(world, plain).errors] == ["not_progress_workbook"]
    assert _count(world.session, ProgressEntry) == 0
