"""Review decisions, version changes, inbox intake and the status table, on a real database."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import func, select

from models import AuditEntry, DeadlineExtension, ReviewComment, Submission
from models.base import SubmissionStatus
from plancycle.settings import get_settings
from tasks.submissions.inbox import collect_inbox
from tasks.submissions.intake import ingest_submission
from tasks.submissions.review import (
    ItemComment,
    ReviewError,
    accept_submission,
    changes_since_previous,
    exempt_unit,
    extend_deadline,
    return_submission,
)
from tasks.submissions.status import answered_share, status_rows, status_workbook
from tasks.submissions.validation import identify_workbook
from tasks.submissions.workbook import ITEMS_DATA_START_ROW
from tests.factories import make_contact
from tests.submissions.conftest import World, filled_workbook, item_letter, items_sheet


def _submit(world: World, content: bytes, as_of: date = date(2026, 9, 1)) -> None:
    result = ingest_submission(
        session=world.session,
        cycle=world.cycle,
        unit=world.unit,
        filename="de-xuat.xlsx",
        content=content,
        channel="cli",
        as_of=as_of,
        actor="test",
    )
    assert result.accepted, result.errors


@pytest.fixture
def requested(world: World) -> World:
    for unit in (world.unit, world.other_unit):
        world.session.add(Submission(cycle_id=world.cycle.id, unit_id=unit.id, deadline=date(2026, 9, 30)))  # type: ignore[arg-type]
    make_contact(world.session, world.unit, full_name="Trần Thị Bình", email="binh@example.org")
    world.session.commit()
    return world


def test_return_with_item_comments_then_resubmit_shows_changes(requested: World) -> None:
    world, settings = requested, get_settings()
    _submit(world, filled_workbook(world))
    outcome = return_submission(
        session=world.session,
        year=2027,
        unit_code="SYT",
        reviewer="chuyên viên A",
        comment="Đề nghị làm rõ nguồn vốn",
        new_deadline=date(2026, 10, 10),
        item_comments=[ItemComment(row_ref="3", comment="Thiếu căn cứ pháp lý")],
        settings=settings,
    )
    world.session.commit()
    assert outcome.status == SubmissionStatus.returned
    assert len(outcome.messages) == 1 and outcome.messages[0].template == "submission_returned"
    comments = outcome.messages[0].context["comments"]
    assert comments[1]["comment"] == "Thiếu căn cứ pháp lý" and "kho dữ liệu y tế" in comments[1]["where"]
    assert world.session.exec(select(func.count()).select_from(ReviewComment)).one() == 2
    submission = world.session.exec(select(Submission).where(Submission.unit_id == world.unit.id)).one()
    assert submission.deadline == date(2026, 10, 10)

    def cut_first_new_row(wb, context) -> None:  # type: ignore[no-untyped-def]
        row = ITEMS_DATA_START_ROW + len(context.carry_over_candidates)
        items_sheet(wb)[f"{item_letter(context, 'amount:NSDP')}{row}"] = "1.000"
        items_sheet(wb)[f"{item_letter(context, 'total')}{row}"] = None

    _submit(world, filled_workbook(world, mutate=cut_first_new_row), as_of=date(2026, 10, 5))
    changes = changes_since_previous(session=world.session, year=2027, unit_code="SYT")
    assert [(c.change, c.amounts_before["NSDP"], c.amounts_after["NSDP"]) for c in changes] == [
        ("changed", 1_234_500_000, 1_000_000_000)
    ]
    accepted = accept_submission(
        session=world.session,
        year=2027,
        unit_code="SYT",
        reviewer="lãnh đạo phòng",
        comment=None,
        settings=settings,
    )
    assert accepted.status == SubmissionStatus.accepted and accepted.version_number == 2


def test_review_refusals_are_clear(requested: World) -> None:
    world, settings = requested, get_settings()
    with pytest.raises(ReviewError) as info:
        accept_submission(
            session=world.session, year=2027, unit_code="SYT", reviewer="x", comment=None, settings=settings
        )
    assert "chưa gửi" in info.value.message_vi
    _submit(world, filled_workbook(world))
    with pytest.raises(ReviewError, match="No item"):
        return_submission(
            session=world.session,
            year=2027,
            unit_code="SYT",
            reviewer="x",
            comment="",
            item_comments=[ItemComment(row_ref="99", comment="?")],
            new_deadline=None,
            settings=settings,
        )
    with pytest.raises(ReviewError, match="after the current"):
        extend_deadline(
            session=world.session,
            year=2027,
            unit_code="STC",
            new_deadline=date(2026, 9, 1),
            reason="xin gia hạn",
            granted_by="x",
        )


def test_extension_and_exemption_recorded(requested: World) -> None:
    world = requested
    extend_deadline(
        session=world.session,
        year=2027,
        unit_code="STC",
        new_deadline=date(2026, 10, 15),
        reason="Đơn vị đang kiện toàn tổ chức",
        granted_by="giám đốc sở",
    )
    extension = world.session.exec(select(DeadlineExtension)).one()
    assert (extension.previous_deadline, extension.new_deadline) == (date(2026, 9, 30), date(2026, 10, 15))
    exempt_unit(
        session=world.session, year=2027, unit_code="STC", reason="Không có nhiệm vụ CNTT", granted_by="x"
    )
    world.session.commit()
    actions = [a.action for a in world.session.exec(select(AuditEntry))]
    assert "extend" in actions and "exempt" in actions


def test_inbox_attributes_files_by_their_signed_metadata(requested: World, tmp_path: Path) -> None:
    world = requested
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bat-ky-ten-nao.xlsx").write_bytes(filled_workbook(world))
    (inbox / "ghi-chu.xlsx").write_bytes(b"not a workbook")
    outcomes = collect_inbox(
        session=world.session,
        cycle=world.cycle,
        inbox_url=str(inbox),
        as_of=date(2026, 9, 2),
        settings=get_settings(),
    )
    by_name = {o.filename: o for o in outcomes}
    assert by_name["bat-ky-ten-nao.xlsx"].accepted and by_name["bat-ky-ten-nao.xlsx"].unit_code == "SYT"
    assert "không xác định được đơn vị" in (by_name["ghi-chu.xlsx"].rejected_reason or "")
    assert len(list((inbox / "processed").iterdir())) == 1 and len(list((inbox / "rejected").iterdir())) == 2
    assert not list(inbox.glob("*.xlsx"))
    # a second run finds nothing to do
    assert (
        collect_inbox(
            session=world.session,
            cycle=world.cycle,
            inbox_url=str(inbox),
            as_of=date(2026, 9, 3),
            settings=get_settings(),
        )
        == []
    )
    assert identify_workbook(filled_workbook(world)).unit_code == "SYT"  # type: ignore[union-attr]


def test_a_fault_in_the_inbox_intake_is_recorded_and_the_next_file_still_taken(
    requested: World, tmp_path: Path
) -> None:
    """The archive cannot be written (its folder is a file): the inbox records the file as a refused
    attempt with the generic message, moves it out of the way, and goes on."""
    from models import IntakeAttempt

    world = requested
    get_settings().archive_dir.parent.mkdir(parents=True, exist_ok=True)
    get_settings().archive_dir.write_text("not a folder")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "de-xuat.xlsx").write_bytes(filled_workbook(world))
    outcomes = collect_inbox(
        session=world.session,
        cycle=world.cycle,
        inbox_url=str(inbox),
        as_of=date(2026, 9, 2),
        settings=get_settings(),
    )
    assert [(o.filename, o.accepted, o.errors) for o in outcomes] == [("de-xuat.xlsx", False, 1)]
    attempts = world.session.exec(select(IntakeAttempt)).all()
    assert len(attempts) == 1 and attempts[0].errors[0]["key"] == "intake_failed"
    assert len(list((inbox / "processed").iterdir())) == 1 and not list(inbox.glob("*.xlsx"))


def test_status_rows_and_excel_export(requested: World) -> None:
    world = requested
    _submit(world, filled_workbook(world), as_of=date(2026, 10, 3))  # 3 days late
    rows = status_rows(session=world.session, cycle=world.cycle, as_of=date(2026, 10, 5))
    by_unit = {r.unit_code: r for r in rows}
    assert by_unit["SYT"].version == 1 and by_unit["SYT"].on_time is False
    assert by_unit["STC"].status == "requested" and by_unit["STC"].days_late == 5
    assert answered_share(rows) == 50.0
    wb = load_workbook(io.BytesIO(status_workbook(session=world.session, cycle=world.cycle, rows=rows)))
    ws = wb.active
    header = [c.value for c in ws[1]]
    nsdp = header.index("Ngân sách địa phương (đồng)") + 1
    syt_row = next(r for r in ws.iter_rows(min_row=2) if str(r[0].value).startswith("SYT"))
    assert syt_row[nsdp - 1].value == by_unit["SYT"].totals["NSDP"]  # exact đồng, an integer
    assert isinstance(syt_row[nsdp - 1].value, int)


def test_accept_many_at_once_each_in_its_own_transaction(requested: World) -> None:
    """Without codes: every submission awaiting review. With codes: those; an unknown code or a unit that
    sent nothing is reported in Vietnamese and does not stop the others."""
    from tasks.submissions.review import accept_submissions

    world, settings = requested, get_settings()
    _submit(world, filled_workbook(world))
    awaiting = accept_submissions(
        year=world.cycle.year, unit_codes=None, reviewer="coordinator", comment=None, settings=settings
    )
    assert [o.unit_code for o in awaiting.accepted] == ["SYT"] and awaiting.refused == {}
    world.session.expire_all()
    submission = world.session.exec(select(Submission).where(Submission.unit_id == world.unit.id)).one()
    assert submission.status == SubmissionStatus.accepted

    listed = accept_submissions(
        year=world.cycle.year,
        unit_codes=["SYT", "STC", "KHONG-CO", "SYT"],
        reviewer="coordinator",
        comment="Thống nhất",
        settings=settings,
    )
    assert [o.unit_code for o in listed.accepted] == ["SYT"]  # already accepted: unchanged, listed once
    assert set(listed.refused) == {"STC", "KHONG-CO"}
    assert "STC" in listed.refused["STC"] and "KHONG-CO" in listed.refused["KHONG-CO"]
    accepts = world.session.exec(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "accept")
    ).one()
    assert accepts == 1
