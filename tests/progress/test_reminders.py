"""Progress-report reminders through the reminder policy: before, on and after the deadline for a unit
that has not reported, escalation to the head and the coordinator, nothing for a unit that has."""

from __future__ import annotations

from datetime import date

import pytest

from models import ReminderPolicy
from plancycle.settings import get_settings
from tasks.notify.delivery import send_batch
from tasks.progress.intake import ingest_progress_report
from tasks.reminders.progress import plan_progress_reminders
from tests.progress.conftest import ProgressWorld, filled_report


def _plan(world: ProgressWorld, day: date):  # type: ignore[no-untyped-def]
    plan = plan_progress_reminders(
        session=world.session, cycle=world.cycle, as_of=day, settings=get_settings()
    )
    world.session.commit()
    return plan


@pytest.mark.parametrize(
    ("day", "template", "step", "context_key", "value"),
    [
        (date(2027, 3, 12), "progress_report_requested", "before-3", "days_left", 3),
        (date(2027, 3, 17), "progress_report_requested", "due", "days_left", 0),
        (date(2027, 3, 22), "progress_report_overdue", "overdue-1", "days_overdue", 3),
    ],
)
def test_reminders_before_at_and_after_the_deadline(
    progress_world: ProgressWorld, day: date, template: str, step: str, context_key: str, value: int
) -> None:
    world = progress_world
    reports = world.request_q1()
    result = ingest_progress_report(
        session=world.session,
        filename="stc.xlsx",
        content=filled_report(world, reports["STC"], rows=[{"status": "Đang triển khai", "percent": 30}]),
        channel="cli",
        as_of=date(2027, 3, 10),
        actor="test",
    )
    assert result.accepted
    plan = _plan(world, day)
    units = sorted(row.unit_code for row in plan.rows)
    assert units == ["SNV", "SYT"]  # STC has reported
    assert {m.template for m in plan.messages} == {template}
    assert all(row.step == f"Quý I/2027: {step}" for row in plan.rows)
    assert all(
        m.context[context_key] == value and m.context["period_label"] == "Quý I/2027" for m in plan.messages
    )
    assert all(
        m.key.startswith(f"remind:prog:{reports[m_code].id}:")
        for m_code, m in zip(units, plan.messages, strict=True)
    )
    sent = send_batch(plan.messages, settings=get_settings(), as_of=day)
    assert sent.sent_now == len(plan.messages) and not sent.failed
    assert _plan(world, day).messages == []  # once per step


def test_escalation_to_head_and_coordinator_and_policy(progress_world: ProgressWorld) -> None:
    world = progress_world
    world.session.add(
        ReminderPolicy(
            cycle_id=world.cycle.id,  # type: ignore[arg-type]
            request_kind="progress_report",
            before_working_days=[2],
            escalate_after_working_days=2,
        )
    )
    world.session.commit()
    world.request_q1()
    before = _plan(world, date(2027, 3, 15))  # 2 working days before 17/3 (the policy says 2)
    assert {row.step.split(": ")[1] for row in before.rows} == {"before-2"}
    escalation = _plan(world, date(2027, 3, 19))  # 2 working days overdue
    escalated = [m for m in escalation.messages if m.context["escalation"]]
    recipients = {m.contact_id for m in escalated}
    assert escalated and all(m.template == "progress_report_overdue" for m in escalated)
    assert len(recipients) == 2  # the health head and the coordinator (SNV and STC have no head)
    rendered = send_batch(escalation.messages, settings=get_settings(), as_of=date(2027, 3, 19))
    assert not rendered.failed
