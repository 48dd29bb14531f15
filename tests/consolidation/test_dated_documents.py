"""The draft follows the plan's year (issue 19, finding 8): recipients, agency names and legal bases from
dated data in templates/documents/, chosen by the plan's date, overridable per cycle."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from docx import Document
from sqlmodel import Session

from tasks.consolidation.document import write_plan_document
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_submission, make_unit, new_cycle


def _draft(
    session: Session, tmp_path: Path, year: int, **cycle_fields: object
) -> tuple[list[str], list[str]]:
    """The draft of a one-item plan of ``year``: its body paragraphs and its recipient lines."""
    unit = make_unit(session, code=f"SYT{year}", name="Sở Y tế")
    cycle = new_cycle(session, year, **cycle_fields)
    add_submission(
        session, cycle, unit, [Item("Bệnh án điện tử", {"NSDP": 1_000_000}, start_year=year, end_year=year)]
    )
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(year - 1, 11, 20))
    doc = Document(str(write_plan_document(plan, tmp_path / f"KH{year}.docx", province_name="Gia Lai")))
    recipients = doc.tables[-1].rows[0].cells[0].text.split("\n")[1:]
    return [p.text for p in doc.paragraphs], recipients


def test_a_2021_plan_names_the_agencies_of_2020(session: Session, tmp_path: Path) -> None:
    body, recipients = _draft(session, tmp_path, 2021)
    assert recipients[0] == "- Bộ Thông tin và Truyền thông (báo cáo);"
    assert "- UBND các huyện, thị xã, thành phố;" in recipients
    assert not any("Khoa học và Công nghệ" in r or "các xã, phường" in r for r in recipients)
    # legal bases in force at the end of 2020 only
    assert any("Quyết định số 749/QĐ-TTg" in p for p in body)
    assert not any("Nghị quyết số 57-NQ/TW" in p for p in body)  # 22/12/2024
    assert not any("Quyết định số 942/QĐ-TTg" in p for p in body)  # 15/6/2021
    assert any("Luật Giao dịch điện tử ngày 29/11/2005" in p for p in body)
    assert not any("Luật Giao dịch điện tử ngày 22/6/2023" in p for p in body)


def test_a_2026_plan_names_the_agencies_after_the_reorganisation(session: Session, tmp_path: Path) -> None:
    body, recipients = _draft(session, tmp_path, 2026)
    assert recipients[0] == "- Bộ Khoa học và Công nghệ (báo cáo);"
    assert "- UBND các xã, phường;" in recipients
    assert any("Nghị quyết số 57-NQ/TW" in p for p in body)
    assert any("Luật Giao dịch điện tử ngày 22/6/2023" in p for p in body)
    assert not any("Luật Giao dịch điện tử ngày 29/11/2005" in p for p in body)


def test_a_cycle_overrides_the_date_and_the_names(session: Session, tmp_path: Path) -> None:
    settings = {
        "documents": {
            "on": "2025-04-01",  # ministries merged, communes not yet
            "agencies": {"departments": "Các sở, ban, ngành, đoàn thể tỉnh"},
        }
    }
    _body, recipients = _draft(session, tmp_path, 2025, settings=settings)
    assert recipients[0] == "- Bộ Khoa học và Công nghệ (báo cáo);"
    assert "- UBND các huyện, thị xã, thành phố;" in recipients
    assert "- Các sở, ban, ngành, đoàn thể tỉnh;" in recipients

    own = {"documents": {"recipients": ["Bộ Thông tin và Truyền thông (báo cáo)", "Lưu: VT, KGVX"]}}
    _body, recipients = _draft(session, tmp_path, 2024, settings=own)
    assert recipients == ["- Bộ Thông tin và Truyền thông (báo cáo);", "- Lưu: VT, KGVX."]
