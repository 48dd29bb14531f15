"""The coordinator's review of submissions: accept, return with comments, extend a deadline, exempt.

Each is a plain function in the caller's transaction, recorded in the audit log, and returns the
message(s) to send to the unit (the caller sends them, so a crash before sending repeats nothing twice:
the keys are stable per decision).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sqlmodel import Session

from models import DeadlineExtension, PlanningCycle, ReviewComment, Submission, SubmissionVersion, Unit
from models.audit import record_audit
from models.base import SubmissionStatus, nfc, utcnow
from models.cycle import list_funding_sources
from models.items import list_submission_items
from models.registry import get_unit_by_code, unit_name_key
from models.submissions import get_submission, list_units_awaiting_review, list_versions
from plancycle.settings import Settings
from tasks.errors import NoCycleError, PlancycleError
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import unit_messages
from tasks.submissions.cycles import require_cycle
from templates import format_date, load_yaml


class ReviewError(PlancycleError):
    """A review action that cannot be taken; ``message_vi`` says why, for the coordinator."""

    catalog = "review"


class ItemComment(BaseModel):
    row_ref: str = Field(title="STT hoặc dòng trong biểu", description="vd. 3 hoặc I.2")
    comment: str = Field(title="Ý kiến", max_length=4000)


class ReviewOutcome(BaseModel):
    unit_code: str
    status: str
    version_number: int | None = None
    messages: list[Message] = []


def _load(session: Session, year: int, unit_code: str) -> tuple[PlanningCycle, Unit, Submission]:
    cycle = require_cycle(session=session, year=year)
    unit = get_unit_by_code(session=session, code=unit_code)
    if unit is None or unit.id is None:
        raise ReviewError("no_unit", code=unit_code)
    submission = get_submission(session=session, cycle_id=cycle.id, unit_id=unit.id)
    if submission is None:
        raise ReviewError("no_submission", code=unit_code, year=year)
    return cycle, unit, submission


def _latest(session: Session, submission: Submission, unit_code: str) -> SubmissionVersion:
    versions = list_versions(session=session, submission_id=submission.id)  # type: ignore[arg-type]
    if not versions:
        raise ReviewError("nothing_submitted", code=unit_code)
    return versions[0]


def accept_submission(
    *, session: Session, year: int, unit_code: str, reviewer: str, comment: str | None, settings: Settings
) -> ReviewOutcome:
    """Accept the unit's latest version; its items go into consolidation."""
    cycle, unit, submission = _load(session, year, unit_code)
    version = _latest(session, submission, unit_code)
    if submission.status == SubmissionStatus.accepted and version.review_status == "accepted":
        return ReviewOutcome(unit_code=unit_code, status=submission.status, version_number=version.number)
    version.review_status, version.reviewed_by, version.reviewed_at = "accepted", reviewer, utcnow()
    version.review_comment = nfc(comment)
    submission.status = SubmissionStatus.accepted
    record_audit(
        session=session,
        actor=reviewer,
        action="accept",
        subject=submission,
        cycle=cycle,
        details={"unit": unit_code, "version": version.number},
    )
    session.flush()
    return ReviewOutcome(unit_code=unit_code, status=submission.status, version_number=version.number)


class BatchAcceptance(BaseModel):
    """What one batch of acceptances did: who was accepted, who was not and why (Vietnamese)."""

    accepted: list[ReviewOutcome] = []
    refused: dict[str, str] = {}


def accept_submissions(
    *, year: int, unit_codes: list[str] | None, reviewer: str, comment: str | None, settings: Settings
) -> BatchAcceptance:
    """Accept several units' latest versions, each in its own transaction: one unit that cannot be
    accepted (nothing received, unknown code) is reported and does not hold back the others. Without
    ``unit_codes``, every submission awaiting review."""
    from models.db import session_scope

    if unit_codes is None:
        with session_scope() as session:
            cycle = require_cycle(session=session, year=year)
            unit_codes = list_units_awaiting_review(session=session, cycle_id=cycle.id)  # type: ignore[arg-type]
    result = BatchAcceptance()
    for code in dict.fromkeys(c.strip() for c in unit_codes if c.strip()):
        try:
            with session_scope() as session:
                outcome = accept_submission(
                    session=session,
                    year=year,
                    unit_code=code,
                    reviewer=reviewer,
                    comment=comment,
                    settings=settings,
                )
        except (ReviewError, NoCycleError) as error:
            result.refused[code] = error.message_vi
            continue
        result.accepted.append(outcome)
    return result


def return_submission(
    *,
    session: Session,
    year: int,
    unit_code: str,
    reviewer: str,
    comment: str,
    item_comments: list[ItemComment],
    new_deadline: date | None,
    settings: Settings,
) -> ReviewOutcome:
    """Return the latest version for revision with a general comment and comments per item."""
    cycle, unit, submission = _load(session, year, unit_code)
    version = _latest(session, submission, unit_code)
    if not (comment or "").strip() and not item_comments:
        raise ReviewError("comment_required")
    items = {
        str(item.row_ref or item.sheet_row): item
        for item, _ in list_submission_items(session=session, version_id=version.id)
    }  # type: ignore[arg-type]
    unknown = [c.row_ref for c in item_comments if c.row_ref not in items]
    if unknown:
        raise ReviewError("unknown_items", rows=", ".join(unknown))
    key = f"return:{year}:{unit_code}:v{version.number}"
    if version.review_status != "returned":
        version.review_status, version.reviewed_by, version.reviewed_at = "returned", reviewer, utcnow()
        version.review_comment = nfc(comment)
        session.add(
            ReviewComment(submission_version_id=version.id, comment=nfc(comment) or "", author=reviewer)
        )  # type: ignore[arg-type]
        for c in item_comments:
            session.add(
                ReviewComment(
                    submission_version_id=version.id,
                    item_id=items[c.row_ref].id,  # type: ignore[arg-type]
                    comment=nfc(c.comment) or "",
                    author=reviewer,
                )
            )
        submission.status = SubmissionStatus.returned
        if new_deadline:
            _extend(session, cycle, submission, new_deadline, reason=comment, granted_by=reviewer)
        record_audit(
            session=session,
            actor=reviewer,
            action="return",
            subject=submission,
            cycle=cycle,
            details={
                "unit": unit_code,
                "version": version.number,
                "items": [c.model_dump() for c in item_comments],
            },
        )
    session.flush()
    comments = [{"where": "", "comment": comment}] if comment else []
    item_where = load_yaml("reports/submissions.vi.yaml")["where"]["item"]
    comments += [
        {"where": item_where.format(name=items[c.row_ref].name, row_ref=c.row_ref), "comment": c.comment}
        for c in item_comments
    ]
    messages = unit_messages(
        session=session,
        cycle=cycle,
        unit=unit,
        template="submission_returned",
        key=key,
        context={"comments": comments, "deadline": submission.deadline or cycle.submission_deadline},
        settings=settings,
    )
    return ReviewOutcome(
        unit_code=unit_code, status=submission.status, version_number=version.number, messages=messages
    )


def _extend(
    session: Session,
    cycle: PlanningCycle,
    submission: Submission,
    new_deadline: date,
    *,
    reason: str,
    granted_by: str,
) -> None:
    previous = submission.deadline or cycle.submission_deadline
    session.add(
        DeadlineExtension(
            submission_id=submission.id,
            previous_deadline=previous,
            new_deadline=new_deadline,
            reason=nfc(reason) or "",
            granted_by=granted_by,
        )
    )
    submission.deadline = new_deadline
    record_audit(
        session=session,
        actor=granted_by,
        action="extend",
        subject=submission,
        cycle=cycle,
        details={"from": str(previous), "to": str(new_deadline), "reason": reason},
    )


def extend_deadline(
    *, session: Session, year: int, unit_code: str, new_deadline: date, reason: str, granted_by: str
) -> ReviewOutcome:
    """Give one unit a later deadline (gia hạn); reminders follow the new date."""
    cycle, _unit, submission = _load(session, year, unit_code)
    current = submission.deadline or cycle.submission_deadline
    if current and new_deadline <= current:
        raise ReviewError("extension_not_later", current=format_date(current))
    if not reason.strip():
        raise ReviewError("reason_required")
    _extend(session, cycle, submission, new_deadline, reason=reason, granted_by=granted_by)
    session.flush()
    return ReviewOutcome(unit_code=unit_code, status=submission.status)


def exempt_unit(
    *, session: Session, year: int, unit_code: str, reason: str, granted_by: str
) -> ReviewOutcome:
    """Exempt a unit from submitting this cycle (miễn); no reminders follow."""
    cycle, _unit, submission = _load(session, year, unit_code)
    if not reason.strip():
        raise ReviewError("reason_required")
    submission.status = SubmissionStatus.exempted
    submission.exemption_reason = nfc(reason)
    record_audit(
        session=session,
        actor=granted_by,
        action="exempt",
        subject=submission,
        cycle=cycle,
        details={"unit": unit_code, "reason": reason},
    )
    session.flush()
    return ReviewOutcome(unit_code=unit_code, status=submission.status)


class ItemChange(BaseModel):
    name: str
    change: str  # added / removed / changed
    amounts_before: dict[str, int | None] = {}
    amounts_after: dict[str, int | None] = {}


def version_changes(*, session: Session, cycle_id: int, older_id: int, newer_id: int) -> list[ItemChange]:
    """What changed between two versions of a submission, item by item (matched by normalised name)."""
    codes = {s.id: s.code for s in list_funding_sources(session=session, cycle_id=cycle_id)}

    def load(version_id: int) -> dict[str, tuple[str, dict[str, int | None]]]:
        return {
            unit_name_key(item.name): (item.name, {codes[k]: v for k, v in amounts.items()})
            for item, amounts in list_submission_items(session=session, version_id=version_id)
        }

    before, after = load(older_id), load(newer_id)
    changes = [
        ItemChange(name=after[k][0], change="added", amounts_after=after[k][1])
        for k in after
        if k not in before
    ]
    changes += [
        ItemChange(name=before[k][0], change="removed", amounts_before=before[k][1])
        for k in before
        if k not in after
    ]
    changes += [
        ItemChange(name=after[k][0], change="changed", amounts_before=before[k][1], amounts_after=after[k][1])
        for k in after
        if k in before and before[k][1] != after[k][1]
    ]
    return changes


def changes_since_previous(*, session: Session, year: int, unit_code: str) -> list[ItemChange]:
    """Changes between the unit's two latest versions (empty when it has sent only one)."""
    cycle, _unit, submission = _load(session, year, unit_code)
    versions = list_versions(session=session, submission_id=submission.id)  # type: ignore[arg-type]
    if len(versions) < 2:
        return []
    return version_changes(
        session=session, cycle_id=cycle.id, older_id=versions[1].id, newer_id=versions[0].id
    )  # type: ignore[arg-type]
