"""The consolidate-plan flow on a real Prefect API, from workbooks units really filled: the plan's items
and exact totals, the appendix workbook read back and re-added, the draft document, the artifacts; a second
run gives the same plan, and choosing which statuses to include changes it."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from docx import Document
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterKey,
)
from sqlmodel import Session, func, select

from flows.collect_submissions import collect_submissions
from flows.consolidate_plan import consolidate_plan
from flows.open_cycle import open_cycle
from flows.review import review_submission
from models import PlanItem
from models.cycle import get_cycle_by_year
from models.registry import get_unit_by_code
from plancycle.settings import get_settings
from portal.app import create_app
from tasks.consolidation.totals_check import check_plan_file
from tasks.registry.directory import import_registry
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, load_workbook_context
from tests.console.markdown import links, tables
from tests.submissions.conftest import fill_items, open_book, save_book

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"
pytestmark = pytest.mark.prefect
YEAR = 2031
TRIEU = 1_000_000

# what each unit types, in triệu (the cycle's unit), Vietnamese format
PROPOSALS = {
    "SYT": [
        (
            "Bệnh án điện tử tại bệnh viện đa khoa tỉnh",
            "Ứng dụng CNTT phục vụ người dân và doanh nghiệp",
            "2.500",
            "1.000,5",
        ),
        ("Phần mềm thống kê y tế điện tử", "Ứng dụng CNTT trong nội bộ cơ quan nhà nước", "320", None),
    ],
    "STC": [
        ("Hệ thống thông tin tài chính công", "Ứng dụng CNTT trong nội bộ cơ quan nhà nước", "4.268,25", None)
    ],
    "SKHCN": [("Trung tâm giám sát an toàn thông tin", "Bảo đảm an toàn thông tin", "80.724", "10.300")],
}


async def _artifacts(prefix: str) -> dict[str, object]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_=prefix))
        )
    return {a.key: a for a in found if a.key}


async def _latest(key: str) -> str:
    """The newest version of an artifact key (every refresh of the dashboard adds one)."""
    async with get_client() as client:
        (latest,) = await client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
    return str(latest.data)


def _submit(session: Session, code: str) -> None:
    cycle = get_cycle_by_year(session=session, year=YEAR)
    unit = get_unit_by_code(session=session, code=code)
    context = load_workbook_context(session=session, cycle=cycle, unit=unit)  # type: ignore[arg-type]
    from tasks.submissions.workbook import build_workbook

    wb = open_book(build_workbook(context))
    rows = []
    for n, (name, field, local, central) in enumerate(PROPOSALS[code], start=1):
        row = {
            "stt": n,
            "name": name,
            "field": field,
            "origin": "Dự án mới",
            "start_year": YEAR,
            "end_year": YEAR,
            "amount:NSDP-SN": local,
        }
        if central:
            row["amount:NSTW"] = central
        rows.append(row)
    fill_items(wb, context, rows, ITEMS_DATA_START_ROW)
    inbox = Path(get_settings().resolved_inbox_url)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"{code}-{YEAR}.xlsx").write_bytes(save_book(wb))


def _check_console_artifacts(artifacts: dict[str, object], summary: str, workbook: Path) -> None:
    """What the coordinator reads in the Prefect UI: tables a Markdown renderer makes, money in one
    Vietnamese format, statuses in words, the files a click away through the portal (never a server path),
    the next step, and the cycle dashboard."""
    money = tables(summary)[0]
    assert money[0] == ["Nguồn vốn", f"Năm {YEAR}"]
    assert money[-1] == ["**Tổng cộng**", "**94.844,5**"]  # 94_844_500_000 đồng in triệu, no trailing zeros
    assert "đề xuất được đưa vào: đã chấp nhận" in summary and "accepted" not in summary
    assert str(workbook.parent) not in summary  # no server path
    downloads = links(summary)
    assert set(downloads) >= {workbook.name, workbook.with_suffix(".docx").name}
    portal = TestClient(create_app())
    public = get_settings().resolved_public_base_url
    for name, url in downloads.items():
        if name.endswith((".xlsx", ".docx")):
            assert url.startswith(f"{public}/files/")
            response = portal.get(url.removeprefix(public))
            assert response.status_code == 200, response.text
            assert quote(name) in response.headers["content-disposition"]
            if name.endswith(".xlsx"):
                assert "Phụ lục 02" in load_workbook(io.BytesIO(response.content)).sheetnames
    link_artifact = artifacts[f"plan-workbook-{YEAR}"]
    assert link_artifact.data.startswith(f"[{workbook.name}]({public}/files/")  # type: ignore[attr-defined]
    assert "Bước tiếp theo" in summary and "circulate-for-approval" in summary
    totals = asyncio.run(_artifacts(f"plan-totals-{YEAR}"))[f"plan-totals-{YEAR}"]
    header = list(json.loads(totals.data)[0])  # type: ignore[attr-defined]
    assert header[:4] == ["STT", "Nhóm", "Số mục", "Tổng cộng (triệu đồng)"]  # the total never cut off
    board = asyncio.run(_latest(f"bang-dieu-khien-{YEAR}"))
    states = {row[0]: row[1:] for row in tables(board)[0][1:]}
    assert states["đã chấp nhận"] == ["2", "66,7%"] and states["đã gửi, chờ xem xét"] == ["1", "33,3%"]
    excel = links(board)[f"bang-dieu-khien-{YEAR}.xlsx"]
    sheets = load_workbook(io.BytesIO(portal.get(excel.removeprefix(public)).content)).sheetnames
    assert sheets == ["Tổng quan", "Đơn vị", "Phê duyệt"]


def test_consolidate_plan_from_real_submissions(prefect_api: str, session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv", DEMO / "contacts.csv"])
    session.commit()
    open_cycle(
        year=YEAR,
        submission_deadline=date(YEAR - 1, 9, 30),
        as_of=date(YEAR - 1, 8, 1),
        coordinating_unit_code="SKHCN",
        units="list",
        unit_codes=["SYT", "STC", "SKHCN"],
    )
    for code in PROPOSALS:
        _submit(session, code)
    collected = collect_submissions(year=YEAR, as_of=date(YEAR - 1, 9, 20))
    assert collected["accepted"] == 3
    for code in ("SYT", "SKHCN"):
        review_submission(year=YEAR, unit_code=code, action="accept")

    as_of = date(YEAR - 1, 11, 20)
    first = consolidate_plan(year=YEAR, as_of=as_of)

    nsdp = (2_500 + 320 + 80_724) * TRIEU
    nstw = 1_000_500_000 + 10_300 * TRIEU
    assert first["items"] == 3 and first["groups"] == 2  # STC is still "submitted": not included
    assert first["total_dong"] == nsdp + nstw
    assert first["workbook_mismatches"] == 0
    workbook, document = Path(first["workbook"]), Path(first["document"])  # type: ignore[arg-type]
    assert workbook.parent == get_settings().resolved_data_dir / "plans" / str(YEAR)

    # the appendix read back: the coordinator (SKHCN) first, exact đồng in the cells, totals re-added
    wb = load_workbook(workbook)
    assert {"Tổng hợp", "Phụ lục 01", "Phụ lục 02", "Kiểm tra"} <= set(wb.sheetnames)
    annex = wb["Phụ lục 02"]
    rows = [[c.value for c in row] for row in annex.iter_rows()]
    stt = [r[0] for r in rows]
    assert stt.index("I") < stt.index("I.1") < stt.index("II") < stt.index("II.1") < stt.index("II.2")
    heading = rows[stt.index("I")]
    assert heading[1] == "Sở Khoa học và Công nghệ"
    grand = next(r for r in rows if r[1] == "TỔNG CỘNG")
    # sources of the cycle: NSDP-SN, NSDP-DTPT, NSTW, NTDV, then the total
    assert grand[8:13] == [nsdp, 0, nstw, 0, nsdp + nstw]
    report = check_plan_file(workbook)
    assert report.mismatches == []

    doc = Document(str(document))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Phụ lục 02" in text and "Tổng kinh phí năm" in text

    artifacts = asyncio.run(_artifacts(f"plan-%-{YEAR}"))
    assert {
        f"plan-summary-{YEAR}",
        f"plan-totals-{YEAR}",
        f"plan-workbook-{YEAR}",
        f"plan-document-{YEAR}",
    } <= set(artifacts)
    summary = artifacts[f"plan-summary-{YEAR}"].data  # type: ignore[attr-defined]
    assert "Tổng cộng" in summary and "mọi dòng tổng khớp" in summary
    _check_console_artifacts(artifacts, summary, workbook)

    # same inputs, same plan: replaced, not duplicated
    second = consolidate_plan(year=YEAR, as_of=as_of)
    assert {k: v for k, v in second.items()} == first
    assert session.exec(select(func.count()).select_from(PlanItem)).one() == 3

    # the coordinator chooses to include what is still under review
    third = consolidate_plan(year=YEAR, statuses=["accepted", "submitted"], grouping="field", as_of=as_of)
    assert third["items"] == 4 and third["total_dong"] == nsdp + nstw + 4_268_250_000
    assert third["groups"] == 3  # three fields
