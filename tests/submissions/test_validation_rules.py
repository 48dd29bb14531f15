"""One failing workbook per validation rule, each built in code from a generated, validly filled workbook.

Layout of the filled workbook (see conftest): items rows 8 and 9 are the prefilled carry-over items
(in progress, not started), rows 10 and 11 are new items; status rows 5, 6, 7 are last year's items
(in progress, not started, completed).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl.workbook.workbook import Workbook

from tasks.submissions.validation import validate_workbook
from tasks.submissions.workbook import WorkbookContext, item_columns, status_columns, workbook_texts
from tests.submissions.conftest import (
    NEW_ROWS,
    World,
    filled_workbook,
    item_letter,
    items_sheet,
    status_letter,
    status_sheet,
)

Mutation = Callable[[Workbook, WorkbookContext, World], None]


def set_item(row: int, key: str, value: Any) -> Mutation:
    def mutate(wb: Workbook, context: WorkbookContext, world: World) -> None:
        items_sheet(wb)[f"{item_letter(context, key)}{row}"] = value

    return mutate


def set_status(row: int, key: str, value: Any) -> Mutation:
    def mutate(wb: Workbook, context: WorkbookContext, world: World) -> None:
        status_sheet(wb)[f"{status_letter(context, key)}{row}"] = value

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(wb: Workbook, context: WorkbookContext, world: World) -> None:
        for mutation in mutations:
            mutation(wb, context, world)

    return mutate


def ref_of(attribute: str, row: int, sheet: str = "items") -> Mutation:
    """Write the id of one of last year's items (known only once the world exists) into a ref cell."""

    def mutate(wb: Workbook, context: WorkbookContext, world: World) -> None:
        item_id = getattr(world, attribute).id
        if sheet == "items":
            items_sheet(wb)[f"{item_letter(context, 'previous_ref')}{row}"] = item_id
        else:
            status_sheet(wb)[f"{status_letter(context, 'ref')}{row}"] = item_id

    return mutate


def merge(cells: str) -> Mutation:
    return lambda wb, context, world: items_sheet(wb).merge_cells(cells)


def hide_row(row: int) -> Mutation:
    def mutate(wb: Workbook, context: WorkbookContext, world: World) -> None:
        items_sheet(wb).row_dimensions[row].hidden = True

    return mutate


def clear_item_rows(wb: Workbook, context: WorkbookContext, world: World) -> None:
    ws = items_sheet(wb)
    for row in range(8, 12):
        for column in item_columns(context):
            ws.cell(row=row, column=column.index).value = None


def delete_status_row(row: int) -> Mutation:
    return lambda wb, context, world: status_sheet(wb).delete_rows(row)


def remove_status_sheet(wb: Workbook, context: WorkbookContext, world: World) -> None:
    wb.remove(status_sheet(wb))


NAME_10 = NEW_ROWS[0]["name"]
ITEMS, STATUS = "items", "status"

# id, mutation, expected key, sheet, row, column key (None: no column), text expected in message_vi
CASES: list[tuple[str, Mutation, str, str, int | None, str | None, str]] = [
    ("name required", set_item(10, "name", None), "required", ITEMS, 10, "name", "bắt buộc"),
    ("name blank spaces", set_item(10, "name", "   "), "required", ITEMS, 10, "name", "Tên nhiệm vụ"),
    ("field required", set_item(11, "field", None), "required", ITEMS, 11, "field", "Lĩnh vực"),
    ("origin required", set_item(10, "origin", None), "required", ITEMS, 10, "origin", "bắt buộc"),
    (
        "start year required",
        set_item(11, "start_year", None),
        "required",
        ITEMS,
        11,
        "start_year",
        "Năm bắt đầu",
    ),
    ("end year required", set_item(11, "end_year", ""), "required", ITEMS, 11, "end_year", "Năm kết thúc"),
    (
        "field unknown",
        set_item(10, "field", "Chính quyền số"),
        "field_unknown",
        ITEMS,
        10,
        "field",
        "Chính quyền số",
    ),
    (
        "origin unknown",
        set_item(10, "origin", "Thuê dịch vụ"),
        "origin_unknown",
        ITEMS,
        10,
        "origin",
        "Dự án mới",
    ),
    (
        "year not integer",
        set_item(10, "start_year", "năm 2027"),
        "year_not_integer",
        ITEMS,
        10,
        "start_year",
        "4 chữ số",
    ),
    (
        "start too early",
        set_item(10, "start_year", 2016),
        "start_year_too_early",
        ITEMS,
        10,
        "start_year",
        "2017",
    ),
    ("end too late", set_item(10, "end_year", 2038), "end_year_too_late", ITEMS, 10, "end_year", "2037"),
    (
        "end before start",
        both(set_item(10, "start_year", 2027), set_item(10, "end_year", 2025)),
        "end_before_start",
        ITEMS,
        10,
        "end_year",
        "trước năm bắt đầu",
    ),
    (
        "not covering the cycle year",
        both(set_item(11, "start_year", 2028), set_item(11, "end_year", 2029)),
        "not_in_cycle_year",
        ITEMS,
        11,
        "start_year",
        "năm kế hoạch 2027",
    ),
    (
        "amount text",
        set_item(10, "amount:NSDP", "khoảng 5"),
        "amount_invalid",
        ITEMS,
        10,
        "amount:NSDP",
        "khoảng 5",
    ),
    ("amount negative", set_item(11, "amount:NSTW", -5), "amount_invalid", ITEMS, 11, "amount:NSTW", "âm"),
    (
        "amount negative text",
        set_item(11, "amount:NSDP", "-1.000"),
        "amount_invalid",
        ITEMS,
        11,
        "amount:NSDP",
        "âm",
    ),
    (
        "amount finer than one dong",
        set_item(11, "amount:NSDP", "0,0000001"),
        "amount_invalid",
        ITEMS,
        11,
        "amount:NSDP",
        "1 đồng",
    ),
    ("total mismatch", set_item(10, "total", "2.470"), "total_mismatch", ITEMS, 10, "total", "2.469"),
    (
        "amount in another unit (tỷ in a triệu column)",
        set_item(11, "amount:NSDP", "12 tỷ"),
        "amount_unit_mismatch",
        ITEMS,
        11,
        "amount:NSDP",
        "tỷ đồng",
    ),
    (
        "total in another unit (đồng in a triệu column)",
        set_item(10, "total", "2.469.000.000 đồng"),
        "amount_unit_mismatch",
        ITEMS,
        10,
        "total",
        "triệu đồng",
    ),
    (
        "duplicate name (case, spacing, NFD)",
        set_item(11, "name", unicodedata.normalize("NFD", "  " + NAME_10.upper().replace(" ", "  ") + ".")),
        "duplicate_name",
        ITEMS,
        11,
        "name",
        "dòng 10",
    ),
    ("objective too long", set_item(10, "objective", "x" * 4001), "too_long", ITEMS, 10, "objective", "4000"),
    ("name too long", set_item(11, "name", "y" * 1001), "too_long", ITEMS, 11, "name", "1000"),
    ("stt too long", set_item(11, "stt", "1" * 33), "too_long", ITEMS, 11, "stt", "32"),
    (
        "carry-over unknown reference",
        set_item(8, "previous_ref", 999999),
        "carry_over_unknown_ref",
        ITEMS,
        8,
        "previous_ref",
        "999999",
    ),
    (
        "carry-over matching nothing",
        set_item(11, "origin", "Dự án chuyển tiếp"),
        "carry_over_no_match",
        ITEMS,
        11,
        "name",
        "2026",
    ),
    (
        "reference on a new item",
        set_item(8, "origin", "Dự án mới"),
        "carry_over_ref_on_new",
        ITEMS,
        8,
        "origin",
        "Dự án chuyển tiếp",
    ),
    (
        "same item carried over twice",
        both(set_item(11, "origin", "Dự án chuyển tiếp"), ref_of("in_progress", 11)),
        "carry_over_duplicate",
        ITEMS,
        11,
        "previous_ref",
        "dòng 8",
    ),
    (
        "carry-over of a completed item",
        both(set_item(11, "origin", "Dự án chuyển tiếp"), ref_of("completed", 11)),
        "carry_over_closed",
        ITEMS,
        11,
        "origin",
        "Đã hoàn thành",
    ),
    (
        "carry-over of an item reported cancelled",
        both(set_status(6, "status", "Hủy bỏ")),
        "carry_over_closed",
        ITEMS,
        9,
        "origin",
        "Hủy bỏ",
    ),
    (
        "formula without cached value",
        set_item(10, "total", "=K10+L10"),
        "formula_without_value",
        ITEMS,
        10,
        "total",
        "=K10+L10",
    ),
    ("merged cells over data", merge("B10:B11"), "merged_cells", ITEMS, 10, "name", "B10:B11"),
    ("hidden row with data", hide_row(11), "hidden_row", ITEMS, 11, None, "ẩn"),
    (
        "header changed",
        lambda wb, context, world: items_sheet(wb).cell(row=5, column=5, value="Lĩnh vực"),
        "header_changed",
        ITEMS,
        5,
        "field",
        "Lĩnh vực ứng dụng (*)",
    ),
    ("no items at all", clear_item_rows, "no_items", ITEMS, 8, None, "Chưa có nhiệm vụ"),
    ("status sheet removed", remove_status_sheet, "sheet_missing", STATUS, None, None, "Tình hình năm trước"),
    ("status required", set_status(6, "status", None), "required", STATUS, 6, "status", "Trạng thái"),
    (
        "status unknown",
        set_status(6, "status", "Xong rồi"),
        "status_unknown",
        STATUS,
        6,
        "status",
        "Xong rồi",
    ),
    ("percent over 100", set_status(5, "percent", 120), "percent_invalid", STATUS, 5, "percent", "0 đến 100"),
    (
        "percent text",
        set_status(5, "percent", "gần xong"),
        "percent_invalid",
        STATUS,
        5,
        "percent",
        "gần xong",
    ),
    (
        "completed but not 100%",
        set_status(7, "percent", 80),
        "status_percent_mismatch",
        STATUS,
        7,
        "percent",
        "80%",
    ),
    (
        "status row for an unknown item",
        both(set_status(8, "ref", 999999), set_status(8, "status", "Đang triển khai")),
        "status_unknown_ref",
        STATUS,
        8,
        "ref",
        "999999",
    ),
    (
        "status reported twice",
        both(ref_of("in_progress", 8, sheet="status"), set_status(8, "status", "Đang triển khai")),
        "status_duplicate_ref",
        STATUS,
        8,
        "ref",
        "dòng 5",
    ),
    ("status row deleted", delete_status_row(6), "status_missing_item", STATUS, None, None, "hồ sơ sức khỏe"),
    ("status note too long", set_status(5, "note", "z" * 2001), "too_long", STATUS, 5, "note", "2000"),
]


def _header(context: WorkbookContext, sheet: str, key: str) -> tuple[str, str]:
    if sheet == ITEMS:
        column = next(c for c in item_columns(context) if key in (c.key, f"amount:{c.source_code}"))
    else:
        column = next(c for c in status_columns(context) if c.key == key)
    return column.letter, column.header


@pytest.mark.parametrize(
    ("mutation", "key", "sheet", "row", "column_key", "text"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_each_rule_is_reported_where_it_happens(
    world: World,
    mutation: Mutation,
    key: str,
    sheet: str,
    row: int | None,
    column_key: str | None,
    text: str,
) -> None:
    context = world.context()
    content = filled_workbook(world, mutate=lambda wb, ctx: mutation(wb, ctx, world))

    result = validate_workbook(content, context=context)

    assert result.submission is None and not result.ok
    assert [e.key for e in result.errors] == [key], [e.message_en for e in result.errors]
    error = result.errors[0]
    assert error.sheet == workbook_texts()["sheets"][sheet]
    assert error.row == row
    if column_key is None:
        assert error.column is None
    else:
        assert (error.column, error.column_name) == _header(context, sheet, column_key)
    assert text in error.message_vi
    assert error.message_en and error.message_en != error.message_vi


def test_all_errors_are_collected_in_reading_order(world: World) -> None:
    content = filled_workbook(
        world,
        mutate=lambda wb, ctx: both(
            set_item(11, "field", None),
            set_item(10, "amount:NSDP", "abc"),
            set_item(10, "end_year", 2040),
            set_status(6, "status", "???"),
        )(wb, ctx, world),
    )

    errors = validate_workbook(content, context=world.context()).errors

    assert [(e.key, e.row, e.column) for e in errors] == [
        ("end_year_too_late", 10, "J"),
        ("amount_invalid", 10, "K"),
        ("required", 11, "E"),
        ("status_unknown", 6, "E"),
    ]


def test_text_is_normalised_to_nfc_and_carry_over_matches_by_name(world: World) -> None:
    decomposed = unicodedata.normalize("NFD", world.not_started.name.upper())
    content = filled_workbook(
        world,
        mutate=lambda wb, ctx: both(set_item(9, "previous_ref", None), set_item(9, "name", decomposed))(
            wb, ctx, world
        ),
    )

    result = validate_workbook(content, context=world.context())

    assert result.errors == []
    assert result.submission is not None
    item = result.submission.items[1]
    assert item.name == unicodedata.normalize("NFC", decomposed) and item.name != decomposed
    assert item.carry_over_from_id == world.not_started.id


def test_formula_with_a_cached_value_is_read_as_its_value(world: World) -> None:
    """Excel stores a formula's last result; that value is taken (a formula without one is an error)."""
    content = filled_workbook(world, mutate=lambda wb, ctx: set_item(10, "total", "=K10+L10")(wb, ctx, world))
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.startswith("xl/worksheets/"):
                # What Excel writes after calculating: the formula and its cached result.
                data = re.sub(rb"<f>K10\+L10</f>(<v\s*/>|<v></v>)?", b"<f>K10+L10</f><v>2469</v>", data)
            target.writestr(info, data)

    result = validate_workbook(buffer.getvalue(), context=world.context())

    assert result.errors == []
    assert result.submission is not None
    assert result.submission.items[2].stated_total == 2_469_000_000
