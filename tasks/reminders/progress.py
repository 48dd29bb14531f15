"""Urging units about their progress reports: the reminder rules of `tasks.reminders.schedule` with the
cycle's ``progress_report`` policy, for every report still owed (docs/progress-reports.md).

What was sent is read back from the notification log, whose keys are
``remind:prog:<report id>:<deadline>:<step>``; stale steps are logged as ``skipped`` and never sent later.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from models import PlanningCycle, Unit
from models.base import RequestKind
from models.progress import ProgressReport, ReportingPeriod
from plancycle.settings import Settings
from tasks.common.calendar import WorkingCalendar
from tasks.notify.unit_messages import unit_context
from tasks.progress.calendar import request_day
from tasks.progress.requests import OPEN_STATUSES, reporting_cycles
from tasks.reminders.schedule import due_reminders, reminder_state
from tasks.reminders.units import (
    UrgingPlan,
    add_unit_reminders,
    coordinators,
    reminder_schedule,
    settled_steps,
)


def _prefix(report_id: int) -> str:
    return f"remind:prog:{report_id}:"


def plan_progress_reminders(
    *, session: Session, cycle: PlanningCycle, as_of: date | datetime, settings: Settings
) -> UrgingPlan:
    """Reminders due now for every progress report of the cycle still owed; stale steps are logged as
    skipped in the caller's transaction. Before and on the deadline the unit gets the request again
    (``progress_report_requested`` with ``days_left``); after it ``progress_report_overdue``; the
    escalation goes to the unit head and the coordinator with the same overdue text."""
    calendar = WorkingCalendar.from_session(session)
    schedule = reminder_schedule(
        session=session, cycle=cycle, kind=RequestKind.progress_report, settings=settings
    )
    escalate_to = coordinators(session, cycle)
    rows = session.exec(
        select(ProgressReport, ReportingPeriod, Unit)
        .join(ReportingPeriod, col(ReportingPeriod.id) == ProgressReport.period_id)
        .join(Unit, col(Unit.id) == ProgressReport.unit_id)
        .where(ReportingPeriod.cycle_id == cycle.id, col(ProgressReport.status).in_(OPEN_STATUSES))
        .order_by(col(ReportingPeriod.ends_on), col(Unit.code))
    ).all()
    plan = UrgingPlan(messages=[], rows=[])
    for report, period, unit in rows:
        deadline = report.deadline or period.deadline
        decisions = due_reminders(
            deadline=deadline,
            as_of=as_of,
            policy=schedule,
            calendar=calendar,
            already_sent=settled_steps(session=session, prefix=_prefix(report.id)),  # type: ignore[arg-type]
            state=reminder_state(report.status),
            not_before=request_day(period, calendar),
        )
        if not decisions:
            continue
        shared = unit_context(session=session, unit=unit, cycle=cycle, settings=settings) | {
            "period_label": period.label
        }
        add_unit_reminders(
            plan,
            session=session,
            cycle=cycle,
            unit=unit,
            prefix=_prefix(report.id),  # type: ignore[arg-type]
            decisions=decisions,
            escalate_to=escalate_to,
            shared=shared,
            template=lambda decision: (
                "progress_report_overdue"
                if decision.working_days_overdue > 0
                else "progress_report_requested"
            ),
            extra=lambda decision: {"reminder": True, "escalation": decision.template.value == "escalation"},
            step_prefix=f"{period.label}: ",
        )
    session.flush()
    return plan


def plan_all_progress_reminders(
    *, session: Session, as_of: date | datetime, settings: Settings
) -> UrgingPlan:
    """`plan_progress_reminders` for every cycle being implemented, in cycle order."""
    plan = UrgingPlan(messages=[], rows=[])
    for cycle in reporting_cycles(session=session, year=None):
        cycle_plan = plan_progress_reminders(session=session, cycle=cycle, as_of=as_of, settings=settings)
        plan.messages += cycle_plan.messages
        plan.rows += cycle_plan.rows
    return plan
