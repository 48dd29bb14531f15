"""Generate → fill as a unit would → validate → ingest → rows in the database, exact đồng."""

from __future__ import annotations

from sqlmodel import col, select

from models import (
    AuditEntry,
    IntakeAttempt,
    ItemStatusReport,
    Submission,
    SubmissionItem,
    SubmissionItemAmount,
    SubmissionVersion,
)
from models.base import ItemOrigin
from tasks.submissions.intake import ingest_submission
from tasks.submissions.validation import validate_workbook
from tests.submissions.conftest import (
    AS_OF_ON_TIME,
    EXPECTED_NEW_AMOUNTS,
    EXPECTED_TOTALS,
    NEW_ROWS,
    World,
    filled_workbook,
)


def test_filled_workbook_validates_with_exact_dong(world: World) -> None:
    result = validate_workbook(filled_workbook(world), context=world.context())

    assert result.errors == []
    assert result.submission is not None
    items = result.submission.items
    assert [i.name for i in items] == [
        world.in_progress.name,
        world.not_started.name,
        NEW_ROWS[0]["name"],
        NEW_ROWS[1]["name"],
    ]
    assert [i.carry_over_from_id for i in items] == [world.in_progress.id, world.not_started.id, None, None]
    assert [i.origin for i in items] == [ItemOrigin.carry_over] * 2 + [ItemOrigin.new] * 2
    assert [i.amounts for i in items[2:]] == EXPECTED_NEW_AMOUNTS
    assert items[0].amounts == {"NSDP": 100_000_000, "NSTW": 100_000}
    assert all(isinstance(a, int) for i in items for a in i.amounts.values())
    assert items[2].stated_total == 2_469_000_000
    assert items[2].field_code == "SVC" and items[3].field_code == "SEC"
    assert result.submission.totals == EXPECTED_TOTALS
    statuses = {s.plan_item_id: (s.status, s.percent_complete) for s in result.submission.statuses}
    assert statuses == {
        world.in_progress.id: ("in_progress", 70),
        world.not_started.id: ("not_started", None),
        world.completed.id: ("completed", 100),
    }


def test_ingest_stores_version_items_amounts_and_audit(world: World) -> None:
    session = world.session
    content = filled_workbook(world)

    result = ingest_submission(
        session=session,
        cycle=world.cycle,
        unit=world.unit,
        filename="KH2027_SYT.xlsx",
        content=content,
        channel="portal",
        as_of=AS_OF_ON_TIME,
        actor="can-bo@syt",
    )

    assert result.accepted and not result.duplicate and result.errors == []
    assert result.version_number == 1 and result.on_time is True
    assert result.item_count == 4
    assert result.totals == EXPECTED_TOTALS
    assert result.grand_total == sum(EXPECTED_TOTALS.values())
    submission = session.exec(select(Submission)).one()
    assert submission.status == "submitted"
    version = session.exec(select(SubmissionVersion)).one()
    assert version.totals == EXPECTED_TOTALS and version.number == 1
    items = session.exec(select(SubmissionItem).order_by(col(SubmissionItem.sheet_row))).all()
    assert [i.lead_unit_id for i in items] == [world.unit.id] * 4
    assert items[0].carry_over_from_id == world.in_progress.id
    amounts = session.exec(select(SubmissionItemAmount)).all()
    assert sum(a.amount or 0 for a in amounts) == sum(EXPECTED_TOTALS.values())
    attempt = session.exec(select(IntakeAttempt)).one()
    assert attempt.accepted and attempt.sha256 == result.sha256 and attempt.size_bytes == len(content)
    with open(attempt.archive_path, "rb") as handle:
        assert handle.read() == content
    audit = session.exec(select(AuditEntry)).one()
    assert audit.action == "submission.version_stored" and audit.details["version"] == 1
    assert audit.details["last_year_statuses"] == 3
    reports = session.exec(select(ItemStatusReport).order_by(col(ItemStatusReport.sheet_row))).all()
    assert [r.submission_version_id for r in reports] == [version.id] * 3
    assert {r.plan_item_id for r in reports} == {
        world.in_progress.id,
        world.completed.id,
        world.not_started.id,
    }
