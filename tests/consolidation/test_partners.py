"""Partner units (đơn vị phối hợp) reach the plan (issue 19, finding 6): Annex 02 shows them in the item's
notes cell and the draft names them in its organisation section."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from docx import Document
from openpyxl import load_workbook
from sqlmodel import Session

from tasks.consolidation.annexes import write_plan_workbook
from tasks.consolidation.document import write_plan_document
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_submission, make_unit, new_cycle

TRIEU = 1_000_000


def test_partner_units_appear_in_annex_02_and_the_draft(session: Session, tmp_path: Path) -> None:
    syt = make_unit(session, code="SYT", name="Sở Y tế")
    cycle = new_cycle(session, 2027)
    add_submission(
        session,
        cycle,
        syt,
        [
            Item(
                "Bệnh án điện tử",
                {"NSDP": 500 * TRIEU},
                extra={"coordinating_units": "Sở Tài chính; Trung tâm Công nghệ thông tin", "basis": "KH 12"},
            ),
            Item(
                "Hồ sơ sức khỏe điện tử", {"NSDP": 70 * TRIEU}, extra={"coordinating_units": "Sở Tài chính"}
            ),
        ],
    )
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))

    workbook = write_plan_workbook(plan, tmp_path / "KH2027.xlsx", province_name="Gia Lai")
    ws = load_workbook(workbook)["Phụ lục 02"]
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value]
    assert any(
        "KH 12" in c and "Đơn vị phối hợp: Sở Tài chính; Trung tâm Công nghệ thông tin" in c for c in cells
    )
    assert "Đơn vị phối hợp: Sở Tài chính" in cells

    document = write_plan_document(plan, tmp_path / "KH2027.docx", province_name="Gia Lai")
    text = "\n".join(p.text for p in Document(str(document)).paragraphs)
    assert "Các đơn vị phối hợp (Sở Tài chính, Trung tâm Công nghệ thông tin)" in text
