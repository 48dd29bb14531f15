"""The hostile-input corpus (issue 16, item 7) through the real intake path: ``plancycle submissions
import`` as a process, on a real database, with a real SMTP server on loopback.

Each refused class: exit code 1, a clear message naming the problem and where it is, an intake attempt
recorded as refused, no version and no item stored, and exactly one notice, the refusal. Each accepted
class: the text stored as a string, normalised (NFC, no zero-width or bidi controls), and exactly one
notice, the receipt."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from models import IntakeAttempt, SubmissionItem, SubmissionVersion
from tests.corpus.generate import ATTACKS, ROW, Attack, write_attack
from tests.factories import make_contact
from tests.notify.servers import SmtpServer
from tests.submissions.conftest import World, filled_workbook, world  # noqa: F401  (fixture)

PROJECT = Path(__file__).resolve().parents[2]
OFFICER = "vanthu.syt@example.org"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _import(path: Path, smtp: SmtpServer) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "PLANCYCLE_SMTP_URL": smtp.url,
        "PLANCYCLE_EMAIL_FROM": "ke-hoach@example.org",
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "submissions", "import", str(path)]
        + ["--unit", "SYT", "--year", "2027", "--as-of", "2026-09-15"],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_hostile_file_through_the_cli(
    world: World,  # noqa: F811
    smtp: SmtpServer,
    tmp_path: Path,
    attack: Attack,
) -> None:
    make_contact(world.session, world.unit, email=OFFICER)
    world.session.commit()
    path = write_attack(tmp_path / "corpus", attack, filled_workbook(world), world.context())

    done = _import(path, smtp)

    session = world.session
    session.expire_all()
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    attempts = session.exec(select(IntakeAttempt)).all()
    assert len(attempts) == 1, output  # every answer leaves its attempt row
    notices = [r for r in smtp.received if OFFICER in r.rcpt_tos]
    assert len(notices) == 1, output  # one notice, sent once
    subject = str(notices[0].message["subject"])
    data = Path(os.environ["PLANCYCLE_DATA_DIR"]).resolve()
    assert Path(attempts[0].archive_path).resolve().is_relative_to(data)
    if attack.refused:
        assert done.returncode == 1, output
        assert not attempts[0].accepted
        assert (_count(session, SubmissionVersion), _count(session, SubmissionItem)) == (0, 0)
        assert "chưa hợp lệ" in subject
        assert attack.says is None or attack.says in done.stderr, done.stderr
        if attack.key and attack.key.startswith("amount"):
            assert f"{ROW}" in done.stderr  # located: sheet and cell
    else:
        assert done.returncode == 0, output
        assert attempts[0].accepted and _count(session, SubmissionVersion) == 1
        assert "Đã nhận" in subject
        names = set(session.exec(select(SubmissionItem.name)).all())
        if attack.stored_name is not None:
            assert attack.stored_name in names, names
        assert not any(ch in name for name in names for ch in "\u200b\u200c\u200d\u2060\ufeff\u202e\u2066")


def test_a_fault_in_the_cli_intake_is_an_answer_not_a_traceback(
    world: World,  # noqa: F811
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    """Not the file's fault: the archive cannot be written (its folder is a file). The command answers like
    a refusal, with the generic message, records the attempt and sends the unit its notice."""
    make_contact(world.session, world.unit, email=OFFICER)
    world.session.commit()
    archive = Path(os.environ["PLANCYCLE_DATA_DIR"]) / "archive"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_text("not a folder")
    path = tmp_path / "de-xuat.xlsx"
    path.write_bytes(filled_workbook(world))

    done = _import(path, smtp)

    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == 1, output
    assert "Hệ thống không xử lý được tệp này" in done.stderr, output
    world.session.expire_all()
    attempts = world.session.exec(select(IntakeAttempt)).all()
    assert len(attempts) == 1 and not attempts[0].accepted and attempts[0].archive_path == ""
    assert attempts[0].errors[0]["key"] == "intake_failed"
    assert _count(world.session, SubmissionVersion) == 0
    notices = [r for r in smtp.received if OFFICER in r.rcpt_tos]
    assert len(notices) == 1 and "chưa hợp lệ" in str(notices[0].message["subject"]), output
