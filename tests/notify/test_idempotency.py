"""Re-runs send nothing new; a crash between sending and recording resends only the message in flight,
once its run's lease has run out, never a loss. (Many random kills and overlapping runs: test_claims.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from models import NotificationLog
from models.base import DeliveryStatus, utcnow
from tasks.notify import send_batch
from tests.notify.conftest import FAST, due_soon
from tests.notify.servers import FakeZalo, SmtpServer

ROOT = Path(__file__).resolve().parents[2]


def test_rerunning_the_same_batch_sends_nothing_new(
    world: dict[str, Any],
    smtp: SmtpServer,
    zalo: FakeZalo,
    make_settings: Any,
    seed_zalo: Any,
    session: Session,
) -> None:
    seed_zalo(zalo)
    settings = make_settings(smtp=smtp, zalo=zalo)
    batch = [due_soon(world, who) for who in ("email", "zalo", "both", "en")]
    first = send_batch(batch, settings=settings, policy=FAST)
    assert first.count(DeliveryStatus.sent) == 5 and first.sent_now == 5
    assert len(smtp.received) == 3 and len(zalo.messages) == 2

    second = send_batch(batch + batch, settings=settings, policy=FAST)  # duplicates inside a batch, too
    assert second.sent_now == 0 and len(second.deliveries) == 5
    assert all(not d.attempted_now and d.status == DeliveryStatus.sent for d in second.deliveries)
    assert len(smtp.received) == 3 and len(zalo.messages) == 2
    assert len(session.exec(select(NotificationLog)).all()) == 5

    # A new logical message (new key base) to the same people is sent.
    third = send_batch([due_soon(world, "email", key="due-soon:2027:2")], settings=settings, policy=FAST)
    assert third.sent_now == 1 and len(smtp.received) == 4


def test_crash_between_sending_and_recording_resends_once(
    world: dict[str, Any], make_settings: Any, db_url: str, session: Session
) -> None:
    """The child process hands the email to the SMTP server and is killed before the server's 250 reply
    reaches it, so the outcome is never recorded. Its claim is respected until its lease runs out; then
    the next run sends again: one duplicate, with the same Message-ID so it is recognisable."""
    smtp = SmtpServer().start()
    smtp.handler.hold = threading.Event()
    message = due_soon(world, "email")
    args = {
        "db_url": db_url,
        "smtp_url": smtp.url,
        "messages": [message.model_dump(mode="json")],
        "policy": {"lease_seconds": 3.0},
    }
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_child.py")), json.dumps(args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert smtp.handler.arrived.wait(60), "the child never reached the SMTP server"
        child.kill()
        child.wait(10)
    finally:
        smtp.handler.hold.set()
    try:
        row = session.exec(select(NotificationLog)).one()
        assert row.status == DeliveryStatus.claimed and row.attempts == 0  # claimed, outcome lost
        assert row.claimed_by and row.lease_until is not None
        assert len(smtp.received) == 1

        # While the dead run's lease lasts, a new run leaves the row alone (it cannot tell it is dead).
        held = send_batch([message], settings=make_settings(smtp=smtp), policy=FAST)
        assert held.deliveries[0].status == DeliveryStatus.claimed and held.sent_now == 0
        assert len(smtp.received) == 1
        lease_until = (
            row.lease_until.replace(tzinfo=UTC) if row.lease_until.tzinfo is None else row.lease_until
        )
        time.sleep(max(0.0, (lease_until - utcnow()).total_seconds()) + 0.1)

        rerun = send_batch([message], settings=make_settings(smtp=smtp), policy=FAST)
        assert rerun.deliveries[0].status == DeliveryStatus.sent and rerun.sent_now == 1
        assert len(smtp.received) == 2
        first, second = (r.message for r in smtp.received)
        assert first["Message-ID"] == second["Message-ID"] == rerun.deliveries[0].provider_message_id

        assert send_batch([message], settings=make_settings(smtp=smtp), policy=FAST).sent_now == 0
        assert len(smtp.received) == 2
    finally:
        smtp.stop()


def test_contact_without_usable_channel_is_recorded_as_skipped(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any, session: Session
) -> None:
    # zalo-only contact while Zalo is disabled in the settings
    (delivery,) = send_batch(
        [due_soon(world, "zalo")], settings=make_settings(smtp=smtp), policy=FAST
    ).deliveries
    assert delivery.status == DeliveryStatus.skipped and delivery.channel == "none"
    assert session.exec(select(NotificationLog)).one().status == DeliveryStatus.skipped
    assert not smtp.received
