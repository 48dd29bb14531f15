"""The one intake routine: archive always, store a version only when valid, idempotent re-upload."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from models import (
    AuditEntry,
    IntakeAttempt,
    Submission,
    SubmissionItem,
    SubmissionItemAmount,
    SubmissionVersion,
)
from models.base import SubmissionStatus
from plancycle.settings import get_settings
from tasks.submissions.intake import IntakeResult, ingest_submission, sanitise_filename
from tests.submissions.conftest import AS_OF_ON_TIME, EXPECTED_TOTALS, World, filled_workbook
from tests.submissions.test_validation_rules import set_item


def _ingest(world: World, content: bytes, *, filename: str = "de-xuat.xlsx", as_of: date = AS_OF_ON_TIME):
    return ingest_submission(
        session=world.session,
        cycle=world.cycle,
        unit=world.unit,
        filename=filename,
        content=content,
        channel="portal",
        as_of=as_of,
        actor="test",
    )


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: _count(session, model)
        for model in (
            Submission,
            SubmissionVersion,
            SubmissionItem,
            SubmissionItemAmount,
            IntakeAttempt,
            AuditEntry,
        )
    }


def test_invalid_upload_stores_only_the_attempt(world: World) -> None:
    content = filled_workbook(world, mutate=lambda wb, ctx: set_item(10, "name", None)(wb, ctx, world))
    before = _counts(world.session)

    result = _ingest(world, content)

    assert not result.accepted and result.version_number is None
    assert [e.key for e in result.errors] == ["required"]
    after = _counts(world.session)
    assert after == before | {"IntakeAttempt": before["IntakeAttempt"] + 1}
    attempt = world.session.get(IntakeAttempt, result.attempt_id)
    assert attempt is not None and not attempt.accepted and attempt.submission_id is None
    assert (
        attempt.errors is not None and attempt.errors[0]["row"] == 10 and attempt.errors[0]["column"] == "B"
    )
    assert Path(attempt.archive_path).read_bytes() == content  # archived although invalid


def test_invalid_upload_keeps_the_submission_status(world: World) -> None:
    _ingest(world, filled_workbook(world))
    bad = _ingest(world, b"not a workbook", filename="ke-hoach.csv")

    assert not bad.accepted and bad.errors[0].key == "file_not_xlsx"
    assert bad.submission_status == SubmissionStatus.submitted
    assert _count(world.session, SubmissionVersion) == 1
    assert world.session.get(IntakeAttempt, bad.attempt_id).submission_id == bad.submission_id  # type: ignore[union-attr]


def test_identical_reupload_is_idempotent(world: World) -> None:
    content = filled_workbook(world)
    first = _ingest(world, content)
    counts = _counts(world.session)

    again = _ingest(world, content, filename="gui-lai.xlsx")

    assert again.accepted and again.duplicate
    assert again.version_number == first.version_number == 1
    assert again.totals == first.totals == EXPECTED_TOTALS and again.item_count == first.item_count
    assert _counts(world.session) == counts | {"IntakeAttempt": counts["IntakeAttempt"] + 1}


def test_versions_increment_and_lateness_is_recorded(world: World) -> None:
    first = _ingest(world, filled_workbook(world))
    changed = filled_workbook(world, mutate=lambda wb, ctx: set_item(11, "amount:NSTW", 2)(wb, ctx, world))
    late = _ingest(world, changed, as_of=date(2026, 10, 1))

    assert (first.version_number, first.on_time) == (1, True)
    assert (late.version_number, late.on_time, late.duplicate) == (2, False, False)
    assert late.totals["NSTW"] == EXPECTED_TOTALS["NSTW"] - 500_000 + 2_000_000
    assert _count(world.session, SubmissionVersion) == 2
    assert _count(world.session, SubmissionItem) == 8
    # Going back to the first file is a change against the latest version, so it is version 3.
    back = _ingest(world, filled_workbook(world))
    assert back.version_number == 3 and not back.duplicate


def test_per_unit_deadline_extension_counts(world: World) -> None:
    world.session.add(Submission(cycle_id=world.cycle.id, unit_id=world.unit.id, deadline=date(2026, 10, 15)))  # type: ignore[arg-type]
    world.session.commit()
    assert _ingest(world, filled_workbook(world), as_of=date(2026, 10, 10)).on_time is True


@pytest.mark.parametrize(
    "status", [SubmissionStatus.accepted, SubmissionStatus.exempted, SubmissionStatus.returned]
)
def test_new_upload_after_review_reopens_the_submission(world: World, status: str) -> None:
    submission = Submission(cycle_id=world.cycle.id, unit_id=world.unit.id, status=status)  # type: ignore[arg-type]
    world.session.add(submission)
    world.session.commit()

    result = _ingest(world, filled_workbook(world))

    assert result.accepted and result.submission_status == SubmissionStatus.submitted
    audit = world.session.exec(select(AuditEntry)).one()
    assert audit.details is not None and audit.details["previous_status"] == status


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32\\evil.xlsx", "evil.xlsx"),
        ("/abs/path/KH 2027.xlsx", "KH 2027.xlsx"),
        ("C:\\Users\\a\\Kế hoạch.xlsx", "Kế hoạch.xlsx"),
        ("bad\x00name.xlsx", "badname.xlsx"),
        ("..", "tep-tai-len.xlsx"),
        ("", "tep-tai-len.xlsx"),
        (".hidden.xlsx", "hidden.xlsx"),
        ("CON.xlsx", "_CON.xlsx"),
        ("a<b>c|d?.xlsx", "a_b_c_d_.xlsx"),
    ],
)
def test_file_names_are_sanitised(filename: str, expected: str) -> None:
    assert sanitise_filename(filename) == expected


def test_path_trick_file_name_is_archived_inside_the_archive(world: World) -> None:
    content = filled_workbook(world)
    result: IntakeResult = _ingest(world, content, filename="../../../../tmp/x/../evil\x00.xlsx")

    archive_dir = get_settings().archive_dir
    path = Path(result.archive_path)
    assert path.resolve().parent == (archive_dir / "2027" / "SYT").resolve()
    assert path.name.endswith(f"-{hashlib.sha256(content).hexdigest()[:12]}-evil.xlsx")
    assert result.safe_filename == "evil.xlsx" and "\x00" not in result.original_filename
    assert result.accepted


def test_unknown_channel_is_refused_before_anything_is_stored(world: World) -> None:
    with pytest.raises(ValueError):
        ingest_submission(
            session=world.session,
            cycle=world.cycle,
            unit=world.unit,
            filename="a.xlsx",
            content=b"x",
            channel="fax",
            as_of=AS_OF_ON_TIME,
            actor="test",
        )
    assert _count(world.session, IntakeAttempt) == 0
