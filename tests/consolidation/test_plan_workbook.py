"""The consolidated plan's workbook, read back cell by cell: a real plan built in the database
(materialize + build), written with xlsxwriter, opened with openpyxl and compared with the đồng stored
in the database."""

from __future__ import annotations

import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session

from models import FundingEnvelope, PlanningCycle, Unit
from tasks.consolidation.annexes import ANNEX02_HEADER_ROW, annex02_summary_paragraph, write_plan_workbook
from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.plan import build_plan, materialize_plan
from tasks.consolidation.sheets import plan_annex_texts
from tasks.consolidation.totals_check import check_plan_file
from tests.consolidation.plan_world import (
    Item,
    add_plan_item,
    add_submission,
    make_unit,
    new_cycle,
    source_ids,
)

AS_OF = date(2026, 11, 20)
TRIEU = 1_000_000
TY = 1_000_000_000
PROVINCE = "Gia Lai"
FIRST_DATA_ROW = ANNEX02_HEADER_ROW + 2
NAMES = {"NSDP": "Ngân sách địa phương", "NSTW": "Ngân sách Trung ương"}


@dataclass
class World:
    cycle: PlanningCycle
    plan: ConsolidatedPlan
    units: dict[str, Unit]
    path: Path


def _build_world(
    session: Session, tmp_path: Path, money_unit: str = "trieu", **cycle_fields: object
) -> World:
    """Two sources, three lead-unit groups, a carry-over, an unstated source, last year's plan with
    reported statuses, and a whole-plan NSĐP envelope the plan exceeds."""
    units = {
        "stttt": make_unit(session, code="STTTT", name="Sở Thông tin và Truyền thông"),
        "syt": make_unit(session, code="SYT", name="Sở Y tế"),
        "vp": make_unit(session, code="VPUB", name="Văn phòng UBND tỉnh", kind="provincial_leadership"),
    }
    previous = new_cycle(session, 2026)
    cycle = new_cycle(
        session,
        2027,
        money_unit=money_unit,
        previous_cycle_id=previous.id,
        coordinating_unit_id=units["stttt"].id,
        **cycle_fields,
    )
    continuing = add_plan_item(
        session, previous, units["syt"], "Bệnh án điện tử giai đoạn 1", {"NSDP": 3 * TY}, position=1
    )
    done = add_plan_item(
        session,
        previous,
        units["syt"],
        "Đào tạo kỹ năng số cho cán bộ y tế",
        {"NSDP": 200 * TRIEU, "NSTW": 50 * TRIEU},
        position=2,
        objective="Nâng cao kỹ năng số",
        scope="Toàn ngành y tế",
    )
    add_plan_item(
        session,
        previous,
        units["vp"],
        "Nâng cấp phòng họp trực tuyến",
        {"NSTW": 1 * TY, "NSDP": None},
        position=3,
    )
    session.commit()
    add_submission(
        session,
        cycle,
        units["stttt"],
        [
            Item(
                "Nâng cấp nền tảng tích hợp, chia sẻ dữ liệu (LGSP)",
                {"NSDP": 3_384_500_000, "NSTW": 1_234_567},
                extra={"objective": "Kết nối các cơ sở dữ liệu", "scope": "Toàn tỉnh", "basis": "NQ 199"},
            ),
            Item("Giám sát an toàn thông tin tập trung (SOC)", {"NSDP": 19_344 * TRIEU}, field="SEC"),
        ],
    )
    add_submission(
        session,
        cycle,
        units["syt"],
        [
            Item(
                "Bệnh án điện tử giai đoạn 2",
                {"NSDP": 4 * TY + 1},
                origin="carry_over",
                carry_over_from_id=continuing.id,
                start_year=2026,
            ),
            Item("Phần mềm thống kê y tế điện tử", {"NSDP": 320 * TRIEU, "NSTW": None}, field="SVC"),
        ],
        statuses=[(continuing.id, "in_progress", 40, "Chậm giải ngân"), (done.id, "completed", 100, None)],
    )
    add_submission(
        session, cycle, units["vp"], [Item("Triển khai phần mềm họp không giấy", {"NSDP": 100 * TRIEU})]
    )
    nsdp_id = source_ids(session, cycle)["NSDP"]
    session.add(FundingEnvelope(cycle_id=cycle.id, funding_source_id=nsdp_id, amount=20 * TY))  # type: ignore[arg-type]
    session.commit()
    materialize_plan(session=session, cycle=cycle, actor="tester")
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    path = write_plan_workbook(plan, tmp_path / "out" / "ke-hoach.xlsx", province_name=PROVINCE)
    return World(cycle, plan, units, path)


@pytest.fixture
def world(session: Session, tmp_path: Path) -> World:
    return _build_world(session, tmp_path)


def _db_amounts(session: Session, cycle_id: int) -> dict[int, dict[str, int | None]]:
    """plan_item_id → {source code: amount (None = named without an amount)}, straight from the tables."""
    rows = session.exec(
        sa.text(
            "SELECT p.id, s.code, a.amount FROM planitem AS p "
            "JOIN planitemamount AS a ON a.item_id = p.id "
            "JOIN fundingsource AS s ON s.id = a.funding_source_id WHERE p.cycle_id = :c"
        ),
        params={"c": cycle_id},
    ).all()
    out: dict[int, dict[str, int | None]] = defaultdict(dict)
    for item_id, code, amount in rows:
        out[item_id][code] = None if amount is None else int(amount)
    return out


def _db_lead_units(session: Session, cycle_id: int) -> dict[int, str]:
    rows = session.exec(
        sa.text(
            "SELECT p.id, u.name FROM planitem AS p JOIN unit AS u ON u.id = p.lead_unit_id "
            "WHERE p.cycle_id = :c"
        ),
        params={"c": cycle_id},
    ).all()
    return {item_id: name for item_id, name in rows}


def _row(ws: Worksheet, row: int, last_col: int = 12) -> list[object]:
    return [ws.cell(row=row, column=col).value for col in range(1, last_col + 1)]


# ---------------------------------------------------------------- Phụ lục 02


def test_workbook_has_the_four_sheets_in_order_and_no_partial_file(world: World) -> None:
    wb = load_workbook(world.path)
    assert wb.sheetnames == ["Tổng hợp", "Phụ lục 01", "Phụ lục 02", "Theo KH&CN, ĐMST, CĐS", "Kiểm tra"]
    assert [p.name for p in world.path.parent.iterdir()] == ["ke-hoach.xlsx"]
    # idempotent: writing again replaces the file with the same content
    again = write_plan_workbook(world.plan, world.path, province_name=PROVINCE)
    assert again == world.path
    assert load_workbook(again)["Phụ lục 02"]["B8"].value == wb["Phụ lục 02"]["B8"].value


def test_annex02_title_lines_header_texts_and_merges(world: World) -> None:
    ws = load_workbook(world.path)["Phụ lục 02"]
    assert ws["A1"].value == "PHỤ LỤC 02"
    assert ws["A2"].value == "DANH MỤC NHIỆM VỤ, DỰ ÁN THUỘC KẾ HOẠCH ỨNG DỤNG CNTT, CHUYỂN ĐỔI SỐ NĂM 2027"
    assert ws["A3"].value == "(Dự thảo tổng hợp ngày 20/11/2026)"
    assert ws["A4"].value == "Đơn vị tính: triệu đồng"
    assert ws["A5"].value == world.plan.rounding_rule_vi
    # two-row header: A..H merged vertically, I6:K6 across the amounts, L merged vertically
    assert _row(ws, 6) == [
        "STT",
        "Tên nhiệm vụ, dự án",
        "Đơn vị chủ trì",
        "Lĩnh vực ứng dụng",
        "Dự án mới / chuyển tiếp",
        "Mục tiêu, nội dung thực hiện",
        "Phạm vi thực hiện",
        "Thời gian triển khai",
        "Kinh phí năm 2027 (triệu đồng)",
        None,
        None,
        "Ghi chú",
    ]
    assert _row(ws, 7) == [None] * 8 + [
        "Ngân sách địa phương (NSDP)",
        "Ngân sách Trung ương (NSTW)",
        "Tổng cộng",
        None,
    ]
    merges = {str(r) for r in ws.merged_cells.ranges}
    for letter in "ABCDEFGHL":
        assert f"{letter}6:{letter}7" in merges
    assert "I6:K6" in merges
    assert {f"A{r}:L{r}" for r in range(1, 6)} <= merges
    header = ws["A6"]
    assert header.font.b and header.font.name == "Times New Roman"
    assert header.fill.fgColor.rgb.endswith("DDEBF7")
    assert header.border.left.style == "thin" and ws["I7"].border.bottom.style == "thin"
    # freeze below the header, header rows printed on every page, landscape A3 one page wide
    assert ws.freeze_panes == "A8"
    assert ws.print_title_rows == "$6:$7"
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 8
    # fitToWidth is omitted when it is 1, the OOXML default
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.column_dimensions["B"].width > 30 and ws.column_dimensions["F"].width > 30


def test_annex02_groups_items_and_total_equal_the_database_to_the_dong(
    world: World, session: Session
) -> None:
    ws = load_workbook(world.path)["Phụ lục 02"]
    stored = _db_amounts(session, world.cycle.id)  # type: ignore[arg-type]
    leads = _db_lead_units(session, world.cycle.id)  # type: ignore[arg-type]
    by_ref = dict(zip(world.plan.items["ref"], world.plan.items["plan_item_id"], strict=True))
    codes = ["NSDP", "NSTW"]

    expected_groups = [
        ("I", "Sở Thông tin và Truyền thông"),
        ("II", "Sở Y tế"),
        ("III", "Văn phòng UBND tỉnh"),
    ]
    seen_groups: list[tuple[str, str]] = []
    group_sums: dict[str, dict[str, int]] = {}
    db_group_sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seen_refs: list[str] = []
    row = FIRST_DATA_ROW
    current = ""
    while ws.cell(row=row, column=2).value != "TỔNG CỘNG":
        values = _row(ws, row)
        stt = values[0]
        assert isinstance(stt, str)
        if "." not in stt:  # a group heading
            current = stt
            seen_groups.append((stt, values[1]))  # type: ignore[arg-type]
            assert ws.cell(row=row, column=1).font.b and ws.cell(row=row, column=9).font.b
            group_sums[stt] = {"NSDP": values[8], "NSTW": values[9], "total": values[10]}  # type: ignore[dict-item]
            assert all(isinstance(v, int) for v in values[8:11])
        else:
            seen_refs.append(stt)
            assert stt.startswith(current + ".")
            item_id = by_ref[stt]
            amounts = stored[item_id]
            assert values[2] == leads[item_id]
            for offset, code in enumerate(codes):
                cell = values[8 + offset]
                if code not in amounts:
                    assert cell is None, (stt, code)
                elif amounts[code] is None:
                    assert cell == "chưa ghi số", (stt, code)
                else:
                    assert cell == amounts[code] and type(cell) is int, (stt, code)
                    db_group_sums[current][code] += amounts[code]  # type: ignore[operator]
            assert values[10] == sum(v for v in amounts.values() if v is not None)
        row += 1

    assert seen_groups == expected_groups
    assert seen_refs == ["I.1", "I.2", "II.1", "II.2", "III.1"]
    for roman, sums in group_sums.items():
        assert sums["NSDP"] == db_group_sums[roman]["NSDP"]
        assert sums["NSTW"] == db_group_sums[roman]["NSTW"]
        assert sums["total"] == sums["NSDP"] + sums["NSTW"]
    assert group_sums["I"] == {
        "NSDP": 3_384_500_000 + 19_344 * TRIEU,
        "NSTW": 1_234_567,
        "total": 3_384_500_000 + 19_344 * TRIEU + 1_234_567,
    }

    total_row = _row(ws, row)
    nsdp = sum(a.get("NSDP") or 0 for a in stored.values())
    nstw = sum(a.get("NSTW") or 0 for a in stored.values())
    assert total_row[0] is None and total_row[1] == "TỔNG CỘNG"
    assert total_row[8:11] == [nsdp, nstw, nsdp + nstw]
    assert ws.cell(row=row, column=2).font.b
    assert row == FIRST_DATA_ROW + 3 + 5  # three headings, five items

    # the paragraph under the table, in the plan's unit
    paragraph = ws.cell(row=row + 2, column=1).value
    assert paragraph == annex02_summary_paragraph(world.plan)
    assert paragraph == (
        "Tổng kinh phí năm 2027: 27.149,735 triệu đồng; trong đó: + Ngân sách địa phương: 27.148,5 triệu "
        "đồng; + Ngân sách Trung ương: 1,235 triệu đồng."
    )
    assert nsdp + nstw == 27_149_734_568


def test_annex02_item_fields_formats_and_the_unstated_source(world: World) -> None:
    ws = load_workbook(world.path)["Phụ lục 02"]
    rows = {ws.cell(row=r, column=1).value: r for r in range(FIRST_DATA_ROW, ws.max_row + 1)}
    lgsp = _row(ws, rows["I.1"])
    assert lgsp == [
        "I.1",
        "Nâng cấp nền tảng tích hợp, chia sẻ dữ liệu (LGSP)",
        "Sở Thông tin và Truyền thông",
        "Ứng dụng CNTT trong nội bộ cơ quan nhà nước",
        "Dự án mới",
        "Kết nối các cơ sở dữ liệu",
        "Toàn tỉnh",
        "2027",
        3_384_500_000,
        1_234_567,
        3_385_734_567,
        "NQ 199",
    ]
    carry = _row(ws, rows["II.1"])
    assert carry[1] == "Bệnh án điện tử giai đoạn 2" and carry[4] == "Dự án chuyển tiếp"
    assert carry[7] == "2026-2027" and carry[8:11] == [4 * TY + 1, None, 4 * TY + 1]
    unstated = _row(ws, rows["II.2"])
    assert unstated[1] == "Phần mềm thống kê y tế điện tử"
    assert unstated[8:11] == [320 * TRIEU, "chưa ghi số", 320 * TRIEU]
    assert ws.cell(row=rows["II.2"], column=10).alignment.horizontal == "right"
    # every amount cell (items, groups, total) shows millions; the cell keeps the đồng
    for r in range(FIRST_DATA_ROW, FIRST_DATA_ROW + 9):
        for col in (9, 10, 11):
            cell = ws.cell(row=r, column=col)
            if cell.value == "chưa ghi số":
                continue
            assert cell.number_format == "#,##0,,", (r, col)
            assert cell.alignment.horizontal == "right"
            assert cell.font.name == "Times New Roman"
    assert ws.cell(row=rows["I.1"], column=2).alignment.wrap_text


@pytest.mark.parametrize(
    ("money_unit", "number_format", "label"),
    [("ty", "#,##0.000,,,", "tỷ đồng"), ("dong", "#,##0", "đồng")],
)
def test_number_format_follows_the_plan_unit_and_cells_keep_the_dong(
    session: Session, tmp_path: Path, money_unit: str, number_format: str, label: str
) -> None:
    world = _build_world(session, tmp_path, money_unit=money_unit)
    wb = load_workbook(world.path)
    ws = wb["Phụ lục 02"]
    assert ws["A4"].value == f"Đơn vị tính: {label}"
    assert ws["I6"].value == f"Kinh phí năm 2027 ({label})"
    assert label in ws["A5"].value
    amount_cells = [
        ws.cell(row=r, column=c) for r in range(FIRST_DATA_ROW, FIRST_DATA_ROW + 9) for c in (9, 11)
    ]
    assert {c.number_format for c in amount_cells} == {number_format}
    assert (
        ws.cell(row=FIRST_DATA_ROW + 8, column=11).value == world.plan.grand_totals["total"] == 27_149_734_568
    )
    paragraph = ws.cell(row=FIRST_DATA_ROW + 10, column=1).value
    if money_unit == "ty":
        assert paragraph.startswith("Tổng kinh phí năm 2027: 27,15 tỷ đồng; trong đó:")
    else:
        assert paragraph.startswith("Tổng kinh phí năm 2027: 27.149.734.568 đồng; trong đó:")
    summary = wb["Tổng hợp"]
    source_rows = {summary.cell(row=r, column=1).value: r for r in range(1, 30)}
    assert summary.cell(row=source_rows["Ngân sách địa phương"], column=3).number_format == number_format
    report = check_plan_file(world.path)
    assert report.mismatches == [] and report.tables[0].unit == money_unit


def test_annex02_reference_line_names_the_issued_plan(session: Session, tmp_path: Path) -> None:
    world = _build_world(session, tmp_path, decision_number="1181/KH-UBND", decision_date=date(2026, 12, 27))
    ws = load_workbook(world.path)["Phụ lục 02"]
    assert ws["A3"].value == "(Kèm theo Kế hoạch số 1181/KH-UBND ngày 27/12/2026 của UBND tỉnh Gia Lai)"


# ---------------------------------------------------------------- Phụ lục 01, Kiểm tra


def test_annex01_lists_last_years_items_with_their_status(world: World) -> None:
    ws = load_workbook(world.path)["Phụ lục 01"]
    assert ws["A1"].value == "PHỤ LỤC 01"
    assert ws["A2"].value == "TÌNH HÌNH TRIỂN KHAI THỰC HIỆN CÁC NHIỆM VỤ, DỰ ÁN THUỘC KẾ HOẠCH NĂM 2026"
    assert _row(ws, 5, 10) == [
        "STT",
        "Tên nhiệm vụ, dự án",
        "Đơn vị chủ trì",
        "Lĩnh vực ứng dụng",
        "Mục tiêu, nội dung",
        "Phạm vi",
        "Thời gian triển khai",
        "Nguồn vốn",
        "Tình hình thực hiện",
        "Ghi chú",
    ]
    assert _row(ws, 6, 10) == [
        "1",
        "Bệnh án điện tử giai đoạn 1",
        "Sở Y tế",
        "Ứng dụng CNTT trong nội bộ cơ quan nhà nước",
        None,
        None,
        "2026",
        "NSDP: 3.000",
        "Đang triển khai (40%)",
        "Chậm giải ngân; Chuyển tiếp sang kế hoạch năm 2027",
    ]
    assert _row(ws, 7, 10) == [
        "2",
        "Đào tạo kỹ năng số cho cán bộ y tế",
        "Sở Y tế",
        "Ứng dụng CNTT trong nội bộ cơ quan nhà nước",
        "Nâng cao kỹ năng số",
        "Toàn ngành y tế",
        "2026",
        "NSDP: 200; NSTW: 50",
        "Đã hoàn thành (100%)",
        None,
    ]
    forgotten = _row(ws, 8, 10)
    assert forgotten[1] == "Nâng cấp phòng họp trực tuyến" and forgotten[2] == "Văn phòng UBND tỉnh"
    assert forgotten[7] == "NSDP: chưa ghi số; NSTW: 1.000"
    assert forgotten[8] == "Đang triển khai"
    assert ws.cell(row=9, column=2).value is None
    assert ws["A5"].font.b and ws.freeze_panes == "A6"


def test_findings_sheet_lists_every_finding_errors_first(world: World) -> None:
    plan = world.plan
    ws = load_workbook(world.path)["Kiểm tra"]
    assert _row(ws, 4, 6) == ["STT", "Mức độ", "Loại", "Nội dung", "Các mục", "Đơn vị"]
    errors = [f for f in plan.findings if f.severity == "error"]
    warnings = [f for f in plan.findings if f.severity == "warning"]
    assert len(errors) == 1 and errors[0].kind == "over_envelope"
    assert {f.kind for f in warnings} >= {"amount_not_stated", "open_item_not_carried_over"}
    texts = plan_annex_texts()["findings"]
    for index, finding in enumerate(errors + warnings):
        row = _row(ws, 5 + index, 6)
        assert row == [
            index + 1,
            "Lỗi" if finding.severity == "error" else "Cảnh báo",
            texts["kinds"][finding.kind],
            finding.message_vi,
            ", ".join(finding.refs) or None,
            "; ".join(finding.units) or None,
        ]
    assert ws.cell(row=5 + len(plan.findings), column=1).value is None
    first = _row(ws, 5, 6)
    assert first[2] == "Vượt trần kinh phí" and "vượt trần nguồn NSDP" in first[3]
    assert ws["B5"].font.color.rgb.endswith("9C0006")
    unstated = next(r for r in range(5, 5 + len(plan.findings)) if ws.cell(row=r, column=5).value == "II.2")
    assert ws.cell(row=unstated, column=3).value == "Nguồn vốn không ghi số tiền"
    assert ws.cell(row=unstated, column=6).value == "Sở Y tế"
    assert ws["A2"].value == f"Kiểm tra ngày 20/11/2026: 1 lỗi, {len(warnings)} cảnh báo."


# ---------------------------------------------------------------- Tổng hợp


def _summary_rows(ws: Worksheet) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = defaultdict(list)
    for r in range(1, ws.max_row + 1):
        value = ws.cell(row=r, column=1).value
        if isinstance(value, str):
            rows[value].append(r)
    return rows


def test_summary_tables_hold_exact_totals(world: World, session: Session) -> None:
    plan = world.plan
    ws = load_workbook(world.path)["Tổng hợp"]
    rows = _summary_rows(ws)
    stored = _db_amounts(session, world.cycle.id)  # type: ignore[arg-type]
    nsdp = sum(a.get("NSDP") or 0 for a in stored.values())
    nstw = sum(a.get("NSTW") or 0 for a in stored.values())
    assert ws["A1"].value == "TỔNG HỢP KẾ HOẠCH ỨNG DỤNG CNTT, CHUYỂN ĐỔI SỐ NĂM 2027"
    assert ws["A4"].value == plan.rounding_rule_vi

    # 1. by funding source: the first rows titled with the source names, then the total
    heading = rows["1. Kinh phí theo nguồn vốn"][0]
    assert _row(ws, heading + 1, 4) == ["Nguồn vốn", "Mã", "Kinh phí (triệu đồng)", "Tỷ trọng"]
    assert _row(ws, heading + 2, 3) == ["Ngân sách địa phương", "NSDP", nsdp]
    assert _row(ws, heading + 3, 3) == ["Ngân sách Trung ương", "NSTW", nstw]
    assert _row(ws, heading + 4, 3) == ["Tổng cộng", None, nsdp + nstw]
    assert ws.cell(row=heading + 2, column=4).value == pytest.approx(nsdp / (nsdp + nstw))
    assert ws.cell(row=heading + 2, column=3).number_format == "#,##0,,"

    # 2. new vs carry-over
    carry = rows["Dự án chuyển tiếp"][0]
    assert _row(ws, carry, 5) == ["Dự án chuyển tiếp", 1, 4 * TY + 1, 0, 4 * TY + 1]
    new = rows["Dự án mới"][0]
    assert _row(ws, new, 5) == ["Dự án mới", 4, nsdp - (4 * TY + 1), nstw, nsdp + nstw - (4 * TY + 1)]

    # 3. by field and 4. by unit, each ending with the exact grand total
    assert _row(ws, rows["Bảo đảm an toàn thông tin"][0], 5) == [
        "Bảo đảm an toàn thông tin",
        1,
        19_344 * TRIEU,
        0,
        19_344 * TRIEU,
    ]
    assert len(rows["Tổng cộng"]) == 4 + 1  # sources, origin, field, unit; last year's comparison
    for total_row in rows["Tổng cộng"][1:4]:
        assert _row(ws, total_row, 5) == ["Tổng cộng", 5, nsdp, nstw, nsdp + nstw]
    unit_table = rows["Đơn vị chủ trì"][0]
    assert [ws.cell(row=unit_table + i, column=1).value for i in range(1, 4)] == [
        "Sở Thông tin và Truyền thông",
        "Sở Y tế",
        "Văn phòng UBND tỉnh",
    ]  # by amount, largest first
    assert ws.cell(row=unit_table + 2, column=5).value == 4 * TY + 1 + 320 * TRIEU

    # 5. last year: 3.250 + 1.000 triệu planned in 2026
    compare = rows["5. So sánh với kế hoạch năm 2026"][0]
    assert _row(ws, compare + 2, 4) == ["Nguồn vốn", "Năm 2026", "Năm 2027", "Tăng (+) / giảm (−)"]
    assert _row(ws, compare + 3, 4) == ["Ngân sách địa phương", 3_200 * TRIEU, nsdp, nsdp - 3_200 * TRIEU]
    assert _row(ws, compare + 4, 4) == ["Ngân sách Trung ương", 1_050 * TRIEU, nstw, nstw - 1_050 * TRIEU]
    assert ws.cell(row=compare + 4, column=4).value < 0
    assert "[Red]" in ws.cell(row=compare + 4, column=4).number_format
    group_row = rows["III. Văn phòng UBND tỉnh"][0]
    assert _row(ws, group_row, 4) == ["III. Văn phòng UBND tỉnh", 1 * TY, 100 * TRIEU, 100 * TRIEU - 1 * TY]

    # 6. the envelope exceeded: negative gap, highlighted red
    envelope = rows["Toàn kế hoạch"][0]
    assert _row(ws, envelope, 5) == ["Toàn kế hoạch", "NSDP", 20 * TY, nsdp, 20 * TY - nsdp]
    gap = ws.cell(row=envelope, column=5)
    assert gap.value < 0 and gap.fill.fgColor.rgb.endswith("FFC7CE") and gap.font.color.rgb.endswith("9C0006")

    # 7. counts of findings by kind
    over = rows["Vượt trần kinh phí"][0]
    assert _row(ws, over, 3) == ["Vượt trần kinh phí", "Lỗi", 1]
    assert _row(ws, rows["Nguồn vốn không ghi số tiền"][0], 3) == [
        "Nguồn vốn không ghi số tiền",
        "Cảnh báo",
        1,
    ]


def test_summary_has_three_native_charts(world: World) -> None:
    with zipfile.ZipFile(world.path) as archive:
        names = set(archive.namelist())
        charts = sorted(n for n in names if n.startswith("xl/charts/chart"))
        assert charts == ["xl/charts/chart1.xml", "xl/charts/chart2.xml", "xl/charts/chart3.xml"]
        kinds = [archive.read(name).decode("utf-8") for name in charts]
        rels = archive.read("xl/worksheets/_rels/sheet1.xml.rels").decode("utf-8")
    assert "<c:doughnutChart>" in kinds[0]
    assert "<c:barChart>" in kinds[1] and "<c:barChart>" in kinds[2]
    assert "Tổng hợp" in kinds[0] and "$C$" in kinds[0]  # fed by the source table's amount cells
    assert "drawing" in rels  # the charts sit on the summary sheet
    assert len(load_workbook(world.path)["Tổng hợp"]._charts) == 3


def test_summary_groups_small_units_into_one_row(session: Session, tmp_path: Path) -> None:
    cycle = new_cycle(session, 2027)
    for index in range(18):
        unit = make_unit(
            session, code=f"X{index:02d}", name=f"UBND xã Thử nghiệm {index:02d}", kind="commune"
        )
        add_submission(
            session, cycle, unit, [Item(f"Trang bị máy tính đợt {index + 10}", {"NSDP": (index + 1) * TRIEU})]
        )
    materialize_plan(session=session, cycle=cycle, actor="tester")
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    path = write_plan_workbook(plan, tmp_path / "xa.xlsx", province_name=PROVINCE)
    ws = load_workbook(path)["Tổng hợp"]
    rows = _summary_rows(ws)
    heading = next(r for text, rs in rows.items() if text.startswith("4. ") for r in rs)
    first = heading + 2
    assert ws.cell(row=first, column=1).value == "UBND xã Thử nghiệm 17"  # the largest first
    assert ws.cell(row=first + 15, column=1).value == "Các đơn vị khác (3 đơn vị)"
    assert ws.cell(row=first + 15, column=2).value == 3
    assert ws.cell(row=first + 15, column=5).value == (1 + 2 + 3) * TRIEU
    assert ws.cell(row=first + 16, column=5).value == sum(range(1, 19)) * TRIEU
    full = next(r for text, rs in rows.items() if text.startswith("Danh sách đầy đủ 18") for r in rs)
    assert ws.cell(row=full + 2, column=1).value == "UBND xã Thử nghiệm 17 (X17)"
    assert ws.cell(row=full + 19, column=1).value == "UBND xã Thử nghiệm 00 (X00)"
    # no previous plan, no envelope, no findings: each said in one line
    assert "5. So sánh với năm trước: không có kế hoạch năm 2026 trong hệ thống." in rows
    assert "6. Trần kinh phí: chưa nhập trần kinh phí cho năm 2027." in rows
    wb = load_workbook(path)
    annex01 = wb["Phụ lục 01"]  # headed like every annex, the sentence across the table (not clipped)
    assert annex01["A1"].value == "PHỤ LỤC 01" and "NĂM 2026" in annex01["A2"].value
    assert annex01["A5"].value == "Không có kế hoạch năm 2026 trong hệ thống: phụ lục này không có nội dung."
    assert any(str(r).startswith("A5:") for r in annex01.merged_cells.ranges)
    assert annex01.max_row == 5
    assert wb["Kiểm tra"]["A4"].value == "Tất cả các bước kiểm tra đều đạt: không có lỗi, không có cảnh báo."
    assert wb["Kiểm tra"].max_row == 4


# ---------------------------------------------------------------- the checker reads it back


def test_plan_checker_finds_no_mismatch_then_exactly_the_altered_subtotal(
    world: World, tmp_path: Path
) -> None:
    report = check_plan_file(world.path)
    assert report.mismatches == []
    (table,) = report.tables
    assert table.sheet == "Phụ lục 02" and table.header_line == ANNEX02_HEADER_ROW
    assert (table.items, table.groups, table.total_rows, table.unit) == (5, 3, 1, "trieu")
    assert [c.label for c in table.amount_columns] == [
        "Ngân sách địa phương (NSDP)",
        "Ngân sách Trung ương (NSTW)",
        "Tổng cộng",
    ]
    assert [f.raw for f in report.warnings] == ["chưa ghi số"]

    wb = load_workbook(world.path)
    ws = wb["Phụ lục 02"]
    heading = next(r for r in range(FIRST_DATA_ROW, ws.max_row + 1) if ws.cell(row=r, column=1).value == "II")
    ws.cell(row=heading, column=9).value += 1_000_000  # one triệu too much on group II's NSĐP subtotal
    altered = tmp_path / "altered.xlsx"
    wb.save(altered)

    (mismatch,) = check_plan_file(altered).mismatches
    assert mismatch.kind == "group_total" and mismatch.cell == f"I{heading}"
    assert mismatch.difference == 1_000_000


def test_checker_reads_back_a_plan_of_more_than_a_hundred_groups(session: Session, tmp_path: Path) -> None:
    """Groups C (100) and beyond are Roman numerals, not the letter C: the export of a big province
    re-adds cleanly, and a slip in group CV's subtotal is named at its cell."""
    from openpyxl import load_workbook as open_workbook

    from tests.consolidation.plan_world import Item, add_submission, make_unit, new_cycle

    cycle = new_cycle(session, 2027)
    for n in range(120):
        unit = make_unit(session, code=f"XA{n:03d}", name=f"UBND xã số {n:03d}", kind="commune")
        add_submission(session, cycle, unit, [Item(f"Trang bị máy tính {n}", {"NSDP": (n + 1) * 1_000_000})])
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))
    assert list(plan.groups["group_roman"])[99:101] == ["C", "CI"]
    path = write_plan_workbook(plan, tmp_path / "big.xlsx", province_name="Gia Lai")
    report = check_plan_file(path)
    assert report.mismatches == [] and report.warnings == []

    wb = open_workbook(path)
    ws = wb["Phụ lục 02"]
    row = next(r for r in ws.iter_rows(min_col=1, max_col=1) if r[0].value == "CV")[0].row
    ws.cell(row=row, column=9).value += 1_000_000
    wb.save(tmp_path / "slip.xlsx")
    (mismatch,) = check_plan_file(tmp_path / "slip.xlsx").mismatches
    assert mismatch.location().endswith(f"I{row}")
