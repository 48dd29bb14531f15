"""The issued plan (after the last approval stage) is final: its number, date and signer printed, no
"DỰ THẢO" mark, no gap mark and no yellow highlight; the draft of the same plan keeps its marks."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from sqlmodel import Session

from tasks.consolidation.document import write_plan_document
from tasks.consolidation.pdf import docx_to_pdf, soffice
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_submission, make_unit, new_cycle
from tests.consolidation.test_plan_document import PLACEHOLDER, _all_paragraphs

TRIEU = 1_000_000


def _plan(session: Session):  # type: ignore[no-untyped-def]
    health = make_unit(session, code="SYT", name="Sở Y tế", kind="department")
    cycle = new_cycle(session, 2027)  # no previous plan: the draft has gap marks
    add_submission(session, cycle, health, [Item("Bệnh án điện tử", {"NSDP": 2_500 * TRIEU})])
    materialize_plan(session=session, cycle=cycle, actor="test")
    return build_plan(session=session, cycle=cycle, as_of=date(2026, 12, 1))


def _marks(path: Path) -> tuple[str, list[str], int]:
    doc = Document(str(path))
    paragraphs = _all_paragraphs(doc)
    text = "\n".join(p.text for p in paragraphs)
    yellow = sum(1 for p in paragraphs for r in p.runs if r.font.highlight_color == WD_COLOR_INDEX.YELLOW)
    return text, [m for p in paragraphs for m in PLACEHOLDER.findall(p.text)], yellow


def test_issued_plan_has_number_date_signer_and_no_draft_mark(session: Session, tmp_path: Path) -> None:
    plan = _plan(session)
    draft_text, draft_gaps, draft_yellow = _marks(
        write_plan_document(plan, tmp_path / "draft.docx", province_name="Gia Lai")
    )
    assert "DỰ THẢO" in draft_text and "Số: …/KH-UBND" in draft_text and draft_gaps and draft_yellow

    issued = dataclasses.replace(
        plan, decision_number="245/KH-UBND", decision_date=date(2027, 1, 5), decision_signer="Phạm Văn Thành"
    )
    text, gaps, yellow = _marks(
        write_plan_document(issued, tmp_path / "issued.docx", province_name="Gia Lai", issued=True)
    )
    assert "DỰ THẢO" not in text and "…" not in text
    assert "Số: 245/KH-UBND" in text and "Gia Lai, ngày 05 tháng 01 năm 2027" in text
    assert "Phạm Văn Thành" in text and "PHÓ CHỦ TỊCH" in text
    assert gaps == [] and yellow == 0
    assert Document(str(tmp_path / "issued.docx")).core_properties.title.startswith("DỰ THẢO") is False


@pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed")
def test_the_issued_plan_as_pdf_through_libreoffice(session: Session, tmp_path: Path) -> None:
    plan = dataclasses.replace(
        _plan(session), decision_number="245/KH-UBND", decision_date=date(2027, 1, 5), decision_signer="A"
    )
    document = write_plan_document(plan, tmp_path / "KH2027.docx", province_name="Gia Lai", issued=True)
    pdf = docx_to_pdf(document)
    assert pdf == tmp_path / "KH2027.pdf" and pdf.read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob(".*partial"))
