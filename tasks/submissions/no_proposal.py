"""A unit's declaration that it has nothing to propose this year (không có đề xuất).

Declared on the portal with a confirmation, the officer's name and a reason. It answers the request: the
submission's status becomes ``no_proposal``, its ``answered_on`` is the business date, and whether that
was on time is judged against the request's deadline. Reminders stop (they only chase open requests),
the status table shows it. A workbook uploaded up to the deadline withdraws the declaration
(``tasks/submissions/intake.py``); after the deadline the declaration stands.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlmodel import Session, select

from models.audit import record_audit
from models.base import SubmissionStatus, utcnow
from models.cycle import PlanningCycle
from models.registry import Unit
from models.submissions import Submission
from tasks.common.text import clean
from tasks.errors import PlancycleError

DECLARABLE = (SubmissionStatus.requested, SubmissionStatus.returned)


class NoProposalError(PlancycleError):
    catalog = "no_proposal"


class NoProposalDeclared(BaseModel):
    submission_id: int
    on_time: bool
    answered_on: date


def declare_no_proposal(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    confirmed: bool,
    officer_name: str,
    reason: str,
    as_of: date,
    actor: str,
) -> NoProposalDeclared:
    """Record the declaration in one transaction (the caller commits); ``NoProposalError`` says what is
    missing or why the request cannot take it (already submitted, accepted or exempted)."""
    officer, why = clean(officer_name or ""), clean(reason or "")
    if not confirmed:
        raise NoProposalError("not_confirmed")
    if not officer or len(officer) > 160:
        raise NoProposalError("officer_required")
    if not why or len(why) > 1000:
        raise NoProposalError("reason_required")
    submission = session.exec(
        select(Submission)
        .where(Submission.cycle_id == cycle.id, Submission.unit_id == unit.id)
        .with_for_update()
    ).first()
    if submission is None:
        submission = Submission(cycle_id=cycle.id, unit_id=unit.id)  # type: ignore[arg-type]
    elif submission.status not in DECLARABLE:
        from tasks.submissions.status import status_labels

        raise NoProposalError("not_open", status=getattr(status_labels(), f"status_{submission.status}"))
    deadline = submission.deadline or cycle.submission_deadline
    on_time = deadline is None or as_of <= deadline
    previous = submission.status
    submission.status = SubmissionStatus.no_proposal
    submission.no_proposal_by = officer
    submission.no_proposal_reason = why
    submission.answered_on = as_of
    submission.updated_at = utcnow()
    session.add(submission)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="submission.no_proposal",
        subject=submission,
        cycle=cycle,
        details={
            "unit_code": unit.code,
            "officer": officer,
            "reason": why,
            "as_of": as_of.isoformat(),
            "on_time": on_time,
            "previous_status": previous,
        },
    )
    assert submission.id is not None
    return NoProposalDeclared(submission_id=submission.id, on_time=on_time, answered_on=as_of)
