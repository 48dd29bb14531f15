"""The generated workbook: sheets, columns, drop-downs, carry-over prefill, protected signed metadata."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tasks.excel.metadata import META_SHEET, signing_secret
from tasks.submissions.workbook import (
    ITEMS_DATA_START_ROW,
    ITEMS_HEADER_ROW,
    ITEMS_SUBHEADER_ROW,
    STATUS_DATA_START_ROW,
    generate_unit_workbook,
    sign_metadata,
    workbook_texts,
)
from tests.factories import make_unit
from tests.submissions.conftest import World, item_letter, status_letter


def test_workbook_layout(world: World) -> None:
    filename, content = generate_unit_workbook(session=world.session, cycle=world.cycle, unit=world.unit)
    context = world.context()
    wb = load_workbook(io.BytesIO(content))
    sheets = workbook_texts()["sheets"]

    assert filename == "KH2027_SYT_de-xuat-nhiem-vu-du-an.xlsx"
    expected = [sheets["instructions"], sheets["items"], sheets["status"], sheets["lists"], META_SHEET]
    assert wb.sheetnames == expected
    states = ["visible", "visible", "visible", "hidden", "veryHidden"]
    assert [ws.sheet_state for ws in wb.worksheets] == states
    assert wb.security is not None and wb.security.lockStructure

    items = wb[sheets["items"]]
    headers = [items.cell(row=ITEMS_HEADER_ROW, column=i).value for i in range(1, 16)]
    assert headers[:10] == [
        "STT",
        "Tên nhiệm vụ, dự án (*)",
        "Đơn vị chủ trì",
        "Đơn vị phối hợp",
        "Lĩnh vực ứng dụng (*)",
        "Dự án mới / chuyển tiếp (*)",
        "Mục tiêu, nội dung thực hiện",
        "Phạm vi thực hiện",
        "Năm bắt đầu (*)",
        "Năm kết thúc (*)",
    ]
    assert headers[10] == "Kinh phí đề xuất theo nguồn vốn (triệu đồng)"
    assert headers[12:] == ["Tổng cộng (triệu đồng)", "Căn cứ, ghi chú", "Mã mục KH năm 2026 (không sửa)"]
    assert [items.cell(row=ITEMS_SUBHEADER_ROW, column=i).value for i in (11, 12)] == [
        "Ngân sách địa phương (NSDP)",
        "Ngân sách Trung ương (NSTW)",
    ]
    top = [c.value for row in items.iter_rows(max_row=4) for c in row]
    assert "Đơn vị tính: triệu đồng" in top
    assert items.freeze_panes == f"C{ITEMS_DATA_START_ROW}"
    assert items.protection.sheet and items.column_dimensions["B"].width == 40

    # Only last year's unfinished items of this unit are prefilled, with their id as reference.
    first, second, after = (ITEMS_DATA_START_ROW + i for i in range(3))
    assert items[f"B{first}"].value == world.in_progress.name
    assert items[f"F{first}"].value == "Dự án chuyển tiếp"
    assert items[f"E{first}"].value == "Ứng dụng CNTT trong nội bộ cơ quan nhà nước"
    assert items[f"{item_letter(context, 'previous_ref')}{first}"].value == world.in_progress.id
    assert items[f"{item_letter(context, 'previous_ref')}{second}"].value == world.not_started.id
    assert items[f"J{second}"].value == 2027  # the end year is extended to cover the cycle year
    assert items[f"B{after}"].value is None

    validations = {str(dv.sqref).split(":")[0]: dv for dv in items.data_validations.dataValidation}
    assert validations[f"E{ITEMS_DATA_START_ROW}"].type == "list"
    assert validations[f"E{ITEMS_DATA_START_ROW}"].formula1 == "'Danh sách chọn'!$A$2:$A$4"
    assert validations[f"F{ITEMS_DATA_START_ROW}"].formula1 == "'Danh sách chọn'!$B$2:$B$3"
    assert validations[f"I{ITEMS_DATA_START_ROW}"].type == "whole"
    lists = wb[sheets["lists"]]
    assert [lists.cell(row=r, column=3).value for r in range(2, 8)] == [
        "Chưa triển khai",
        "Đang triển khai",
        "Hoàn thành một phần",
        "Đã hoàn thành",
        "Tạm dừng",
        "Hủy bỏ",
    ]

    status = wb[sheets["status"]]
    refs = [status[f"{status_letter(context, 'ref')}{STATUS_DATA_START_ROW + i}"].value for i in range(4)]
    assert refs == [world.in_progress.id, world.not_started.id, world.completed.id, None]
    assert status[f"{status_letter(context, 'status')}{STATUS_DATA_START_ROW + 2}"].value == "Đã hoàn thành"

    instructions = wb[sheets["instructions"]]
    text = "\n".join(str(c.value) for row in instructions.iter_rows() for c in row if c.value)
    assert "Sở Y tế" in text and "30/09/2026" in text and "triệu đồng" in text


def test_metadata_is_signed_and_very_hidden(world: World) -> None:
    _, content = generate_unit_workbook(session=world.session, cycle=world.cycle, unit=world.unit)
    meta = load_workbook(io.BytesIO(content))[META_SHEET]
    fields = {row[0]: row[1] for row in meta.iter_rows(values_only=True)}

    assert (fields["cycle_year"], fields["unit_code"], fields["template_version"]) == ("2027", "SYT", "1")
    assert fields["cycle_id"] == str(world.cycle.id)
    assert fields["signature"] == sign_metadata(fields, signing_secret())
    assert meta.sheet_state == "veryHidden" and meta.protection.sheet


def test_units_see_only_their_own_last_year_items(world: World) -> None:
    _, content = generate_unit_workbook(session=world.session, cycle=world.cycle, unit=world.other_unit)
    wb = load_workbook(io.BytesIO(content))
    items = wb[workbook_texts()["sheets"]["items"]]

    assert items[f"B{ITEMS_DATA_START_ROW}"].value == "Phần mềm kế toán"
    assert items[f"B{ITEMS_DATA_START_ROW + 1}"].value is None


def test_unit_without_last_year_items_gets_an_empty_status_sheet(world: World) -> None:
    newcomer = make_unit(world.session, code="BQLKKT", name="Ban Quản lý Khu kinh tế")
    _, content = generate_unit_workbook(session=world.session, cycle=world.cycle, unit=newcomer)
    wb = load_workbook(io.BytesIO(content))
    status = wb[workbook_texts()["sheets"]["status"]]

    assert "không có nhiệm vụ" in status[f"A{STATUS_DATA_START_ROW}"].value
    assert wb[workbook_texts()["sheets"]["items"]][f"B{ITEMS_DATA_START_ROW}"].value is None
