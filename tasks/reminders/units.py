"""Urging units (đôn đốc): which reminders are due today for every open submission request, and the
coordinator's daily digest. The rules themselves are in tasks/reminders/schedule.py (docs/reminders.md).

What was sent is read back from the notification log, whose keys are
``remind:sub:<submission id>:<deadline>:<step>`` (+ ``:<contact>:<channel>``), so a step goes out once
whatever happens to the job; stale steps are written to the log as ``skipped`` and never sent later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from models import NotificationLog, PlanningCycle, ReminderPolicy, Submission, Unit
from models.base import ContactRole, DeliveryStatus, RequestKind, SubmissionStatus
from models.registry import list_unit_contacts, list_unit_recipients
from plancycle.settings import Settings
from tasks.common.calendar import WorkingCalendar
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import contact_messages, unit_context
from tasks.reminders.schedule import (
    RecipientKind,
    ReminderDecision,
    ReminderSchedule,
    due_reminders,
    reminder_state,
)
from tasks.submissions.status import status_rows
from templates import load_yaml

SETTLED = {DeliveryStatus.sent, DeliveryStatus.failed_permanent, DeliveryStatus.skipped}
OPEN_STATUSES = (SubmissionStatus.requested, SubmissionStatus.returned)


class ReminderRow(BaseModel):
    unit_code: str
    unit_name: str
    deadline: date
    step: str
    template: str
    working_days_left: int
    working_days_overdue: int
    skipped: list[str]


class UrgingPlan(BaseModel):
    messages: list[Message]
    rows: list[ReminderRow]


def _prefix(submission_id: int) -> str:
    return f"remind:sub:{submission_id}:"


def settled_steps(*, session: Session, prefix: str) -> set[str]:
    """Step keys (``<deadline>:<step>``) under a request's key ``prefix`` that were sent, failed for good
    or skipped: what ``due_reminders`` must not send again. Shared by every kind of request."""
    keys = session.exec(
        select(NotificationLog.idempotency_key).where(
            col(NotificationLog.idempotency_key).startswith(prefix), col(NotificationLog.status).in_(SETTLED)
        )
    ).all()
    return {":".join(key[len(prefix) :].split(":")[:2]) for key in keys}


def steps_already_settled(*, session: Session, submission_id: int) -> set[str]:
    """Step keys of this submission request that were sent, failed for good or skipped."""
    return settled_steps(session=session, prefix=_prefix(submission_id))


def record_skipped_steps(
    *, session: Session, prefix: str, step_keys: tuple[str, ...], unit_id: int | None, cycle_id: int | None
) -> None:
    """Write stale steps to the log as ``skipped`` (once each), so they are never sent later."""
    for step_key in step_keys:
        key = f"{prefix}{step_key}:skipped"
        if session.exec(select(NotificationLog.id).where(NotificationLog.idempotency_key == key)).first():
            continue
        session.add(
            NotificationLog(
                idempotency_key=key,
                template="reminder",
                channel="none",
                recipient="",
                unit_id=unit_id,
                cycle_id=cycle_id,
                status=DeliveryStatus.skipped,
                error="stale: a later reminder step was due",
            )
        )


def reminder_schedule(
    *, session: Session, cycle: PlanningCycle, kind: RequestKind, settings: Settings
) -> ReminderSchedule:
    """The cycle's reminder policy for ``kind`` of request, or the defaults."""
    policy = session.exec(
        select(ReminderPolicy).where(ReminderPolicy.cycle_id == cycle.id, ReminderPolicy.request_kind == kind)
    ).first()
    return ReminderSchedule.from_policy(policy) if policy else ReminderSchedule(timezone=settings.timezone)


def coordinators(session: Session, cycle: PlanningCycle) -> list[Any]:
    """The coordinating unit's coordinators: whom escalations go to."""
    if cycle.coordinating_unit_id is None:
        return []
    return list_unit_contacts(
        session=session, unit_id=cycle.coordinating_unit_id, roles=[ContactRole.coordinator]
    )


def reminder_recipients(
    *, session: Session, unit: Unit, recipients: RecipientKind, escalate_to: list[Any]
) -> list[Any]:
    """Whom a reminder step about ``unit`` goes to: the unit's recipients (its officers) for an ``officer``
    step, else its heads and ``escalate_to`` (the coordinators)."""
    assert unit.id is not None
    if recipients == RecipientKind.officer:
        return list_unit_recipients(session=session, unit_id=unit.id)
    return list_unit_contacts(session=session, unit_id=unit.id, roles=[ContactRole.head]) + escalate_to


def add_unit_reminders(
    plan: UrgingPlan,
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    prefix: str,
    decisions: list[ReminderDecision],
    escalate_to: list[Any],
    shared: dict[str, Any],
    template: Callable[[ReminderDecision], str],
    extra: Callable[[ReminderDecision], dict[str, Any]],
    step_prefix: str = "",
) -> None:
    """Add to ``plan`` the messages and rows of the reminder ``decisions`` due for one request of ``unit``
    (its log keys under ``prefix``), logging their stale steps as skipped. Each message's context is
    ``shared``, the step's deadline and day counts, then ``extra(decision)``; ``template(decision)`` names
    its template and ``step_prefix`` leads its row's step."""
    for decision in decisions:
        record_skipped_steps(
            session=session, prefix=prefix, step_keys=decision.skipped, unit_id=unit.id, cycle_id=cycle.id
        )
        contacts = reminder_recipients(
            session=session, unit=unit, recipients=decision.recipients, escalate_to=escalate_to
        )
        context = (
            shared
            | {
                "deadline": decision.effective_deadline,
                "days_left": decision.working_days_left,
                "days_overdue": decision.working_days_overdue,
            }
            | extra(decision)
        )
        plan.messages.extend(
            contact_messages(
                contacts=contacts,
                template=template(decision),
                key=f"{prefix}{decision.key}",
                cycle=cycle,
                unit=unit,
                context=context,
            )
        )
        plan.rows.append(
            ReminderRow(
                unit_code=unit.code,
                unit_name=unit.name,
                deadline=decision.effective_deadline,
                step=f"{step_prefix}{decision.step}",
                template=decision.template.value,
                working_days_left=decision.working_days_left,
                working_days_overdue=decision.working_days_overdue,
                skipped=list(decision.skipped),
            )
        )


def plan_submission_reminders(
    *, session: Session, cycle: PlanningCycle, as_of: date | datetime, settings: Settings
) -> UrgingPlan:
    """Messages due now for every open submission request of the cycle; stale steps are logged as skipped
    in the caller's transaction."""
    calendar = WorkingCalendar.from_session(session)
    schedule = reminder_schedule(session=session, cycle=cycle, kind=RequestKind.submission, settings=settings)
    escalate_to = coordinators(session, cycle)
    requests = session.exec(
        select(Submission, Unit)
        .join(Unit, col(Unit.id) == Submission.unit_id)
        .where(Submission.cycle_id == cycle.id, col(Submission.status).in_(OPEN_STATUSES))
        .order_by(col(Unit.code))
    ).all()
    plan = UrgingPlan(messages=[], rows=[])
    for submission, unit in requests:
        deadline = submission.deadline or cycle.submission_deadline
        if deadline is None:
            continue
        decisions = due_reminders(
            deadline=deadline,
            as_of=as_of,
            policy=schedule,
            calendar=calendar,
            already_sent=steps_already_settled(session=session, submission_id=submission.id),  # type: ignore[arg-type]
            state=reminder_state(submission.status),
            not_before=cycle.opens_on,
        )
        if not decisions:
            continue
        officers = list_unit_contacts(session=session, unit_id=unit.id, roles=[ContactRole.officer])  # type: ignore[arg-type]
        shared = unit_context(session=session, unit=unit, cycle=cycle, settings=settings)
        officer_name = officers[0].full_name if officers else None
        add_unit_reminders(
            plan,
            session=session,
            cycle=cycle,
            unit=unit,
            prefix=_prefix(submission.id),  # type: ignore[arg-type]
            decisions=decisions,
            escalate_to=escalate_to,
            shared=shared,
            template=lambda decision: decision.template.value,
            extra=lambda decision, officer_name=officer_name: {"officer_name": officer_name},
        )
    session.flush()
    return plan


def digest_messages(
    *, session: Session, cycle: PlanningCycle, day: date, failed_deliveries: int, settings: Settings
) -> tuple[list[Message], dict[str, Any]]:
    """The coordinator's daily digest (one per coordinator per day) and the figures it shows."""
    rows = status_rows(session=session, cycle=cycle, as_of=day)
    counts = {
        "submitted": sum(r.status in ("submitted", "accepted") for r in rows),
        "awaiting": sum(r.status == "requested" and not r.days_late and not r.invalid_attempts for r in rows),
        "overdue": sum(r.status in OPEN_STATUSES and bool(r.days_late) for r in rows),
        "invalid": sum(
            r.status == "requested" and r.version is None and r.invalid_attempts > 0 for r in rows
        ),
        "returned": sum(r.status == "returned" for r in rows),
    }
    late = load_yaml("reports/reminders.vi.yaml")["overdue_unit"]
    overdue = [
        late.format(name=r.unit_name, days=r.days_late)
        for r in rows
        if r.status in OPEN_STATUSES and r.days_late
    ]
    context = {
        "cycle": {"title": cycle.title, "year": cycle.year},
        "day": day,
        "counts": counts,
        "overdue_units": overdue,
        "failed_deliveries": failed_deliveries,
        "link": settings.resolved_public_base_url,
    }
    messages = contact_messages(
        contacts=coordinators(session, cycle),
        template="coordinator_digest",
        key=f"digest:{cycle.year}:{day.isoformat()}",
        cycle=cycle,
        context=context,
    )
    return messages, context
