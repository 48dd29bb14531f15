"""The 2026 frame, as the coordinator meets it: the province's budget total entered on the command line,
a plan consolidated for 2027 whose workbook and draft give the totals per KH&CN / ĐMST / CĐS class and
per source with the share findings and their legal basis (never blocking); the draft's "Căn cứ" chosen by
its issue date; a draft dated after 01/07/2026 that cites the 2006 Law on IT gets a warning."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from docx import Document
from openpyxl import load_workbook
from sqlmodel import Session

from plancycle.settings import PROJECT_ROOT
from tasks.consolidation.annexes import write_plan_workbook
from tasks.consolidation.document import write_plan_document
from tasks.consolidation.legal_frame import draft_bases, frame_for, legal_bases_on, stale_citations
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_submission, make_unit, new_cycle

TRIEU = 1_000_000
TY = 1_000_000_000
AS_OF = date(2026, 11, 20)


def _cli(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANCYCLE_")}
    env.update({"PLANCYCLE_DATABASE_URL": db_url, "PLANCYCLE_DATA_DIR": str(tmp_path / "data")})
    return subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "plans", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cls(code: str, subfield: str | None = None) -> dict[str, str | None]:
    return {"class_code": code, "subfield_code": subfield}


def _plan_2027(session: Session) -> object:
    syt = make_unit(session, code="SYT", name="Sở Y tế")
    skhcn = make_unit(session, code="SKHCN", name="Sở Khoa học và Công nghệ")
    cycle = new_cycle(session, 2027, coordinating_unit_id=skhcn.id)
    add_submission(
        session,
        cycle,
        syt,
        [
            Item("Bệnh án điện tử", {"NSDP": 2 * TY, "NSTW": 1 * TY}, extra=_cls("CDS", "CDS-CQ")),
            Item("Kho dữ liệu y tế", {"NSDP": 500 * TRIEU}, extra=_cls("CDS", "CDS-DL")),
            Item("Mua máy chủ", {"NSDP": 300 * TRIEU}),
        ],
    )  # fmt: skip
    add_submission(
        session,
        cycle,
        skhcn,
        [
            Item("Đề tài ứng dụng AI", {"NSDP": 4_000 * TRIEU}, extra=_cls("KHCN", "KHCN-NC")),
            Item("Vườn ươm khởi nghiệp", {"NSDP": 1_500 * TRIEU}, extra=_cls("DMST")),
        ],
    )  # fmt: skip
    materialize_plan(session=session, cycle=cycle, actor="test")
    session.commit()
    return cycle


def test_a_plan_for_2027_shows_totals_per_class_and_the_share_findings(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    cycle = _plan_2027(session)

    # Before the budget total is entered: totals per class, no share finding (nothing to compare with).
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)  # type: ignore[arg-type]
    by_class = {
        r["class_code"]: (r["items"], r["NSDP"], r["NSTW"], r["total"])
        for r in plan.by_class.to_dict("records")
    }
    assert by_class == {
        "KHCN": (1, 4_000 * TRIEU, 0, 4_000 * TRIEU),
        "DMST": (1, 1_500 * TRIEU, 0, 1_500 * TRIEU),
        "CDS": (2, 2_500 * TRIEU, 1_000 * TRIEU, 3_500 * TRIEU),
        "": (1, 300 * TRIEU, 0, 300 * TRIEU),
    }  # fmt: skip
    assert not [f for f in plan.findings if f.kind.startswith("share_")]

    # The province enters its budget total for 2027 on the command line: 300 tỷ.
    entered = _cli(db_url, tmp_path, "budget", "300", "--year", "2027")
    assert entered.returncode == 0, entered.stderr
    assert "Đã ghi tổng chi ngân sách năm 2027" in entered.stdout
    again = _cli(db_url, tmp_path, "budget", "300", "--year", "2027")
    assert "không thay đổi" in again.stdout
    bad = _cli(db_url, tmp_path, "budget", "ba trăm", "--year", "2027")
    assert bad.returncode == 1 and "Tổng chi ngân sách «ba trăm» không hợp lệ" in bad.stderr

    session.expire_all()
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)  # type: ignore[arg-type]
    assert plan.budget_total == 300 * TY
    shares = {f.kind: f for f in plan.findings if f.kind.startswith("share_")}
    # KH&CN + ĐMST + CĐS = 9.000 triệu = 3 % of 300 tỷ: the Decree 265 minimum is met;
    # CĐS alone = 3.500 triệu ≈ 1,17 %: the Law on Digital Transformation's 1 % is met too.
    assert set(shares) == {"share_met"}
    messages = [f.message_vi for f in plan.findings if f.kind == "share_met"]
    assert len(messages) == 2
    assert "bằng 3,00% tổng chi ngân sách" in messages[0] and "Nghị định 265/2025/NĐ-CP" in messages[0]
    assert "bằng 1,17% tổng chi ngân sách" in messages[1] and "Luật Chuyển đổi số" in messages[1]
    assert all(f.severity == "warning" for f in plan.findings if f.kind.startswith("share_"))

    # With a larger budget the shares fall below: findings, never errors.
    assert _cli(db_url, tmp_path, "budget", "400", "--year", "2027").returncode == 0
    session.expire_all()
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)  # type: ignore[arg-type]
    below = [f for f in plan.findings if f.kind == "share_below"]
    assert len(below) == 2
    assert "chỉ bằng 2,25%" in below[0].message_vi and "dưới mức tối thiểu 3%" in below[0].message_vi
    assert "chỉ bằng 0,88%" in below[1].message_vi and "dưới mức tối thiểu 1%" in below[1].message_vi
    assert not plan.errors

    # The workbook's class sheet and the draft say the same.
    path = write_plan_workbook(plan, tmp_path / "KH2027.xlsx", province_name="Gia Lai")
    ws = load_workbook(path)["Theo KH&CN, ĐMST, CĐS"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=6, max_row=9, max_col=6)]
    assert [r[0] for r in rows] == [
        "Khoa học và công nghệ",
        "Đổi mới sáng tạo",
        "Chuyển đổi số",
        "Chưa phân loại KH&CN / ĐMST / CĐS",
    ]
    assert [r[4] for r in rows] == [
        4_000 * TRIEU,
        1_500 * TRIEU,
        3_500 * TRIEU,
        300 * TRIEU,
    ]  # đồng, displayed in triệu
    assert rows[2][5] == 3_500 * TRIEU / (400 * TY)
    draft = write_plan_document(plan, tmp_path / "KH2027.docx", province_name="Gia Lai")
    texts = [p.text for p in Document(str(draft)).paragraphs]
    assert any(t.startswith("Chuyển đổi số: 2 nhiệm vụ, dự án;") for t in texts)
    assert below[0].message_vi in texts


def test_the_draft_cites_the_texts_in_force_on_its_issue_date(session: Session, tmp_path: Path) -> None:
    configured = ["Luật Công nghệ thông tin ngày 29/6/2006", "Luật Giao dịch điện tử ngày 22/6/2023"]
    before = draft_bases(configured, date(2025, 12, 20))
    after = draft_bases(configured, date(2026, 12, 20))
    assert "Luật Công nghệ thông tin ngày 29 tháng 6 năm 2006" in before
    assert not any("Luật Chuyển đổi số" in line for line in before)
    assert not any("Công nghệ thông tin ngày 29" in line for line in after)
    assert "Luật Chuyển đổi số ngày 11 tháng 12 năm 2025" in after
    assert "Luật Giao dịch điện tử ngày 22/6/2023" in after  # the province's own lines are kept
    assert not any("64/2007" in line for line in after)
    assert {t.key for t in legal_bases_on(date(2026, 12, 20))} >= {
        "law_digital_transformation",
        "decree_265_2025",
    }
    assert frame_for(2025) is not None and frame_for(2024) is None  # Decree 265 dated 14/10/2025

    cycle = _plan_2027(session)
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)  # type: ignore[arg-type]
    doc = Document(str(write_plan_document(plan, tmp_path / "KH2027.docx", province_name="Gia Lai")))
    texts = [p.text for p in doc.paragraphs]
    assert "- Luật Chuyển đổi số ngày 11 tháng 12 năm 2025;" in texts
    assert not any("Luật Công nghệ thông tin" in t or "64/2007" in t for t in texts)


def test_a_draft_dated_after_july_2026_citing_the_2006_law_on_it_gets_a_warning(
    db_url: str, tmp_path: Path
) -> None:
    draft = tmp_path / "du-thao.docx"
    document = Document()
    document.add_paragraph("I. CĂN CỨ LẬP KẾ HOẠCH")
    document.add_paragraph("- Luật Công nghệ thông tin ngày 29/6/2006;")
    document.add_paragraph("- Nghị định số 64/2007/NĐ-CP ngày 10/4/2007 của Chính phủ về ứng dụng CNTT;")
    document.add_paragraph("- Luật An toàn thông tin mạng ngày 19/11/2015.")
    document.save(str(draft))

    late = _cli(db_url, tmp_path, "check-bases", str(draft), "--date", "2026-12-20")
    assert late.returncode == 1
    lines = late.stdout.splitlines()
    assert len(lines) == 3 and lines[-1] == "Căn cứ pháp lý: 2 văn bản không còn hiệu lực vào ngày ban hành."
    assert (
        "«- Luật Công nghệ thông tin ngày 29/6/2006;», văn bản không còn hiệu lực vào ngày ban hành "
        "20/12/2026" in lines[0]
    )
    assert "đề nghị thay bằng: Luật Chuyển đổi số ngày 11 tháng 12 năm 2025" in lines[0]
    assert "64/2007" in lines[1] and "Luật Chuyển đổi số" in lines[1]

    early = _cli(db_url, tmp_path, "check-bases", str(draft), "--date", "2026-06-30")
    assert early.returncode == 0 and "không có văn bản hết hiệu lực" in early.stdout

    # A line citing the new law next to the old one is not flagged.
    assert stale_citations("Luật Chuyển đổi số (thay thế Luật Công nghệ thông tin)", date(2026, 12, 20)) == []
    not_docx = tmp_path / "du-thao.docx.pdf"
    not_docx.write_bytes(b"%PDF-1.4")
    broken = _cli(db_url, tmp_path, "check-bases", str(not_docx), "--date", "2026-12-20")
    assert broken.returncode == 2 and "Không đọc được dự thảo du-thao.docx.pdf" in broken.stderr
