"""Builders for consolidation tests: real rows (units, cycles, submissions, versions, items, amounts) as
intake would have stored them, without going through a workbook each time."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sqlmodel import Session

from models import (
    ApplicationField,
    FundingSource,
    IntakeAttempt,
    ItemStatusReport,
    PlanItem,
    PlanItemAmount,
    PlanningCycle,
    Submission,
    SubmissionItem,
    SubmissionItemAmount,
    SubmissionVersion,
    Unit,
)
from tests.factories import make_cycle, make_unit

FIELDS = [
    ("INT", "Ứng dụng CNTT trong nội bộ cơ quan nhà nước"),
    ("SVC", "Ứng dụng CNTT phục vụ người dân và doanh nghiệp"),
    ("SEC", "Bảo đảm an toàn thông tin"),
]


@dataclass
class Item:
    name: str
    amounts: dict[str, int | None]
    field: str | None = "INT"
    origin: str = "new"
    carry_over_from_id: int | None = None
    start_year: int | None = 2027
    end_year: int | None = 2027
    extra: dict[str, Any] = dc_field(default_factory=dict)


def add_fields(session: Session, cycle: PlanningCycle) -> None:
    for order, (code, name) in enumerate(FIELDS):
        session.add(ApplicationField(cycle_id=cycle.id, code=code, name=name, display_order=order))  # type: ignore[arg-type]
    session.flush()


def new_cycle(session: Session, year: int, **fields: Any) -> PlanningCycle:
    cycle = make_cycle(session, year=year, money_unit=fields.pop("money_unit", "trieu"), **fields)
    add_fields(session, cycle)
    return cycle


def source_ids(session: Session, cycle: PlanningCycle) -> dict[str, int]:
    from models.cycle import list_funding_sources

    return {s.code: s.id for s in list_funding_sources(session=session, cycle_id=cycle.id)}  # type: ignore[misc]


def add_submission(
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    items: list[Item],
    *,
    status: str = "accepted",
    statuses: list[tuple[int, str, int | None, str | None]] | None = None,
) -> SubmissionVersion:
    """A submission with one new version holding ``items`` (and last year's ``statuses`` as
    (plan_item_id, status, percent, note)); the submission ends in ``status``."""
    submission = session.query(Submission).filter_by(cycle_id=cycle.id, unit_id=unit.id).one_or_none()
    if submission is None:
        submission = Submission(cycle_id=cycle.id, unit_id=unit.id)  # type: ignore[arg-type]
        session.add(submission)
        session.flush()
    number = len(session.query(SubmissionVersion).filter_by(submission_id=submission.id).all()) + 1
    attempt = IntakeAttempt(
        submission_id=submission.id,
        channel="cli",
        original_filename=f"{unit.code}-{number}.xlsx",
        archive_path="/dev/null",
        sha256=f"{unit.code}-{number}".ljust(64, "0"),
        size_bytes=1,
        accepted=True,
    )
    session.add(attempt)
    session.flush()
    version = SubmissionVersion(submission_id=submission.id, number=number, attempt_id=attempt.id)  # type: ignore[arg-type]
    session.add(version)
    session.flush()
    ids = source_ids(session, cycle)
    for row, item in enumerate(items, start=8):
        stored = SubmissionItem(
            submission_version_id=version.id,  # type: ignore[arg-type]
            sheet_row=row,
            name=item.name,
            lead_unit_id=unit.id,  # type: ignore[arg-type]
            field_code=item.field,
            origin=item.origin,
            start_year=item.start_year,
            end_year=item.end_year,
            carry_over_from_id=item.carry_over_from_id,
            **item.extra,
        )
        session.add(stored)
        session.flush()
        for code, amount in item.amounts.items():
            session.add(SubmissionItemAmount(item_id=stored.id, funding_source_id=ids[code], amount=amount))  # type: ignore[arg-type]
    for row, (plan_item_id, state, percent, note) in enumerate(statuses or [], start=8):
        session.add(
            ItemStatusReport(
                submission_version_id=version.id,  # type: ignore[arg-type]
                plan_item_id=plan_item_id,
                status=state,
                percent_complete=percent,
                note=note,
                sheet_row=row,
            )
        )
    submission.status = status
    session.add(submission)
    session.commit()
    return version


def add_plan_item(
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    name: str,
    amounts: dict[str, int | None],
    *,
    position: int,
    status: str = "in_progress",
    **fields: Any,
) -> PlanItem:
    """An item of an (earlier) cycle's plan, as consolidation and approval would have left it."""
    values: dict[str, Any] = {
        "field_code": "INT",
        "origin": "new",
        "start_year": cycle.year,
        "end_year": cycle.year,
    }
    item = PlanItem(
        cycle_id=cycle.id,  # type: ignore[arg-type]
        lead_unit_id=unit.id,  # type: ignore[arg-type]
        name=name,
        position=position,
        status=status,
        **(values | fields),
    )
    session.add(item)
    session.flush()
    ids = source_ids(session, cycle)
    for code, amount in amounts.items():
        session.add(PlanItemAmount(item_id=item.id, funding_source_id=ids[code], amount=amount))  # type: ignore[arg-type]
    session.flush()
    return item


__all__ = [
    "FIELDS",
    "FundingSource",
    "Item",
    "add_fields",
    "add_plan_item",
    "add_submission",
    "make_unit",
    "new_cycle",
    "source_ids",
]
