"""Prefect steps of the `send-reminders` flow, around the plain reminder rules of ``tasks/reminders/``:
each task works out what is due now in one transaction (stale steps recorded as skipped) and returns the
messages for ``tasks.notify.steps.deliver``, which sends each key once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from models.db import session_scope
from plancycle.settings import get_settings
from tasks.approval.steps import prefect_ui_url
from tasks.artifacts import publish_markdown
from tasks.common.calendar import WorkingCalendar
from tasks.notify.delivery import Message
from tasks.reminders.approvers import plan_approval_reminders
from tasks.reminders.units import ReminderRow, digest_messages, plan_submission_reminders
from tasks.submissions.cycles import require_cycle
from templates import load_yaml


@task(name="xác định việc nhắc hạn", cache_policy=NO_CACHE)
def plan_reminders(year: int, moment: date | datetime) -> tuple[list[Message], list[ReminderRow]]:
    """Which reminder each open request is due now; stale steps are recorded as skipped."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        plan = plan_submission_reminders(session=session, cycle=cycle, as_of=moment, settings=get_settings())
    return plan.messages, plan.rows


@task(name="nhắc người phê duyệt", cache_policy=NO_CACHE)
def plan_approver_reminders(moment: date | datetime) -> list[Message]:
    """Reminders due now to the approvers of the stages a circulating plan is waiting for."""
    with session_scope() as session:
        messages, _rows = plan_approval_reminders(
            session=session, as_of=moment, settings=get_settings(), ui_url=prefect_ui_url()
        )
    return messages


@task(name="lập bản tin cho cơ quan tổng hợp", cache_policy=NO_CACHE)
def plan_digest(year: int, day: date, failed_deliveries: int) -> tuple[list[Message], dict[str, Any]]:
    """The coordinator's digest of the day and its figures; nothing on a day off."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        if not WorkingCalendar.from_session(session).is_working_day(day):
            return [], {}
        return digest_messages(
            session=session,
            cycle=cycle,
            day=day,
            failed_deliveries=failed_deliveries,
            settings=get_settings(),
        )


def publish_reminders(year: int, day: date, rows: list[ReminderRow], figures: dict[str, Any]) -> None:
    """The run's artifacts: the reminders sent (table) and the digest (Markdown), when there are any."""
    words = load_yaml("reports/reminders.vi.yaml")["artifacts"]
    if rows:
        create_table_artifact(
            table=[r.model_dump(mode="json") for r in rows],
            key=f"reminders-{year}",
            description=words["reminders"].format(day=day),
        )
    if figures:
        publish_markdown(
            "reports/digest.md.j2",
            key=f"digest-{year}",
            description=words["digest"].format(day=day),
            figures=figures,
            rows=rows,
        )
