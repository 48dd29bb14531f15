"""The request-progress-reports flow on a real Prefect API: nothing before the request window; then one
report and one message per unit with its workbook attached; a second run creates and sends nothing.
The daily send-reminders flow carries the progress reminders."""

from __future__ import annotations

from datetime import date
from email import message_from_bytes, policy

import pytest
from sqlmodel import func, select

from flows.request_progress_reports import request_progress_reports
from models import NotificationLog
from models.progress import ProgressReport
from plancycle.settings import get_settings
from tasks.excel.metadata import META_SHEET
from tests.progress.conftest import ProgressWorld, open_book

pytestmark = pytest.mark.prefect


def test_requests_once_and_sends_once(prefect_api: str, progress_world: ProgressWorld) -> None:
    session = progress_world.session
    early = request_progress_reports(as_of=date(2027, 3, 5))
    assert early == {"periods": 0, "new_reports": 0, "messages": 0, "sent_now": 0}

    first = request_progress_reports(as_of=date(2027, 3, 8))
    assert first == {"periods": 1, "new_reports": 3, "messages": 3, "sent_now": 3}
    outbox = get_settings().resolved_outbox_dir
    emails = sorted(outbox.rglob("*.eml"))
    assert len(emails) == 3
    mails = [message_from_bytes(e.read_bytes(), policy=policy.default) for e in emails]
    health = next(m for m in mails if "syt@example.org" in str(m["To"]))
    assert "Quý I/2027" in str(health["Subject"])
    text = health.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "17/03/2027" in text and "/u/" in text
    attachment = next(iter(health.iter_attachments()))
    assert attachment.get_filename() == "BC-tien-do_Quy-I-2027_SYT.xlsx"
    assert open_book(attachment.get_content())[META_SHEET].sheet_state == "veryHidden"

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["progress-requests"]))
        )
    shown = str(max(found, key=lambda a: a.created).data)
    assert "Bước tiếp theo" in shown and "consolidate-progress" in shown  # what the coordinator does next
    assert "Kỳ Quý I/2027: 0/3 đơn vị đã gửi báo cáo, hạn 17/03/2027" in shown

    second = request_progress_reports(as_of=date(2027, 3, 9))
    assert second == {"periods": 1, "new_reports": 0, "messages": 3, "sent_now": 0}
    assert len(sorted(outbox.rglob("*.eml"))) == 3
    assert session.exec(select(func.count()).select_from(ProgressReport)).one() == 3
    assert session.exec(select(func.count()).select_from(NotificationLog)).one() == 3


def test_send_reminders_carries_progress_reminders(prefect_api: str, progress_world: ProgressWorld) -> None:
    from flows.send_reminders import send_reminders

    progress_world.request_q1()
    result = send_reminders(year=2027, as_of=date(2027, 3, 12))  # 3 working days before 17/3
    assert result["reminders"] == 0  # the submission reminders of 2027: none, its season is over
    keys = progress_world.session.exec(select(NotificationLog.idempotency_key)).all()
    assert sum(":before-3:" in k and k.startswith("remind:prog:") for k in keys) == 3
