"""Reminders to approvers (đôn đốc cho ý kiến): while a plan is out for approval, the approvers of the
stages now waiting are reminded about their stage's deadline, with the same rules as units' deadlines
(tasks/reminders/schedule.py: before, on the day, overdue; quiet hours and days off), from the cycle's
reminder policy for ``approval`` (defaults otherwise). Escalation goes to the coordinators, who follow up in
person: an approver has no "head" to tell.

Which stages wait: the circulation is the one started last (audit ``approval.circulation_started``);
a stage is done once it recorded a decision in that circulation; the waiting stages are the not-done
stages of the first sequence (parallel group) that has any. Message keys are
``remind:appr:<stage id>:<circulation entry id>:<deadline>:<step>`` (+ contact and channel), so a step
goes out once per circulation whatever happens to the job.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from models import ApprovalDecision, ApprovalStage, AuditEntry, Contact, PlanningCycle
from models.base import CycleStatus, RequestKind
from models.items import PlanVersion
from plancycle.settings import Settings
from tasks.approval.access import DEFAULT_WAIT_DAYS, approver_url, issue_approver_token, link_expiry
from tasks.approval.chain import list_stages, stage_approvers, stage_groups
from tasks.approval.decisions import circulation_entries
from tasks.approval.suspension import run_url
from tasks.approval.versions import latest_version
from tasks.common.calendar import WorkingCalendar
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import contact_messages
from tasks.reminders.schedule import due_reminders
from tasks.reminders.units import coordinators, record_skipped_steps, reminder_schedule, settled_steps


class ApprovalReminderRow(BaseModel):
    year: int
    stage_code: str
    stage_name: str
    deadline: date
    step: str
    working_days_left: int
    working_days_overdue: int
    recipients: int


def waiting_stages(
    *, session: Session, cycle: PlanningCycle
) -> tuple[AuditEntry | None, list[ApprovalStage]]:
    """The current circulation's start entry and the stages whose decision it is waiting for now."""
    if cycle.status != CycleStatus.circulating:
        return None, []
    circulations = circulation_entries(session=session, cycle=cycle)
    if not circulations:
        return None, []
    started = circulations[-1]
    decided = set(
        session.exec(
            select(ApprovalDecision.stage_id).where(
                col(ApprovalDecision.decided_at) >= started.at,
                col(ApprovalDecision.stage_id).in_(
                    select(ApprovalStage.id).where(ApprovalStage.cycle_id == cycle.id)
                ),
            )
        )
    )
    for group in stage_groups(list_stages(session=session, cycle=cycle)):
        pending = [stage for stage in group if stage.id not in decided]
        if pending:
            return started, pending
    return started, []


def approver_link(
    cycle: PlanningCycle,
    stage: ApprovalStage,
    version: PlanVersion | None,
    contact: Contact,
    started: AuditEntry,
    settings: Settings,
) -> str:
    """The approver's page for the version the stage is asked about, valid as long as the page the
    approval email linked to (the run's default wait from the circulation's start)."""
    number = version.number if version else int((started.details or {}).get("version") or 1)
    token = issue_approver_token(
        cycle=cycle,
        stage=stage,
        version_number=number,
        contact=contact,
        expires=link_expiry(started.at.date(), DEFAULT_WAIT_DAYS),
        settings=settings,
    )
    return approver_url(token, settings)


def plan_approval_reminders(
    *, session: Session, as_of: date | datetime, settings: Settings, ui_url: str = ""
) -> tuple[list[Message], list[ApprovalReminderRow]]:
    """Messages due now to the approvers of every stage waiting for a decision, in every cycle whose plan
    is out for approval, linking to the waiting run in the Prefect UI at ``ui_url``. Stale steps are logged
    as skipped in the caller's transaction, so they are never sent later."""
    calendar = WorkingCalendar.from_session(session)
    messages: list[Message] = []
    rows: list[ApprovalReminderRow] = []
    cycles = session.exec(
        select(PlanningCycle)
        .where(PlanningCycle.status == CycleStatus.circulating)
        .order_by(PlanningCycle.year)
    ).all()
    for cycle in cycles:
        started, stages = waiting_stages(session=session, cycle=cycle)
        if started is None:
            continue
        schedule = reminder_schedule(
            session=session, cycle=cycle, kind=RequestKind.approval, settings=settings
        )
        link = run_url((started.details or {}).get("flow_run_id"), ui_url)
        asked = latest_version(session=session, cycle=cycle)  # the version the waiting stages see
        version = (started.details or {}).get("version")
        for stage in stages:
            deadline = stage.deadline or cycle.approval_deadline
            if deadline is None:
                continue
            prefix = f"remind:appr:{stage.id}:{started.id}:"
            decisions = due_reminders(
                deadline=deadline,
                as_of=as_of,
                policy=schedule,
                calendar=calendar,
                already_sent=settled_steps(session=session, prefix=prefix),
                not_before=started.at.date(),
            )
            for decision in decisions:
                record_skipped_steps(
                    session=session,
                    prefix=prefix,
                    step_keys=decision.skipped,
                    unit_id=None,
                    cycle_id=cycle.id,
                )
                officers = decision.recipients == "officer"
                contacts = (
                    stage_approvers(session=session, stage=stage)
                    if officers
                    else coordinators(session, cycle)
                )
                context = {
                    "cycle": {"title": cycle.title, "year": cycle.year},
                    "plan_title": cycle.title,
                    "stage_name": stage.name,
                    "due": decision.effective_deadline,
                    "days_left": decision.working_days_left,
                    "days_overdue": decision.working_days_overdue,
                    "version": version,
                    "link": link,
                }
                for contact in contacts:  # an approver is reminded with the link to their own page
                    page = (
                        approver_link(cycle, stage, asked, contact, started, settings) if officers else link
                    )
                    messages += contact_messages(
                        contacts=[contact],
                        template="approval_reminder",
                        key=f"{prefix}{decision.key}",
                        cycle=cycle,
                        context=context | {"link": page},
                    )
                rows.append(
                    ApprovalReminderRow(
                        year=cycle.year,
                        stage_code=stage.code,
                        stage_name=stage.name,
                        deadline=decision.effective_deadline,
                        step=decision.step,
                        working_days_left=decision.working_days_left,
                        working_days_overdue=decision.working_days_overdue,
                        recipients=len(contacts),
                    )
                )
    return messages, rows
