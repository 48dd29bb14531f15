"""The portal under hostile input and faults (issue 16), over real HTTP to a real uvicorn where timing
matters: a hanging mail relay, a long upload, the same file twice at once, a full disk, thousands of bad
rows, an upload after the plan was approved, an amount the database cannot hold; a leaked link revoked by
command, and the link's database row deciding its expiry."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from openpyxl.workbook.workbook import Workbook
from sqlmodel import Session, func, select

from models import AccessLink, AuditEntry, IntakeAttempt, SubmissionVersion
from models.base import CycleStatus, SubmissionStatus, utcnow
from models.db import get_engine
from models.items import SubmissionItem
from models.notifications import NotificationLog
from models.submissions import Submission
from plancycle.settings import PROJECT_ROOT, get_settings
from tasks.common.links import LinkError, issue_link_token, verify_link_token
from tasks.submissions.intake import ingest_submission
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, WorkbookContext
from tests.factories import make_contact, make_cycle, make_unit
from tests.notify.servers import SmtpServer, free_port, serve_portal
from tests.submissions.conftest import World, filled_workbook, item_letter, items_sheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _count(session: Session, model: type, *where: Any) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


@pytest.fixture
def token(world: World) -> str:
    world.session.add(
        Submission(cycle_id=world.cycle.id, unit_id=world.unit.id, deadline=world.cycle.submission_deadline)  # type: ignore[arg-type]
    )
    make_contact(world.session, world.unit, full_name="Trần Thị Bình", email="binh@example.org")
    token = issue_link_token(session=world.session, unit=world.unit, cycle=world.cycle)
    world.session.commit()
    return token


@pytest.fixture
def live_portal(token: str) -> Iterator[str]:
    """The portal app in a real uvicorn server on a free port."""
    with serve_portal() as base:
        yield base


def _outbox(expected: int, timeout: float = 20) -> list[Path]:
    """The mails in the outbox once ``expected`` arrived (notices are sent after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        mails = sorted(get_settings().resolved_outbox_dir.rglob("*.eml"))
        if len(mails) >= expected or time.monotonic() > deadline:
            return mails
        time.sleep(0.05)


def _upload(base: str, token: str, content: bytes, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{base}/u/{token}/upload", files={"file": ("de-xuat.xlsx", content, XLSX)}, timeout=timeout
    )


# ---------------------------------------------------------------- the event loop stays free


@pytest.fixture
def hanging_relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real SMTP server that takes each message and then does not answer until released."""
    relay = SmtpServer()
    relay.handler.hold = threading.Event()
    relay.start()
    monkeypatch.setenv("PLANCYCLE_SMTP_URL", relay.url)
    get_settings.cache_clear()
    yield relay
    relay.handler.hold.set()
    relay.stop()


def test_hanging_mail_relay_does_not_delay_the_answer(
    world: World, token: str, hanging_relay: SmtpServer, live_portal: str
) -> None:
    good = filled_workbook(world)
    with ThreadPoolExecutor(2) as pool:
        upload = pool.submit(_upload, live_portal, token, good)
        assert hanging_relay.handler.arrived.wait(30), "the notice never reached the relay"
        # The relay holds the notice: the unit's answer is already there, and so is every other page.
        response = upload.result(timeout=15)
        assert response.status_code == 200 and "Đã tiếp nhận" in response.text
        assert httpx.get(f"{live_portal}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{live_portal}/u/{token}", timeout=5).status_code == 200
        assert hanging_relay.handler.hold is not None
        hanging_relay.handler.hold.set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not hanging_relay.received:
        time.sleep(0.05)
    assert hanging_relay.received, "the notice is still sent once the relay answers"


def test_notices_of_a_rush_go_in_batches_and_each_goes_once(
    world: World, token: str, live_portal: str
) -> None:
    """Five versions uploaded at once: every answer first, then every receipt, once each; the receipts of
    the uploads that waited went out together (one delivery run for several notices, portal/pools.py)."""
    from models.notifications import NotificationLog

    def version(number: int) -> bytes:
        def mutate(wb: Workbook, context: WorkbookContext) -> None:
            items_sheet(wb)[f"{item_letter(context, 'amount:NSDP')}{ITEMS_DATA_START_ROW}"] = 100 + number

        return filled_workbook(world, mutate=mutate)

    files = [version(n) for n in range(5)]
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda content: _upload(live_portal, token, content), files))
    assert [a.status_code for a in answers] == [200] * 5, [a.text[:300] for a in answers]
    mails = _outbox(5)
    subjects = sorted(
        str(message_from_bytes(m.read_bytes(), policy=policy.default)["Subject"]) for m in mails
    )
    assert len(mails) == 5 and all("Đã nhận" in s for s in subjects), subjects
    assert len({s for s in subjects}) == 5, subjects  # one receipt per version (lần 1 … lần 5)
    world.session.expire_all()
    rows = world.session.exec(select(NotificationLog)).all()
    assert len(rows) == 5 and {r.status for r in rows} == {"sent"}
    assert len({r.claimed_by for r in rows}) < 5, "the receipts of the waiting uploads went in one run"


def _many_rows(rows: int):  # type: ignore[no-untyped-def]
    def mutate(wb: Workbook, context: WorkbookContext) -> None:
        ws = items_sheet(wb)
        letters = {key: item_letter(context, key) for key in ("name", "field", "origin")}
        letters |= {key: item_letter(context, key) for key in ("start_year", "end_year", "amount:NSDP")}
        for offset in range(rows):
            row = ITEMS_DATA_START_ROW + 4 + offset
            ws[f"{letters['name']}{row}"] = f"Nhiệm vụ số {offset}"
            ws[f"{letters['field']}{row}"] = "Bảo đảm an toàn thông tin"
            ws[f"{letters['origin']}{row}"] = "Dự án mới"
            ws[f"{letters['start_year']}{row}"] = 2027
            ws[f"{letters['end_year']}{row}"] = 2027
            ws[f"{letters['amount:NSDP']}{row}"] = 10

    return mutate


def test_health_answers_while_a_long_upload_is_processed(world: World, token: str, live_portal: str) -> None:
    big = filled_workbook(world, mutate=_many_rows(3000))

    def timed_upload() -> tuple[httpx.Response, float]:
        response = _upload(live_portal, token, big)
        return response, time.monotonic()

    answers: list[float] = []
    with ThreadPoolExecutor(1) as pool:
        upload = pool.submit(timed_upload)
        while not upload.done():
            httpx.get(f"{live_portal}/healthz", timeout=60)
            answers.append(time.monotonic())
            time.sleep(0.02)
        response, finished = upload.result()
    assert response.status_code == 200, response.text[:500]
    # Parsing on the event loop would hold every health check until the upload's answer.
    assert len([t for t in answers if t < finished - 0.2]) >= 2, (answers, finished)


def _apart_processes() -> list[psutil.Process]:
    """The large-file processes this test process started (portal/apart.py), not their resource tracker."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if any("spawn_main" in part for part in p.cmdline())
    ]


def test_a_large_file_is_taken_apart_and_the_death_of_that_process_costs_one_upload(
    world: World, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = filled_workbook(world, mutate=_many_rows(2500))
    monkeypatch.setenv("PLANCYCLE_PORTAL_APART_BYTES", str(len(big) // 2))  # 2,500 rows: a large file
    get_settings.cache_clear()
    with serve_portal() as live_portal:
        _die_then_take(world, token, live_portal, big)


def _die_then_take(world: World, token: str, live_portal: str, big: bytes) -> None:
    with ThreadPoolExecutor(1) as pool:
        upload = pool.submit(_upload, live_portal, token, big)
        deadline = time.monotonic() + 30
        while not (apart := _apart_processes()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert apart, "a large file is taken in a process of its own"
        first = apart[0].pid
        apart[0].kill()  # the kernel's out-of-memory killer, a crash in the parser
        response = upload.result()
    assert response.status_code == 422, response.text[:500]
    assert "Hệ thống không xử lý được tệp này" in response.text
    assert httpx.get(f"{live_portal}/healthz", timeout=5).status_code == 200, "the portal itself stands"
    world.session.expire_all()
    attempt = world.session.exec(select(IntakeAttempt)).one()
    assert not attempt.accepted and attempt.errors and attempt.errors[0]["key"] == "intake_failed"
    assert _count(world.session, SubmissionVersion) == 0

    again = _upload(live_portal, token, big)  # the next large file starts a new process
    assert again.status_code == 200 and "Đã tiếp nhận" in again.text, again.text[:500]
    assert [p.pid for p in _apart_processes()] not in ([], [first])
    world.session.expire_all()
    version = world.session.exec(select(SubmissionVersion)).one()
    stored = _count(world.session, SubmissionItem, SubmissionItem.submission_version_id == version.id)
    assert stored == 4 + 2500, (
        "every row stored (the 4 of the filled workbook and 2,500), by the other process"
    )
    assert len(_outbox(2)) == 2, "both answers also went to the unit (the refusal, then the receipt)"


@contextlib.contextmanager
def _portal_process(log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The portal as `plancycle up` runs it (its own uvicorn process, the test's environment)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "portal.app:app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        portal = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base, portal
    finally:
        portal.terminate()
        portal.wait(20)


def test_the_access_log_of_the_portal_process_never_shows_a_link_token(
    world: World, token: str, tmp_path: Path
) -> None:
    """The portal as `plancycle up` runs it (uvicorn, its access log on): the unit's link is its key."""
    log = tmp_path / "portal.log"
    with _portal_process(log) as (base, _):
        assert httpx.get(f"{base}/u/{token}", timeout=30).status_code == 200
        assert _upload(base, token, filled_workbook(world)).status_code == 200
        assert httpx.get(f"{base}/a/{token}?x=1", timeout=30).status_code == 403
    text = log.read_text()
    assert '"GET /u/… HTTP/1.1" 200' in text and '"POST /u/…/upload HTTP/1.1" 200' in text, text
    assert '"GET /a/…?x=1 HTTP/1.1" 403' in text, text
    assert token not in text and token.split(".")[1] not in text


def _sent_keys(session: Session) -> set[str]:
    session.expire_all()
    rows = session.exec(select(NotificationLog).where(NotificationLog.status == "sent")).all()
    return {row.idempotency_key for row in rows}


def test_notices_waiting_when_the_portal_is_killed_are_sent_when_it_starts_again(
    world: World, token: str, tmp_path: Path
) -> None:
    """Two files of 3,000 rows at once: the first one's notice waits while the second is processed; the
    portal is killed then (kill -9), and started again."""
    first, second = (filled_workbook(world, mutate=_many_rows(3000 + n)) for n in (0, 1))
    log = tmp_path / "portal.log"
    with _portal_process(log) as (base, portal), ThreadPoolExecutor(2) as pool:
        answer = pool.submit(_upload, base, token, first)
        time.sleep(0.3)  # the second file arrives while the first is processed: it waits for the worker
        pool.submit(_upload, base, token, second)
        assert answer.result().status_code == 200
        portal.kill()  # while the second file is processed: the first one's notice is only queued
    world.session.expire_all()
    attempt = world.session.exec(select(IntakeAttempt).order_by(IntakeAttempt.id)).first()  # type: ignore[arg-type]
    assert attempt is not None and attempt.accepted
    spooled = list((get_settings().resolved_data_dir / "portal").glob("notices-waiting-*.jsonl"))
    assert spooled and f"intake:{attempt.id}" in spooled[0].read_text(), "the waiting notice is on disk"
    assert not any(k.startswith(f"intake:{attempt.id}:") for k in _sent_keys(world.session))

    with _portal_process(log):
        deadline = time.monotonic() + 30
        while not any(k.startswith(f"intake:{attempt.id}:") for k in _sent_keys(world.session)):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
    assert not list((get_settings().resolved_data_dir / "portal").glob("notices-waiting-*.jsonl"))
    sent = [k for k in _sent_keys(world.session) if k.startswith(f"intake:{attempt.id}:")]
    assert len(sent) == 1, "one receipt, to the unit's one officer, after the restart"
    assert _outbox(1), "in the outbox"


# ---------------------------------------------------------------- never a 500, always an attempt row


def test_disk_full_leaves_no_partial_file_and_records_the_attempt(
    world: World, token: str, live_portal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    response = _upload(live_portal, token, filled_workbook(world))
    assert response.status_code == 422
    assert "Hệ thống không xử lý được tệp này" in response.text
    archive = get_settings().archive_dir
    assert not [p for p in archive.rglob("*") if p.is_file()], "nothing half-written in the archive"
    world.session.expire_all()
    attempts = world.session.exec(select(IntakeAttempt)).all()
    assert len(attempts) == 1 and not attempts[0].accepted and attempts[0].archive_path == ""
    assert attempts[0].errors and attempts[0].errors[0]["key"] == "intake_failed"
    assert _count(world.session, SubmissionVersion) == 0
    monkeypatch.undo()  # the disk has room again by the time the notice is written
    assert len(_outbox(1)) == 1, "the refusal is also sent to the unit"


def test_an_amount_the_database_cannot_hold_is_an_answer_not_a_500(
    world: World, token: str, live_portal: str
) -> None:
    def huge(wb: Workbook, context: WorkbookContext) -> None:
        items_sheet(wb)[f"{item_letter(context, 'amount:NSDP')}{ITEMS_DATA_START_ROW}"] = 1e30

    response = _upload(live_portal, token, filled_workbook(world, mutate=huge))
    assert response.status_code == 422, response.text[:500]
    world.session.expire_all()
    assert _count(world.session, IntakeAttempt, IntakeAttempt.accepted == False) == 1  # noqa: E712
    assert _count(world.session, SubmissionVersion) == 0
    assert len(_outbox(1)) == 1


# ---------------------------------------------------------------- errors capped


def test_thousands_of_bad_rows_give_a_capped_list_everywhere(
    world: World, token: str, live_portal: str
) -> None:
    def bad_rows(wb: Workbook, context: WorkbookContext) -> None:
        ws = items_sheet(wb)
        name, amount = item_letter(context, "name"), item_letter(context, "amount:NSDP")
        for offset in range(3000):
            ws[f"{name}{ITEMS_DATA_START_ROW + 4 + offset}"] = f"Nhiệm vụ {offset}"
            ws[f"{amount}{ITEMS_DATA_START_ROW + 4 + offset}"] = -1

    response = _upload(live_portal, token, filled_workbook(world, mutate=bad_rows))
    assert response.status_code == 422
    assert response.text.count("<tr><td>") <= 51 + 5
    assert "lỗi khác" in response.text
    assert len(response.content) < 200_000
    world.session.expire_all()
    attempt = world.session.exec(select(IntakeAttempt)).one()
    assert attempt.errors is not None and len(attempt.errors) == 51
    assert attempt.errors[-1]["key"] == "more_errors"
    total = int(response.text.split("Tệp chưa hợp lệ: ")[1].split(" lỗi")[0])
    assert total > 3000, "the heading still counts every error"
    mail = _outbox(1)[0]
    body = message_from_bytes(mail.read_bytes(), policy=policy.default).get_body(preferencelist=("plain",))
    text = body.get_content()  # type: ignore[union-attr]
    assert mail.stat().st_size < 300_000 and f"{total} lỗi" in text and "lỗi khác" in text


# ---------------------------------------------------------------- after approval: no upload changes the plan


def test_upload_after_the_plan_was_approved_is_refused(world: World, token: str, live_portal: str) -> None:
    good = filled_workbook(world)
    assert _upload(live_portal, token, good).status_code == 200
    submission = world.session.exec(select(Submission)).one()
    submission.status = SubmissionStatus.accepted
    world.cycle.status = CycleStatus.approved
    world.session.add_all([submission, world.cycle])
    world.session.commit()

    def changed(wb: Workbook, context: WorkbookContext) -> None:
        items_sheet(wb)[f"{item_letter(context, 'name')}{ITEMS_DATA_START_ROW + 2}"] = "Tên khác"

    response = _upload(live_portal, token, filled_workbook(world, mutate=changed))
    assert response.status_code == 422
    assert "đã được phê duyệt" in response.text and "amend-plan" in response.text
    world.session.expire_all()
    assert world.session.exec(select(Submission)).one().status == SubmissionStatus.accepted
    assert _count(world.session, SubmissionVersion) == 1
    assert _count(world.session, IntakeAttempt) == 2


# ---------------------------------------------------------------- the same file twice at once


def test_same_file_twice_at_the_same_instant_gives_one_version(world: World, token: str, db_url: str) -> None:
    content = filled_workbook(world)
    barrier = threading.Barrier(2)

    def send(_: int) -> Any:
        with Session(get_engine(db_url), expire_on_commit=False) as session:
            from models import PlanningCycle, Unit

            cycle, unit = session.get(PlanningCycle, world.cycle.id), session.get(Unit, world.unit.id)
            assert cycle is not None and unit is not None
            barrier.wait()
            return ingest_submission(
                session=session,
                cycle=cycle,
                unit=unit,
                filename="de-xuat.xlsx",
                content=content,
                channel="portal",
                as_of=world.cycle.submission_deadline,  # type: ignore[arg-type]
                actor="test",
            )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(send, range(2)))
    assert all(r.accepted for r in results)
    assert sorted(r.duplicate for r in results) == [False, True]
    world.session.expire_all()
    assert _count(world.session, SubmissionVersion) == 1
    assert _count(world.session, IntakeAttempt) == 2


def test_no_partial_file_is_left_when_the_archive_write_fails(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tasks.submissions.intake import archive_original

    class Refusing(bytes):
        """Content whose write fails half-way, as on a full disk."""

    original_open = Path.open

    def failing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = original_open(self, *args, **kwargs)
        if self.name.endswith(".part"):
            handle.write(b"PK half")

            def refuse(_data: bytes) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

            handle.write = refuse  # type: ignore[method-assign]
        return handle

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "open", failing_open)
        with pytest.raises(OSError):
            archive_original(
                archive_dir=tmp_path,
                cycle_year=2027,
                unit_code="SYT",
                safe_name="a.xlsx",
                content=Refusing(b"PK" * 100),
                sha256="0" * 64,
                at=datetime(2027, 1, 1, tzinfo=UTC),
            )
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------- revoking a leaked link


def test_an_expiry_shortened_in_the_database_holds_at_once(session: Session) -> None:
    unit, cycle = make_unit(session), make_cycle(session)
    token = issue_link_token(session=session, unit=unit, cycle=cycle)
    link = session.exec(select(AccessLink)).one()
    link.expires_at = utcnow() - timedelta(minutes=1)  # the token still says 60 days
    session.add(link)
    session.flush()
    with pytest.raises(LinkError) as refused:
        verify_link_token(session=session, token=token)
    assert refused.value.reason == "expired"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plancycle.cli", *args],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),  # the test's database (PLANCYCLE_DATABASE_URL)
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_links_revoke_command_takes_effect_at_once(world: World, token: str, live_portal: str) -> None:
    assert httpx.get(f"{live_portal}/u/{token}", timeout=10).status_code == 200
    done = _cli("links", "revoke", world.unit.code, "--year", str(world.cycle.year))
    assert done.returncode == 0, done.stderr
    assert "Đã thu hồi 1 đường dẫn" in done.stdout and world.unit.code in done.stdout
    refused = httpx.get(f"{live_portal}/u/{token}", timeout=10)
    assert refused.status_code == 403 and "thu hồi" in refused.text
    world.session.expire_all()
    audit = world.session.exec(select(AuditEntry).where(AuditEntry.action == "links.revoked")).one()
    assert audit.details and audit.details["links"] == 1
    # the next message carries a new link, which works
    fresh = issue_link_token(session=world.session, unit=world.unit, cycle=world.cycle)
    world.session.commit()
    assert fresh != token and httpx.get(f"{live_portal}/u/{fresh}", timeout=10).status_code == 200


def test_links_revoke_names_an_unknown_unit(world: World) -> None:
    done = _cli("links", "revoke", "KHONGCO", "--year", str(world.cycle.year))
    assert done.returncode == 2 and "KHONGCO" in done.stderr
