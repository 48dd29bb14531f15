"""Which reminder goes out when: a season walked day by day across Tết 2027, catch-up after a gap,
extensions, escalation, idempotency, closed requests, quiet hours and days off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.cycle import ReminderPolicy
from tasks.common.calendar import WorkingCalendar
from tasks.reminders.schedule import (
    RecipientKind,
    ReminderDecision,
    ReminderSchedule,
    ReminderState,
    ReminderTemplate,
    due_reminders,
    reminder_plan,
    reminder_state,
)

CALENDAR = WorkingCalendar()
POLICY = ReminderSchedule()
AFTER_TET = date(2027, 2, 17)  # Wednesday, the first week back after Tết Đinh Mùi (4–10/2/2027)


def run(
    deadline: date,
    as_of: date | datetime,
    sent: set[str],
    *,
    policy: ReminderSchedule = POLICY,
    state: ReminderState = ReminderState.open,
    not_before: date | None = None,
) -> list[ReminderDecision]:
    """One run of the reminder job: decide, then record what was sent and what was skipped."""
    decisions = due_reminders(
        deadline=deadline,
        as_of=as_of,
        policy=policy,
        calendar=CALENDAR,
        already_sent=sent,
        state=state,
        not_before=not_before,
    )
    for decision in decisions:
        sent.add(decision.key)
        sent.update(decision.skipped)
    return decisions


def walk(
    deadline: date,
    start: date,
    end: date,
    sent: set[str] | None = None,
    *,
    policy: ReminderSchedule = POLICY,
    state: ReminderState = ReminderState.open,
    not_before: date | None = None,
) -> list[tuple[date, str]]:
    """Run the job every calendar day from start to end; what went out, in order."""
    sent = set() if sent is None else sent
    out: list[tuple[date, str]] = []
    day = start
    while day <= end:
        decisions = run(deadline, day, sent, policy=policy, state=state, not_before=not_before)
        out += [(day, d.key) for d in decisions]
        day += timedelta(days=1)
    return out


# ------------------------------------------------------------------ the plan


def test_plan_for_a_deadline_just_after_tet_skips_the_holidays() -> None:
    plan = reminder_plan(AFTER_TET, POLICY, CALENDAR)

    assert [(s.step, s.trigger_on, s.template, s.recipients) for s in plan] == [
        ("before-7", date(2027, 2, 1), ReminderTemplate.due_soon, RecipientKind.officer),
        ("before-3", date(2027, 2, 12), ReminderTemplate.due_soon, RecipientKind.officer),
        ("before-1", date(2027, 2, 16), ReminderTemplate.due_soon, RecipientKind.officer),
        ("due", date(2027, 2, 17), ReminderTemplate.due_today, RecipientKind.officer),
        ("overdue-1", date(2027, 2, 22), ReminderTemplate.overdue, RecipientKind.officer),
        ("escalate-1", date(2027, 2, 24), ReminderTemplate.escalation, RecipientKind.head_and_coordinator),
        ("overdue-2", date(2027, 2, 25), ReminderTemplate.overdue, RecipientKind.officer),
        ("overdue-3", date(2027, 3, 2), ReminderTemplate.overdue, RecipientKind.officer),
    ]
    assert plan[0].key == "2027-02-17:before-7"
    assert all(CALENDAR.is_working_day(s.trigger_on) for s in plan)


def test_plan_respects_caps_and_switches() -> None:
    policy = ReminderSchedule(
        before_working_days=(1, 3, 3),
        on_due_day=False,
        max_overdue_reminders=1,
        escalate_after_working_days=None,
    )
    assert [s.step for s in reminder_plan(AFTER_TET, policy, CALENDAR, overdue_steps=5)] == [
        "before-3",
        "before-1",
        "overdue-1",
    ]


# ------------------------------------------------------------------ the season, day by day


def test_season_walked_day_by_day_across_tet() -> None:
    sent: set[str] = set()
    out = walk(AFTER_TET, date(2027, 1, 15), date(2027, 3, 10), sent)

    assert out == [
        (date(2027, 2, 1), "2027-02-17:before-7"),
        (date(2027, 2, 12), "2027-02-17:before-3"),
        (date(2027, 2, 16), "2027-02-17:before-1"),
        (date(2027, 2, 17), "2027-02-17:due"),
        (date(2027, 2, 22), "2027-02-17:overdue-1"),
        (date(2027, 2, 24), "2027-02-17:escalate-1"),
        (date(2027, 2, 25), "2027-02-17:overdue-2"),
        (date(2027, 3, 2), "2027-02-17:overdue-3"),
        (date(2027, 3, 5), "2027-02-17:overdue-4"),
        (date(2027, 3, 10), "2027-02-17:overdue-5"),
    ]
    assert not any(date(2027, 2, 4) <= day <= date(2027, 2, 10) for day, _ in out)


def test_figures_in_the_messages() -> None:
    sent: set[str] = set()
    (before_3,) = run(AFTER_TET, date(2027, 2, 12), sent)
    assert (before_3.working_days_left, before_3.working_days_overdue) == (3, 0)
    (due,) = run(AFTER_TET, date(2027, 2, 17), sent)
    assert (due.template, due.working_days_left, due.working_days_overdue) == (
        ReminderTemplate.due_today,
        0,
        0,
    )
    (overdue,) = run(AFTER_TET, date(2027, 2, 22), sent)
    assert (overdue.working_days_left, overdue.working_days_overdue) == (0, 3)
    assert overdue.recipients.roles == ("officer",)


def test_rerunning_the_same_day_sends_nothing_new() -> None:
    sent: set[str] = set()
    assert len(run(AFTER_TET, date(2027, 2, 12), sent)) == 1
    assert run(AFTER_TET, date(2027, 2, 12), sent) == []
    assert run(AFTER_TET, datetime(2027, 2, 12, 15, 0), sent) == []


# ------------------------------------------------------------------ catch-up


def test_gap_sends_the_latest_passed_step_once() -> None:
    sent = {"2027-02-17:before-7"}
    # No run between 1/2 and 15/2 (Tết, and the job was down): before-3 (12/2) was missed.
    (decision,) = run(AFTER_TET, date(2027, 2, 15), sent)
    assert decision.step == "before-3"
    assert decision.working_days_left == 2  # the message tells the real figure, not the step's
    assert decision.skipped == ()
    # The next day's own step still goes: one message per run, never a burst.
    assert [d.step for d in run(AFTER_TET, date(2027, 2, 16), sent)] == ["before-1"]


def test_long_gap_skips_stale_steps_for_good() -> None:
    sent: set[str] = set()
    (decision,) = run(AFTER_TET, date(2027, 2, 16), sent)  # first run ever: before-7 and before-3 missed
    assert decision.step == "before-1"
    assert decision.skipped == ("2027-02-17:before-7", "2027-02-17:before-3")
    out = walk(AFTER_TET, date(2027, 2, 17), date(2027, 2, 28), sent)
    assert [key for _, key in out] == [
        "2027-02-17:due",
        "2027-02-17:overdue-1",
        "2027-02-17:escalate-1",
        "2027-02-17:overdue-2",
    ]


def test_a_missed_due_day_is_not_sent_late() -> None:
    sent = {"2027-02-17:before-7", "2027-02-17:before-3", "2027-02-17:before-1"}
    # The job did not run on 17/2: "due today" would be false on 18/2, so nothing until overdue-1.
    assert run(AFTER_TET, date(2027, 2, 18), sent) == []
    assert run(AFTER_TET, date(2027, 2, 19), sent) == []
    (decision,) = run(AFTER_TET, date(2027, 2, 22), sent)
    assert decision.step == "overdue-1"
    assert decision.skipped == ("2027-02-17:due",)


def test_a_missed_before_step_is_not_sent_on_the_due_day() -> None:
    sent = {"2027-02-17:before-7", "2027-02-17:before-3"}
    (decision,) = run(AFTER_TET, date(2027, 2, 17), sent)
    assert decision.step == "due"
    assert decision.skipped == ("2027-02-17:before-1",)


def test_gap_in_the_overdue_phase_sends_the_latest_overdue_step() -> None:
    sent = {f"2027-02-17:{s}" for s in ("before-7", "before-3", "before-1", "due", "overdue-1")}
    decisions = run(AFTER_TET, date(2027, 3, 3), sent)  # down since 22/2: escalate-1, overdue-2, -3 missed
    assert [(d.step, d.working_days_overdue) for d in decisions] == [("overdue-3", 10), ("escalate-1", 10)]
    assert decisions[0].skipped == ("2027-02-17:overdue-2",)


def test_not_before_makes_earlier_steps_stale() -> None:
    # The request was issued on 12/2: before-7 (1/2) must not greet the unit as a catch-up.
    assert run(AFTER_TET, date(2027, 2, 11), set(), not_before=date(2027, 2, 11)) == []
    assert [d.step for d in run(AFTER_TET, date(2027, 2, 12), set(), not_before=date(2027, 2, 11))] == [
        "before-3"
    ]


# ------------------------------------------------------------------ extension


def test_extension_follows_the_new_deadline_without_repeating_old_keys() -> None:
    old, new = date(2026, 9, 30), date(2026, 10, 9)
    sent: set[str] = set()
    before = walk(old, date(2026, 9, 1), date(2026, 9, 27), sent)
    assert [key for _, key in before] == ["2026-09-30:before-7", "2026-09-30:before-3"]

    # Extension granted on Monday 28/9 (before-1 of the old deadline would be 29/9).
    after = walk(new, date(2026, 9, 28), date(2026, 10, 31), sent, not_before=date(2026, 9, 28))
    assert after[:4] == [
        (date(2026, 9, 30), "2026-10-09:before-7"),
        (date(2026, 10, 6), "2026-10-09:before-3"),
        (date(2026, 10, 8), "2026-10-09:before-1"),
        (date(2026, 10, 9), "2026-10-09:due"),
    ]
    keys = [key for _, key in before + after]
    assert len(keys) == len(set(keys))
    assert not any(key.startswith("2026-09-30") for _, key in after)


def test_late_extension_catches_up_once_or_not_at_all() -> None:
    old, new = date(2026, 9, 30), date(2026, 10, 7)
    sent = {f"2026-09-30:{s}" for s in ("before-7", "before-3", "before-1", "due")}
    # Granted on 1/10 without not_before: the latest passed step of the new schedule goes once.
    (decision,) = run(new, date(2026, 10, 1), set(sent))
    assert (decision.key, decision.working_days_left) == ("2026-10-07:before-7", 4)
    assert decision.skipped == ()
    # With not_before = the day it was granted: silence until the new schedule's next step.
    assert run(new, date(2026, 10, 1), sent, not_before=date(2026, 10, 1)) == []
    assert [d.key for d in run(new, date(2026, 10, 2), sent, not_before=date(2026, 10, 1))] == [
        "2026-10-07:before-3"
    ]
    assert old.isoformat() not in {d.key[:10] for d in run(new, date(2026, 10, 7), sent)}


# ------------------------------------------------------------------ escalation


def test_escalation_goes_to_head_and_coordinator() -> None:
    sent = {f"2027-02-17:{s}" for s in ("before-7", "before-3", "before-1", "due", "overdue-1")}
    (decision,) = run(AFTER_TET, date(2027, 2, 24), sent)
    assert decision.step == "escalate-1"
    assert decision.template is ReminderTemplate.escalation
    assert decision.recipients is RecipientKind.head_and_coordinator
    assert decision.recipients.roles == ("head", "coordinator")
    assert decision.working_days_overdue == 5


def test_escalation_and_overdue_on_the_same_day_both_go() -> None:
    policy = ReminderSchedule(escalate_after_working_days=6)
    sent = {f"2027-02-17:{s}" for s in ("before-7", "before-3", "before-1", "due", "overdue-1")}
    decisions = run(AFTER_TET, date(2027, 2, 25), sent, policy=policy)
    assert [(d.step, d.recipients) for d in decisions] == [
        ("overdue-2", RecipientKind.officer),
        ("escalate-1", RecipientKind.head_and_coordinator),
    ]
    assert run(AFTER_TET, date(2027, 2, 25), sent, policy=policy) == []


def test_escalation_once_by_default_or_repeated() -> None:
    once = walk(AFTER_TET, date(2027, 2, 18), date(2027, 4, 30))
    assert [key for _, key in once if "escalate" in key] == ["2027-02-17:escalate-1"]

    repeated = walk(
        AFTER_TET,
        date(2027, 2, 18),
        date(2027, 3, 10),
        policy=ReminderSchedule(escalate_every_working_days=5),
    )
    assert [(day, key) for day, key in repeated if "escalate" in key] == [
        (date(2027, 2, 24), "2027-02-17:escalate-1"),
        (date(2027, 3, 3), "2027-02-17:escalate-2"),
        (date(2027, 3, 10), "2027-02-17:escalate-3"),
    ]


def test_escalation_disabled_and_overdue_capped() -> None:
    policy = ReminderSchedule(escalate_after_working_days=None, max_overdue_reminders=2)
    out = walk(AFTER_TET, date(2027, 2, 18), date(2027, 4, 30), policy=policy)
    assert [key for _, key in out] == ["2027-02-17:overdue-1", "2027-02-17:overdue-2"]


# ------------------------------------------------------------------ closed requests, quiet hours, days off


@pytest.mark.parametrize("state", [ReminderState.submitted, ReminderState.exempted])
def test_nothing_once_submitted_or_exempted(state: ReminderState) -> None:
    assert walk(AFTER_TET, date(2027, 1, 15), date(2027, 3, 31), state=state) == []


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("requested", ReminderState.open),
        ("returned", ReminderState.open),
        ("submitted", ReminderState.submitted),
        ("accepted", ReminderState.submitted),
        ("exempted", ReminderState.exempted),
    ],
)
def test_state_of_a_submission_status(status: str, state: ReminderState) -> None:
    assert reminder_state(status) is state


@pytest.mark.parametrize(
    ("as_of", "sends"),
    [
        (datetime(2027, 2, 12, 6, 59), False),
        (datetime(2027, 2, 12, 7, 0), True),
        (datetime(2027, 2, 12, 19, 59), True),
        (datetime(2027, 2, 12, 20, 0), False),
        (datetime(2027, 2, 12, 23, 30), False),
        (datetime(2027, 2, 12, 1, 0, tzinfo=UTC), True),  # 08:00 in Hà Nội
        (datetime(2027, 2, 12, 13, 30, tzinfo=UTC), False),  # 20:30 in Hà Nội
        (datetime(2027, 2, 11, 23, 30, tzinfo=UTC), False),  # 06:30 on 12/2 in Hà Nội
    ],
)
def test_quiet_hours(as_of: datetime, sends: bool) -> None:
    assert bool(run(AFTER_TET, as_of, set())) is sends


def test_quiet_hours_then_the_next_run_catches_up() -> None:
    sent: set[str] = set()
    assert run(AFTER_TET, datetime(2027, 2, 12, 21, 0), sent) == []
    assert [d.step for d in run(AFTER_TET, datetime(2027, 2, 15, 8, 0), sent)] == ["before-3"]


@pytest.mark.parametrize("day", [date(2027, 2, 6), date(2027, 2, 9), date(2027, 2, 13), date(2027, 2, 14)])
def test_nothing_on_a_day_off(day: date) -> None:
    assert run(AFTER_TET, day, set()) == []
    assert run(AFTER_TET, datetime.combine(day, datetime.min.time()).replace(hour=9), set()) == []


def test_deadline_on_a_day_off_moves_to_the_next_working_day() -> None:
    deadline = date(2027, 2, 8)  # mùng 3 Tết
    out = walk(deadline, date(2027, 1, 20), date(2027, 2, 20))
    assert out[:5] == [
        (date(2027, 1, 26), "2027-02-08:before-7"),
        (date(2027, 2, 1), "2027-02-08:before-3"),
        (date(2027, 2, 3), "2027-02-08:before-1"),
        (date(2027, 2, 11), "2027-02-08:due"),
        (date(2027, 2, 16), "2027-02-08:overdue-1"),
    ]
    (due,) = run(deadline, date(2027, 2, 11), set())
    assert due.effective_deadline == date(2027, 2, 11)
    assert due.deadline == deadline


def test_on_due_day_off_sends_nothing_on_the_deadline() -> None:
    policy = ReminderSchedule(on_due_day=False)
    sent = {"2027-02-17:before-7", "2027-02-17:before-3", "2027-02-17:before-1"}
    assert run(AFTER_TET, date(2027, 2, 17), sent, policy=policy) == []


# ------------------------------------------------------------------ the policy


def test_schedule_from_a_policy_row() -> None:
    row = ReminderPolicy(
        cycle_id=1,
        request_kind="progress_report",
        before_working_days=[5, 2],
        on_due_day=False,
        overdue_every_working_days=2,
        escalate_after_working_days=0,
        quiet_hours_start=21,
        quiet_hours_end=6,
        settings={"max_overdue_reminders": 4, "unrelated": True},
    )
    schedule = ReminderSchedule.from_policy(row)
    assert schedule.before_working_days == (5, 2)
    assert schedule.on_due_day is False
    assert schedule.overdue_every_working_days == 2
    assert schedule.escalate_after_working_days is None
    assert schedule.max_overdue_reminders == 4
    assert (schedule.quiet_hours_start, schedule.quiet_hours_end) == (21, 6)


def test_schedule_validation() -> None:
    assert ReminderSchedule(before_working_days=(1, 7, 3, 7)).before_working_days == (7, 3, 1)
    with pytest.raises(ValidationError):
        ReminderSchedule(before_working_days=(0,))
    with pytest.raises(ValidationError):
        ReminderSchedule(overdue_every_working_days=0)
    with pytest.raises(ValidationError):
        ReminderSchedule(timezone="Asia/Nowhere")


def test_quiet_window_within_the_day() -> None:
    lunch = ReminderSchedule(quiet_hours_start=12, quiet_hours_end=13)
    assert lunch.is_quiet_hour(12) and not lunch.is_quiet_hour(13) and not lunch.is_quiet_hour(20)
    assert not ReminderSchedule(quiet_hours_start=0, quiet_hours_end=0).is_quiet_hour(3)
