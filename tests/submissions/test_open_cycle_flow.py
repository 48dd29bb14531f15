"""The open-cycle flow on a real Prefect API: cycle, requests, workbooks, messages in the outbox; a second
run creates nothing and sends nothing."""

from __future__ import annotations

from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from flows.open_cycle import open_cycle
from models import NotificationLog, Submission
from plancycle.settings import get_settings
from tasks.registry.directory import import_registry

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"
pytestmark = pytest.mark.prefect


def test_open_cycle_sends_each_unit_its_workbook_once(prefect_api: str, session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv", DEMO / "contacts.csv"])
    session.commit()
    params = {
        "year": 2027,
        "submission_deadline": date(2026, 9, 30),
        "coordinating_unit_code": "SKHCN",
        "guidance_reference": "CV 2055/BTTTT-THH",
        "as_of": date(2026, 8, 3),
    }
    first = open_cycle(**params)
    # 20 units and the coordinating department, which proposes too
    assert first["units_requested"] == 21 and first["new_requests"] == 21
    assert first["sent_now"] == first["messages"] == 21 and first["failed"] == 0

    outbox = get_settings().resolved_outbox_dir
    emails = sorted(outbox.rglob("*.eml"))
    assert len(emails) == 21
    mail = message_from_bytes(emails[0].read_bytes(), policy=policy.default)
    assert "2027" in str(mail["Subject"])
    attachments = [part for part in mail.iter_attachments()]
    assert len(attachments) == 1 and attachments[0].get_content()[:2] == b"PK"
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "30/09/2026" in text and "/u/" in text

    second = open_cycle(**params)
    assert second["new_requests"] == 0 and second["sent_now"] == 0
    assert len(sorted(outbox.rglob("*.eml"))) == 21
    assert session.exec(select(func.count()).select_from(Submission)).one() == 21
    assert session.exec(select(func.count()).select_from(NotificationLog)).one() == 21


def test_send_reminders_flow_once_per_step(prefect_api: str, session: Session) -> None:
    from flows.send_reminders import send_reminders

    import_registry(session=session, paths=[DEMO / "units.csv", DEMO / "contacts.csv"])
    session.commit()
    open_cycle(
        year=2029,
        submission_deadline=date(2028, 9, 29),
        coordinating_unit_code="SKHCN",
        units="list",
        unit_codes=["SYT", "STC"],
        as_of=date(2028, 8, 1),
    )
    first = send_reminders(year=2029, as_of=date(2028, 9, 20))  # 7 working days before 29/9/2028
    # SYT, STC and the coordinating department's own request
    assert first["reminders"] == 3 and first["messages_sent"] == 3 and first["digest_sent"] == 1
    again = send_reminders(year=2029, as_of=date(2028, 9, 20))
    assert again == {"reminders": 0, "messages_sent": 0, "digest_sent": 0}
    keys = session.exec(select(NotificationLog.idempotency_key)).all()
    assert sum(":before-7:" in k for k in keys) == 3 and sum(k.startswith("digest:2029:") for k in keys) == 1
