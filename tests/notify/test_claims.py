"""A message goes once: real sending processes killed (kill -9) at random points, overlapping runs of one
batch, transient failures retried later, Zalo's refused token refresh (issue 16, item 3).

Every sender here is a real process (forked by ``crash_child.py --serve``) talking to a real aiosmtpd
server on loopback and to the test's database (SQLite, or PostgreSQL with PLANCYCLE_TEST_DATABASE_URL).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import NotificationLog
from models.base import DeliveryStatus, utcnow
from models.db import get_engine
from tasks.notify import DeliveryPolicy, Message, log_key, send_batch
from tasks.notify.delivery import retry_deliveries
from tasks.notify.email import message_id_for
from tests.factories import make_contact
from tests.notify.conftest import FAST, due_soon
from tests.notify.servers import FakeZalo, SmtpServer

ROOT = Path(__file__).resolve().parents[2]
SENDER = "ke-hoach@skhcn.gialai.gov.vn"


class ForkServer:
    """Client of ``crash_child.py --serve``: starts sending processes and reaps them."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("crash_child.py")), "--serve"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def _ask(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def run(self, job: dict[str, Any]) -> int:
        answer = self._ask(f"run {json.dumps(job)}")
        assert answer.startswith("pid "), answer
        return int(answer.split()[1])

    def wait(self, pid: int) -> int:
        answer = self._ask(f"wait {pid}")
        assert answer.startswith(f"ended {pid} "), answer
        return int(answer.split()[2])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def _ended(pid: int) -> bool:
    """The child has exited (a zombie until reaped), read from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _batch(world: dict[str, Any], session: Session, count: int) -> tuple[list[Message], dict[str, str]]:
    """``count`` email contacts, one message each; and the Message-ID each one must carry → its address."""
    contacts = [make_contact(session, world["unit"], email=f"don-vi-{i}@example.org") for i in range(count)]
    session.commit()
    messages = [due_soon(world, "email").model_copy(update={"contact_id": c.id}) for c in contacts]
    expected = {
        message_id_for(log_key(m.key, c.id, "email"), SENDER): c.email
        for m, c in zip(messages, contacts, strict=True)
    }
    return messages, expected


def _sent(db_url: str) -> int:
    with get_engine(db_url).connect() as conn:
        query = sa.select(sa.func.count()).where(NotificationLog.__table__.c.status == "sent")
        return conn.execute(query).scalar_one()


def test_random_kills_lose_nothing_and_duplicate_only_the_message_in_flight(
    world: dict[str, Any], smtp: SmtpServer, session: Session, db_url: str
) -> None:
    """At least 20 kill -9 of a sending process at random points of an 80-message batch (mostly while it
    is sending: after 1–3 more messages reached the server, plus 0–5 ms), each followed by a new run:
    every message arrives, duplicates ≤ kills (one worker: at most the message in flight per kill), and a
    duplicate carries the same Message-ID, the one derived from its delivery key."""
    messages, expected = _batch(world, session, 80)
    job = {
        "db_url": db_url,
        "smtp_url": smtp.url,
        "messages": [m.model_dump(mode="json") for m in messages],
        # A short lease, so that what a killed run had claimed is taken over soon; small claims.
        "policy": {"lease_seconds": 0.4, "claim_chunk": 4},
    }
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills, runs, started = 0, 0, time.monotonic()
    server = ForkServer()
    try:
        while _sent(db_url) < len(messages):
            assert time.monotonic() - started < 120, f"not done after {runs} runs (seed {seed})"
            before = len(smtp.received)
            pid = server.run(job)
            runs += 1
            if kills < 24:
                more = rng.choice((0, 1, 1, 2, 2, 3))
                if more == 0:  # during start-up, planning, recording, claiming: before its first message
                    until = time.monotonic() + rng.uniform(0, 0.3)
                    while time.monotonic() < until and len(smtp.received) == before and not _ended(pid):
                        time.sleep(0.0005)
                else:
                    while len(smtp.received) < before + more and not _ended(pid):
                        time.sleep(0.0005)
                    time.sleep(rng.uniform(0, 0.005))
                if not _ended(pid):
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
            code = server.wait(pid)
            assert code in (0, -signal.SIGKILL), f"sender failed with {code} (seed {seed})"
            if kills >= 24 and len(smtp.received) == before:
                time.sleep(0.4)  # only rows of a killed run's lease are left: let it run out
    finally:
        server.close()

    ids = Counter(str(r.message["Message-ID"]) for r in smtp.received)
    duplicates = sum(n - 1 for n in ids.values())
    print(f"seed {seed}: {runs} runs, {kills} kills, {len(smtp.received)} received, {duplicates} duplicates")
    assert set(ids) == set(expected), "lost or foreign messages"  # 0 lost
    assert duplicates <= kills
    assert kills >= 20
    for received in smtp.received:  # a duplicate is the same message: its Message-ID, its recipient
        assert received.rcpt_tos == [expected[str(received.message["Message-ID"])]]
    rows = session.exec(select(NotificationLog)).all()
    assert len(rows) == 80 and {r.status for r in rows} == {DeliveryStatus.sent}
    assert all(r.lease_until is None and r.claimed_by for r in rows)


def test_overlapping_runs_of_one_batch_send_each_message_once(
    world: dict[str, Any], smtp: SmtpServer, session: Session, db_url: str
) -> None:
    """Three sending processes start the same 90-message batch at the same instant, four workers each:
    every message arrives exactly once, and the work was shared (each run claimed some of it)."""
    messages, expected = _batch(world, session, 90)
    smtp.handler.delay = 0.03  # one run alone would take ~0.7 s: the three overlap
    job = {
        "db_url": db_url,
        "smtp_url": smtp.url,
        "messages": [m.model_dump(mode="json") for m in messages],
        "policy": {"concurrency": 4, "claim_chunk": 4},
    }
    server = ForkServer()
    try:
        job["start_at"] = time.time() + 0.5  # the three forked processes start sending together
        pids = [server.run(job) for _ in range(3)]
        codes = [server.wait(pid) for pid in pids]
    finally:
        server.close()
    assert codes == [0, 0, 0]
    ids = Counter(str(r.message["Message-ID"]) for r in smtp.received)
    assert set(ids) == set(expected) and max(ids.values()) == 1  # 0 lost, 0 duplicates
    rows = session.exec(select(NotificationLog)).all()
    assert len(rows) == 90 and {r.status for r in rows} == {DeliveryStatus.sent}
    assert len({r.claimed_by for r in rows}) >= 2


def test_a_live_claim_is_respected_and_an_expired_one_taken_over(
    world: dict[str, Any], smtp: SmtpServer, session: Session, make_settings: Any
) -> None:
    """A row claimed by another run is passed over while its lease lasts (reported as ``claimed``), and
    sent by the next run once the lease has run out."""
    message = due_soon(world, "email")
    settings = make_settings(smtp=smtp)
    key = log_key(message.key, world["contacts"]["email"].id, "email")
    session.add(
        NotificationLog(
            idempotency_key=key,
            template="due_soon",
            channel="email",
            contact_id=world["contacts"]["email"].id,
            recipient="nhung@stnmt.gialai.gov.vn",
            status=DeliveryStatus.claimed,
            claimed_by="other-host:1234:abc",
            lease_until=utcnow() + timedelta(seconds=30),
        )
    )
    session.commit()
    (held,) = send_batch([message], settings=settings, policy=FAST).deliveries
    assert held.status == DeliveryStatus.claimed and not held.attempted_now and not smtp.received

    row = session.exec(select(NotificationLog)).one()
    row.lease_until = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    (taken,) = send_batch([message], settings=settings, policy=FAST).deliveries
    assert taken.status == DeliveryStatus.sent and taken.attempted_now and len(smtp.received) == 1


def test_transient_failure_is_retried_later_and_sent_once(
    world: dict[str, Any], make_settings: Any, session: Session, db_url: str
) -> None:
    """SMTP down: the notice fails transiently and is given a time for the next try; retry_deliveries
    (the daily run) leaves it alone before that time, sends it once after, and never again."""
    server = SmtpServer()  # not started: connection refused
    settings = make_settings(smtp=server)
    policy = DeliveryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.01, retry_after=600)
    (failed,) = send_batch([due_soon(world, "email")], settings=settings, policy=policy).deliveries
    assert failed.status == DeliveryStatus.failed_transient and failed.attempts == 2
    row = session.exec(select(NotificationLog)).one()
    assert row.next_attempt_at is not None and row.payload is not None
    next_at = row.next_attempt_at

    server.start()
    try:
        early = retry_deliveries(settings=settings, policy=policy, now=utcnow() + timedelta(seconds=60))
        assert early.deliveries == [] and not server.received
        later = retry_deliveries(settings=settings, policy=policy, now=utcnow() + timedelta(seconds=601))
        (retried,) = later.deliveries
        assert retried.status == DeliveryStatus.sent and retried.attempts == 3 and retried.attempted_now
        assert len(server.received) == 1
        assert server.received[0].rcpt_tos == ["nhung@stnmt.gialai.gov.vn"]
        # The notice is the one the batch would have sent: same template, same link.
        assert (
            "https://kehoach.gialai.gov.vn/u/abc?t=1"
            in server.received[0].message.get_body(("plain",)).get_content()
        )
        again = retry_deliveries(settings=settings, policy=policy, now=utcnow() + timedelta(days=2))
        assert again.deliveries == [] and len(server.received) == 1
    finally:
        server.stop()
    session.expire_all()
    row = session.exec(select(NotificationLog)).one()
    assert row.status == DeliveryStatus.sent and row.next_attempt_at is None
    assert next_at is not None


def test_retries_are_bounded_then_failed_permanent_with_the_reason(
    world: dict[str, Any], make_settings: Any, session: Session
) -> None:
    settings = make_settings(smtp=SmtpServer())  # never started
    policy = DeliveryPolicy(max_attempts=1, max_total_attempts=3, retry_after=60, retry_max=60)
    send_batch([due_soon(world, "email")], settings=settings, policy=policy)
    statuses = []
    for day in (1, 2, 3):
        result = retry_deliveries(settings=settings, policy=policy, now=utcnow() + timedelta(days=day))
        statuses.append([d.status for d in result.deliveries])
    assert statuses == [[DeliveryStatus.failed_transient], [DeliveryStatus.failed_permanent], []]
    row = session.exec(select(NotificationLog)).one()
    assert row.status == DeliveryStatus.failed_permanent and row.attempts == 3
    assert row.error is not None and row.error.startswith("gave up after 3 attempts: ")
    assert "ConnectionRefused" in row.error and row.next_attempt_at is None


def test_refused_token_refresh_is_asked_once_and_every_contact_gets_the_email(
    world: dict[str, Any],
    zalo: FakeZalo,
    smtp: SmtpServer,
    make_settings: Any,
    seed_zalo: Any,
    session: Session,
) -> None:
    """Twelve Zalo contacts (with an email, Zalo preferred); Zalo revokes the access token and refuses
    the refresh (someone else rotated it). One refresh call for the batch, not one per attempt; each
    contact gets the message by email (a fall-back row, linked to its Zalo row), once."""
    seed_zalo(zalo)
    zalo.expire_access_tokens()
    zalo.refresh_token = "rotated-elsewhere"
    contacts = [
        make_contact(
            session,
            world["unit"],
            email=f"zalo-{i}@example.org",
            zalo_user_id=f"zu-{i}",
            preferred_channels="zalo",
        )
        for i in range(12)
    ]
    session.commit()
    messages = [due_soon(world, "zalo").model_copy(update={"contact_id": c.id}) for c in contacts]
    settings = make_settings(zalo=zalo, smtp=smtp)
    policy = DeliveryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02, concurrency=4)
    result = send_batch(messages, settings=settings, policy=policy)

    assert zalo.refresh_calls == 1 and not zalo.messages
    by_channel = {
        channel: [d for d in result.deliveries if d.channel == channel] for channel in ("zalo", "email")
    }
    assert len(by_channel["zalo"]) == 12 and len(by_channel["email"]) == 12
    for d in by_channel["zalo"]:
        assert d.status == DeliveryStatus.failed_permanent and "sent by email instead" in (d.error or "")
        assert "refresh" in (d.error or "") and zalo.secret_key not in (d.error or "")
    assert all(d.status == DeliveryStatus.sent and d.fallback_of for d in by_channel["email"])
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(c.email for c in contacts)
    rows = session.exec(select(NotificationLog).where(col(NotificationLog.channel) == "email")).all()
    assert len(rows) == 12 and all(r.fallback_of_id is not None for r in rows)

    # Neither the batch again nor the daily retry sends anything more.
    send_batch(messages, settings=settings, policy=policy)
    retry_deliveries(settings=settings, policy=policy, now=utcnow() + timedelta(days=1))
    assert len(smtp.received) == 12 and zalo.refresh_calls == 1


def test_postgresql_skips_a_row_another_run_has_locked_instead_of_waiting(
    world: dict[str, Any], smtp: SmtpServer, session: Session, db_url: str, make_settings: Any
) -> None:
    """PostgreSQL: while another transaction holds the row lock (another run claiming or settling it), a
    run passes the row over at once (FOR UPDATE SKIP LOCKED) rather than queueing behind the lock."""
    if not db_url.startswith("postgresql"):
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
    message = due_soon(world, "email")
    settings = make_settings(smtp=smtp)
    contact_id = world["contacts"]["email"].id
    session.add(
        NotificationLog(
            idempotency_key=log_key(message.key, contact_id, "email"),
            template="due_soon",
            channel="email",
            contact_id=contact_id,
            recipient="nhung@stnmt.gialai.gov.vn",
        )
    )
    session.commit()
    other = sa.create_engine(db_url)
    outcome: list[Any] = []
    try:
        with other.connect() as conn, conn.begin():
            conn.execute(sa.select(NotificationLog.__table__.c.id).with_for_update())
            sender = threading.Thread(
                target=lambda: outcome.append(send_batch([message], settings=settings, policy=FAST)),
                daemon=True,
            )
            sender.start()
            sender.join(20)
            assert not sender.is_alive(), "the run waited for the lock instead of skipping the row"
        (passed_over,) = outcome[0].deliveries
        assert passed_over.status == DeliveryStatus.pending and not passed_over.attempted_now
        assert not smtp.received
        (sent,) = send_batch([message], settings=settings, policy=FAST).deliveries
        assert sent.status == DeliveryStatus.sent and len(smtp.received) == 1
    finally:
        other.dispose()
