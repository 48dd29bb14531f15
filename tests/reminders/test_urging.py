"""A season walked day by day with ``as_of`` on a real database and outbox: a deadline just after Tết 2027,
a gap without runs, an extension mid-way, escalation, a unit that submits, and re-runs that send nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlmodel import Session, col, select

from models import NotificationLog, Submission
from models.base import DeliveryStatus, SubmissionStatus
from plancycle.settings import get_settings
from tasks.common.calendar import WorkingCalendar
from tasks.notify.delivery import send_batch
from tasks.reminders.units import digest_messages, plan_submission_reminders
from tasks.submissions.review import extend_deadline
from tests.factories import make_contact, make_cycle, make_unit

DEADLINE = date(2027, 2, 17)  # Wednesday after Tết (4–10/2/2027)


def _run_day(session: Session, cycle, day: date) -> int:  # type: ignore[no-untyped-def]
    plan = plan_submission_reminders(session=session, cycle=cycle, as_of=day, settings=get_settings())
    session.commit()
    result = send_batch(plan.messages, settings=get_settings(), as_of=day)
    return result.sent_now


def test_season_across_tet(session: Session) -> None:
    coordinator_unit = make_unit(session, code="SKHCN", name="Sở Khoa học và Công nghệ")
    coordinator = make_contact(session, coordinator_unit, role="coordinator", email="tonghop@example.org")
    cycle = make_cycle(
        session,
        year=2028,
        submission_deadline=DEADLINE,
        opens_on=date(2027, 1, 4),
        coordinating_unit_id=coordinator_unit.id,
    )
    units = {code: make_unit(session, code=code) for code in ("A", "B", "C")}
    officers = {code: make_contact(session, unit) for code, unit in units.items()}
    head_a = make_contact(session, units["A"], role="head", email="giamdoc.a@example.org")
    for unit in units.values():
        session.add(Submission(cycle_id=cycle.id, unit_id=unit.id, deadline=DEADLINE))  # type: ignore[arg-type]
    session.commit()

    calendar = WorkingCalendar.from_session(session)
    sent_on: dict[date, int] = {}
    day = date(2027, 1, 20)
    while day <= date(2027, 3, 12):
        if date(2027, 1, 25) <= day <= date(2027, 2, 3):  # the job did not run for ten days
            day += timedelta(days=1)
            continue
        if day == date(2027, 2, 11):  # B submits; C is granted an extension
            session.exec(
                select(Submission).where(Submission.unit_id == units["B"].id)
            ).one().status = SubmissionStatus.submitted
            extend_deadline(
                session=session,
                year=2028,
                unit_code="C",
                new_deadline=date(2027, 3, 3),
                reason="Đơn vị đề nghị",
                granted_by="giám đốc",
            )
            session.commit()
        sent_on[day] = _run_day(session, cycle, day)
        assert _run_day(session, cycle, day) == 0, f"re-running {day} sent something"
        day += timedelta(days=1)

    # nothing on weekends, Tết or other days off
    assert all(count == 0 for d, count in sent_on.items() if not calendar.is_working_day(d))

    logs = session.exec(
        select(NotificationLog).where(col(NotificationLog.status) == DeliveryStatus.sent)
    ).all()
    steps: dict[int, list[str]] = defaultdict(list)
    for log in logs:
        steps[log.contact_id].append(log.idempotency_key.split(":")[4])  # type: ignore[index]
    keys = [":".join(log.idempotency_key.split(":")[2:5]) + f":{log.contact_id}" for log in logs]
    assert len(keys) == len(set(keys))  # each (request, deadline, step) at most once per contact

    a_steps = steps[officers["A"].id]  # type: ignore[index]
    # before-7 (1/2) was missed during the gap and Tết: caught up once on 11/2; then before-3, before-1, due…
    assert a_steps[:4] == ["before-7", "before-3", "before-1", "due"]
    assert "overdue-1" in a_steps and "overdue-2" in a_steps
    assert steps[head_a.id] == ["escalate-1"] and steps[coordinator.id].count("escalate-1") >= 1  # type: ignore[index]
    skipped = session.exec(
        select(NotificationLog).where(col(NotificationLog.status) == DeliveryStatus.skipped)
    ).all()
    assert skipped == []  # the gap lost no step that was still true to send (before-7 went late, once)

    b_keys = [log.idempotency_key for log in logs if log.contact_id == officers["B"].id]
    assert all(":before-7" in k for k in b_keys), b_keys  # B submitted on 11/2: no reminder after that

    c_keys = [log.idempotency_key for log in logs if log.contact_id == officers["C"].id]
    assert any("2027-03-03:due" in k for k in c_keys), c_keys  # the schedule follows the new deadline
    assert not any("2027-02-17:due" in k or "2027-02-17:overdue" in k for k in c_keys)

    messages, figures = digest_messages(
        session=session, cycle=cycle, day=date(2027, 3, 12), failed_deliveries=0, settings=get_settings()
    )
    assert [m.contact_id for m in messages] == [coordinator.id]
    assert figures["counts"]["overdue"] == 2 and figures["counts"]["submitted"] == 1
