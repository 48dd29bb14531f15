"""A slice of the season through the Prefect API: open the cycle, a unit fills the workbook it was sent
and drops it in the inbox, the collect flow ingests it and publishes the status, the coordinator returns it.
"""

from __future__ import annotations

from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlmodel import Session, select

from flows.collect_submissions import collect_submissions
from flows.open_cycle import open_cycle
from flows.review import review_submission
from models import Submission
from models.cycle import get_cycle_by_year
from models.registry import get_unit_by_code
from plancycle.settings import get_settings
from tasks.registry.directory import import_registry
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, load_workbook_context
from tests.submissions.conftest import fill_items, open_book, save_book

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"
pytestmark = pytest.mark.prefect


async def _artifact_keys(prefix: str) -> list[str]:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_=prefix))
        )
    return [a.key for a in artifacts if a.key]


def test_inbox_collect_and_return(prefect_api: str, session: Session, tmp_path: Path) -> None:
    import asyncio

    import_registry(session=session, paths=[DEMO / "units.csv", DEMO / "contacts.csv"])
    session.commit()
    open_cycle(
        year=2028,
        submission_deadline=date(2027, 9, 30),
        as_of=date(2027, 8, 2),
        units="list",
        unit_codes=["SYT", "STC"],
    )

    # the officer of Sở Y tế opens the email, fills the attached workbook
    outbox = get_settings().resolved_outbox_dir
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in outbox.rglob("*.eml")]
    mail = next(
        m
        for m in mails
        if str(m["To"]).endswith("syt.chuyenvien@example.org>")
        or str(m["To"]) == "syt.chuyenvien@example.org"
    )
    attachment = next(mail.iter_attachments()).get_content()
    cycle = get_cycle_by_year(session=session, year=2028)
    unit = get_unit_by_code(session=session, code="SYT")
    context = load_workbook_context(session=session, cycle=cycle, unit=unit)  # type: ignore[arg-type]
    wb = open_book(attachment)
    fill_items(
        wb,
        context,
        [
            {
                "stt": 1,
                "name": "Bệnh án điện tử tại bệnh viện đa khoa tỉnh",
                "field": "Ứng dụng CNTT phục vụ người dân và doanh nghiệp",
                "origin": "Dự án mới",
                "start_year": 2028,
                "end_year": 2028,
                "amount:NSDP-SN": "2.500",
                "amount:NSTW": "1.000,5",
            }
        ],
        ITEMS_DATA_START_ROW,
    )
    inbox = Path(get_settings().resolved_inbox_url)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "SYT-de-xuat-2028.xlsx").write_bytes(save_book(wb))

    summary = collect_submissions(year=2028, as_of=date(2027, 9, 15))
    assert summary == {"files": 1, "accepted": 1, "invalid": 0, "unattributed": 0, "units": 2, "late": 0}
    keys = asyncio.run(_artifact_keys("submission-%"))
    assert "submission-status-2028" in keys and "submission-progress-2028" in keys

    result = review_submission(
        year=2028,
        unit_code="SYT",
        action="return",
        comment="Bổ sung dự toán chi tiết",
        item_comments=[{"row_ref": "1", "comment": "Thiếu thuyết minh"}],
    )
    assert result["status"] == "returned" and result["messages_sent"] == 1
    session.expire_all()
    statuses = {s.unit_id: s.status for s in session.exec(select(Submission))}
    assert statuses[unit.id] == "returned"  # type: ignore[union-attr]
    returned = [
        p
        for p in outbox.rglob("*.eml")
        if "Thiếu thuyết minh"
        in message_from_bytes(p.read_bytes(), policy=policy.default)
        .get_body(preferencelist=("plain",))
        .get_content()
    ]  # type: ignore[union-attr]
    assert len(returned) == 1
