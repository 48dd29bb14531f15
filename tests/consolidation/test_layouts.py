"""The province's own appendix layout per cycle (issue 19, finding 7): one items annex per funding
source with its own groups, numbering, totals and money unit; check-plan reads every layout back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session

from tasks.consolidation.annexes import write_plan_workbook
from tasks.consolidation.plan import build_plan, materialize_plan
from tasks.consolidation.totals_check import check_plan_file
from tests.consolidation.plan_world import Item, add_submission, make_unit, new_cycle

TRIEU, TY = 1_000_000, 1_000_000_000
LAYOUT = {
    "layout": {
        "annex02": {
            "group_order": ["SYT", "STTTT"],
            "group_titles": {"STTTT": "Sở Thông tin và Truyền thông (cơ quan chủ trì)"},
            "annexes": [
                {
                    "sheet": "Phụ lục 02",
                    "label": "PHỤ LỤC 02",
                    "title": "DANH MỤC NHIỆM VỤ SỬ DỤNG NGÂN SÁCH ĐỊA PHƯƠNG NĂM {{ year }}",
                    "sources": ["NSDP"],
                },
                {
                    "sheet": "Phụ lục 03",
                    "label": "PHỤ LỤC 03",
                    "title": "DANH MỤC DỰ ÁN SỬ DỤNG NGÂN SÁCH TRUNG ƯƠNG NĂM {{ year }}",
                    "sources": ["NSTW"],
                    "money_unit": "ty",
                },
            ],
        }
    }
}


def _rows(ws) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_one_items_annex_per_funding_source(session: Session, tmp_path: Path) -> None:
    dic = make_unit(session, code="STTTT", name="Sở Thông tin và Truyền thông")
    health = make_unit(session, code="SYT", name="Sở Y tế")
    cycle = new_cycle(session, 2027, settings=LAYOUT, coordinating_unit_id=dic.id)
    add_submission(
        session,
        cycle,
        dic,
        [
            Item("Trục liên thông văn bản", {"NSDP": 500 * TRIEU}),
            Item("Hệ thống GIS dùng chung", {"NSTW": 10 * TY}),
        ],
    )
    add_submission(session, cycle, health, [Item("Bệnh án điện tử", {"NSDP": 200 * TRIEU, "NSTW": 1 * TY})])
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))
    workbook = write_plan_workbook(plan, tmp_path / "KH2027.xlsx", province_name="Gia Lai")
    wb = load_workbook(workbook)
    assert {"Phụ lục 02", "Phụ lục 03"} <= set(wb.sheetnames)

    local = _rows(wb["Phụ lục 02"])
    assert local[0][0] == "PHỤ LỤC 02" and "NGÂN SÁCH ĐỊA PHƯƠNG NĂM 2027" in str(local[1][0])
    groups = [(r[0], r[1]) for r in local if r[0] in ("I", "II")]
    assert groups == [("I", "Sở Y tế"), ("II", "Sở Thông tin và Truyền thông (cơ quan chủ trì)")]
    items = [(r[0], r[1]) for r in local if r[0] in ("I.1", "I.2", "II.1", "II.2")]
    assert items == [("I.1", "Bệnh án điện tử"), ("II.1", "Trục liên thông văn bản")]
    total = next(r for r in local if r[1] == "TỔNG CỘNG")
    assert 700 * TRIEU in total  # exact đồng; only the local budget's column

    central = _rows(wb["Phụ lục 03"])
    assert central[0][0] == "PHỤ LỤC 03" and "tỷ đồng" in " ".join(str(v) for v in central[3] if v)
    items = [(r[0], r[1]) for r in central if r[0] in ("I.1", "I.2", "II.1", "II.2")]
    assert items == [("I.1", "Bệnh án điện tử"), ("II.1", "Hệ thống GIS dùng chung")]
    total = next(r for r in central if r[1] == "TỔNG CỘNG")
    assert 11 * TY in total

    report = check_plan_file(workbook)
    assert report.ok, [f.message_vi for f in report.mismatches]
    assert {t.sheet for t in report.tables} >= {"Phụ lục 02", "Phụ lục 03"}


def test_without_a_layout_there_is_one_items_annex(session: Session, tmp_path: Path) -> None:
    unit = make_unit(session, code="SYT", name="Sở Y tế")
    cycle = new_cycle(session, 2027)
    add_submission(session, cycle, unit, [Item("Bệnh án điện tử", {"NSDP": 200 * TRIEU, "NSTW": 1 * TY})])
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))
    wb = load_workbook(write_plan_workbook(plan, tmp_path / "KH2027.xlsx", province_name="Gia Lai"))
    assert "Phụ lục 03" not in wb.sheetnames and "Phụ lục 02" in wb.sheetnames


def test_the_columns_shown_and_their_order(session: Session, tmp_path: Path) -> None:
    unit = make_unit(session, code="SYT", name="Sở Y tế")
    layout = {"layout": {"annex02": {"columns": ["period", "lead_unit", "partners"]}}}
    cycle = new_cycle(session, 2027, settings=layout)
    add_submission(
        session,
        cycle,
        unit,
        [
            Item(
                "Bệnh án điện tử",
                {"NSDP": 200 * TRIEU, "NSTW": 1 * TY},
                extra={"coordinating_units": "Sở Tài chính", "basis": "KH 12"},
            )
        ],
    )
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))
    workbook = write_plan_workbook(plan, tmp_path / "KH2027.xlsx", province_name="Gia Lai")
    rows = _rows(load_workbook(workbook)["Phụ lục 02"])
    header = next(r for r in rows if r[0] == "STT")
    assert header[:5] == [
        "STT",
        "Tên nhiệm vụ, dự án",
        "Thời gian triển khai",
        "Đơn vị chủ trì",
        "Đơn vị phối hợp",
    ]
    item = next(r for r in rows if r[0] == "I.1")
    assert item[:5] == ["I.1", "Bệnh án điện tử", "2027", "Sở Y tế", "Sở Tài chính"]
    assert item[5:8] == [200 * TRIEU, 1 * TY, 200 * TRIEU + 1 * TY] and item[8] == "KH 12"  # no partner twice
    report = check_plan_file(workbook)
    assert report.ok, [f.message_vi for f in report.mismatches]


def test_a_flat_list_without_groups(session: Session, tmp_path: Path) -> None:
    from docx import Document

    from tasks.consolidation.document import write_plan_document

    dic = make_unit(session, code="STTTT", name="Sở Thông tin và Truyền thông")
    health = make_unit(session, code="SYT", name="Sở Y tế")
    cycle = new_cycle(
        session, 2027, coordinating_unit_id=dic.id, settings={"layout": {"annex02": {"grouping": "none"}}}
    )
    add_submission(session, cycle, dic, [Item("Trục liên thông", {"NSDP": 500 * TRIEU})])
    add_submission(session, cycle, health, [Item("Bệnh án điện tử", {"NSDP": 200 * TRIEU, "NSTW": 1 * TY})])
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))
    assert plan.grouping == "none" and list(plan.items["ref"]) == ["1", "2"]
    workbook = write_plan_workbook(plan, tmp_path / "KH2027.xlsx", province_name="Gia Lai")
    rows = _rows(load_workbook(workbook)["Phụ lục 02"])
    first = next(i for i, r in enumerate(rows) if r[0] == "STT") + 2
    assert [(r[0], r[1]) for r in rows[first : first + 3]] == [
        ("1", "Trục liên thông"),
        ("2", "Bệnh án điện tử"),
        (None, "TỔNG CỘNG"),
    ]
    report = check_plan_file(workbook)
    assert report.ok and report.checks, [f.message_vi for f in report.mismatches]
    doc = Document(str(write_plan_document(plan, tmp_path / "KH2027.docx", province_name="Gia Lai")))
    table_text = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "Sở Y tế" in table_text and "Sở Thông tin và Truyền thông" in table_text
