"""Reminder rules: which reminder about one deadline is due at a given moment, and the full plan of them.

Plain functions over one deadline of one request (a unit's submission, progress report or approval);
the flow that urges units ("đôn đốc") calls `due_reminders` for every open request on every run, sends
what it returns and records the step keys. The rules, in words, are in docs/reminders.md:

- steps: ``before-N`` (N working days before the deadline, default 7, 3, 1), ``due`` (on the deadline),
  ``overdue-K`` (every N working days after it, default 3), ``escalate-K`` (to the unit head and the
  coordinator, X working days after it, default 5); all offsets in working days (`WorkingCalendar`);
- a deadline on a day off moves to the next working day (Civil Code 2015, art. 148(5)): the *effective*
  deadline, from which every step is computed;
- step keys carry the deadline as stated (``"2026-09-30:before-3"``), so an extension is a new schedule
  whose keys never collide with the old one's;
- catch-up: on each run only the latest step whose trigger date has passed is considered, and only if it
  still tells the truth (a ``due_soon`` only before the deadline, ``due_today`` only on it, ``overdue``
  only after); it goes out once; earlier unsent steps are stale and reported as skipped, never sent later;
- the officer track (before/due/overdue) and the escalation track are independent: both may go on the
  same run, to different people;
- nothing for a submitted or exempted request, nothing in quiet hours or on a day off.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.base import ContactRole, SubmissionStatus
from models.cycle import ReminderPolicy
from tasks.common.calendar import WorkingCalendar


class ReminderState(StrEnum):
    """Where the request stands, as far as reminders care."""

    open = "open"  # still expected from the unit
    submitted = "submitted"
    exempted = "exempted"


class ReminderTemplate(StrEnum):
    """The message template (templates/…/<name>) a step uses."""

    due_soon = "due_soon"
    due_today = "due_today"
    overdue = "overdue"
    escalation = "escalation"


class RecipientKind(StrEnum):
    """Who receives a step: the unit's officer, or the unit head together with the coordinator."""

    officer = "officer"
    head_and_coordinator = "head_and_coordinator"

    @property
    def roles(self) -> tuple[ContactRole, ...]:
        """The contact roles to address."""
        if self is RecipientKind.officer:
            return (ContactRole.officer,)
        return (ContactRole.head, ContactRole.coordinator)


_STATE_OF_STATUS: dict[str, ReminderState] = {
    SubmissionStatus.requested: ReminderState.open,
    SubmissionStatus.returned: ReminderState.open,  # sent back for revision: still owed
    SubmissionStatus.submitted: ReminderState.submitted,
    SubmissionStatus.accepted: ReminderState.submitted,
    SubmissionStatus.exempted: ReminderState.exempted,
}


def reminder_state(status: str) -> ReminderState:
    """The reminder state of a `SubmissionStatus` value (``returned`` counts as open: it is still owed)."""
    return _STATE_OF_STATUS[status]


class ReminderSchedule(BaseModel):
    """When to remind about one deadline. Offsets are in working days; hours are local (``timezone``)."""

    model_config = ConfigDict(frozen=True)

    before_working_days: tuple[int, ...] = Field(
        default=(7, 3, 1), description="Reminders this many working days before the deadline"
    )
    on_due_day: bool = Field(default=True, description="A reminder on the deadline itself")
    overdue_every_working_days: int = Field(default=3, ge=1, description="After the deadline, every N days")
    max_overdue_reminders: int | None = Field(
        default=None, ge=0, description="Stop the officer's overdue reminders after this many (None: never)"
    )
    escalate_after_working_days: int | None = Field(
        default=5,
        ge=1,
        description="Tell the unit head and the coordinator after X days overdue (None: never)",
    )
    escalate_every_working_days: int | None = Field(
        default=None, ge=1, description="Repeat the escalation every N days (None: escalate once)"
    )
    quiet_hours_start: int = Field(default=20, ge=0, le=23, description="No message from this hour…")
    quiet_hours_end: int = Field(default=7, ge=0, le=23, description="…until this hour (local time)")
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("before_working_days")
    @classmethod
    def _positive_descending(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(n < 1 for n in value):
            raise ValueError("offsets before the deadline must be at least 1 working day")
        return tuple(sorted(set(value), reverse=True))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @classmethod
    def from_policy(cls, policy: ReminderPolicy) -> ReminderSchedule:
        """The schedule of a `ReminderPolicy` row. ``escalate_after_working_days`` <= 0 disables escalation;
        ``settings`` may carry ``max_overdue_reminders``, ``escalate_every_working_days`` and ``timezone``."""
        extra: dict[str, Any] = {
            name: value
            for name, value in (policy.settings or {}).items()
            if name in {"max_overdue_reminders", "escalate_every_working_days", "timezone"}
        }
        escalate = policy.escalate_after_working_days
        return cls(
            before_working_days=tuple(policy.before_working_days),
            on_due_day=policy.on_due_day,
            overdue_every_working_days=policy.overdue_every_working_days,
            escalate_after_working_days=escalate if escalate and escalate > 0 else None,
            quiet_hours_start=policy.quiet_hours_start,
            quiet_hours_end=policy.quiet_hours_end,
            **extra,
        )

    def is_quiet_hour(self, hour: int) -> bool:
        """True when a message must not go out at this local hour (the window may wrap past midnight)."""
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start == end:
            return False
        if start > end:
            return hour >= start or hour < end
        return start <= hour < end


class ReminderStep(BaseModel):
    """One step of a deadline's schedule."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description='Idempotency key, deadline included: "2026-09-30:before-3"')
    step: str = Field(description='"before-3", "due", "overdue-2", "escalate-1"')
    trigger_on: date = Field(description="The first working day the step may go out")
    template: ReminderTemplate
    recipients: RecipientKind


class ReminderDecision(BaseModel):
    """A reminder to send now, with the figures its message shows."""

    model_config = ConfigDict(frozen=True)

    key: str
    step: str
    trigger_on: date
    template: ReminderTemplate
    recipients: RecipientKind
    deadline: date = Field(description="The deadline as set")
    effective_deadline: date = Field(
        description="The deadline moved to a working day if it fell on a day off"
    )
    working_days_left: int = Field(
        description="Working days after today up to the deadline; 0 on and after it"
    )
    working_days_overdue: int = Field(description="Working days since the deadline; 0 on and before it")
    skipped: tuple[str, ...] = Field(
        default=(), description="Earlier unsent steps of the same track: stale, to record as skipped"
    )


def step_key(deadline: date, step: str) -> str:
    """The idempotency key of a step: the stated deadline (ISO) and the step name."""
    return f"{deadline.isoformat()}:{step}"


def effective_deadline(deadline: date, calendar: WorkingCalendar) -> date:
    """The deadline itself, or the next working day when it falls on a day off (Civil Code art. 148(5))."""
    return calendar.next_working_day(deadline, inclusive=True)


def _step(deadline: date, step: str, trigger_on: date, template: ReminderTemplate) -> ReminderStep:
    recipients = (
        RecipientKind.head_and_coordinator
        if template is ReminderTemplate.escalation
        else RecipientKind.officer
    )
    return ReminderStep(
        key=step_key(deadline, step),
        step=step,
        trigger_on=trigger_on,
        template=template,
        recipients=recipients,
    )


def _steps_until_due(
    deadline: date, policy: ReminderSchedule, calendar: WorkingCalendar
) -> list[ReminderStep]:
    due_on = effective_deadline(deadline, calendar)
    steps = [
        _step(deadline, f"before-{n}", calendar.add_working_days(due_on, -n), ReminderTemplate.due_soon)
        for n in policy.before_working_days
    ]
    if policy.on_due_day:
        steps.append(_step(deadline, "due", due_on, ReminderTemplate.due_today))
    return steps


def _after_deadline_steps(
    kind: Literal["overdue", "escalate"],
    deadline: date,
    policy: ReminderSchedule,
    calendar: WorkingCalendar,
    *,
    until: date | None,
    limit: int | None,
) -> list[ReminderStep]:
    """Overdue reminders or escalations in order, while ``trigger_on`` <= ``until`` (if given) and at most
    ``limit`` of them: overdue every ``overdue_every_working_days`` after the deadline (capped by
    ``max_overdue_reminders``); escalation ``escalate_after_working_days`` after it, then every
    ``escalate_every_working_days`` (once when that is not set)."""
    due_on = effective_deadline(deadline, calendar)
    if kind == "overdue":
        if policy.max_overdue_reminders is not None:
            cap = policy.max_overdue_reminders
            limit = cap if limit is None else min(limit, cap)
        every = policy.overdue_every_working_days
        first = calendar.add_working_days(due_on, every)
        template = ReminderTemplate.overdue
    else:
        if policy.escalate_after_working_days is None:
            return []
        if policy.escalate_every_working_days is None:
            limit = 1 if limit is None else min(limit, 1)
        first = calendar.add_working_days(due_on, policy.escalate_after_working_days)
        every = policy.escalate_every_working_days or 1
        template = ReminderTemplate.escalation
    return _repeated_steps(deadline, calendar, kind, template, first, every, until=until, limit=limit)


def _repeated_steps(
    deadline: date,
    calendar: WorkingCalendar,
    name: str,
    template: ReminderTemplate,
    first: date,
    every: int,
    *,
    until: date | None,
    limit: int | None,
) -> list[ReminderStep]:
    """Steps ``<name>-1``, ``<name>-2``… triggered on ``first`` and every ``every`` working days after, while
    ``trigger_on`` <= ``until`` (if given) and at most ``limit`` of them."""
    steps: list[ReminderStep] = []
    trigger_on = first
    while limit is None or len(steps) < limit:
        if until is not None and trigger_on > until:
            break
        steps.append(_step(deadline, f"{name}-{len(steps) + 1}", trigger_on, template))
        trigger_on = calendar.add_working_days(trigger_on, every)
    return steps


def reminder_plan(
    deadline: date,
    policy: ReminderSchedule,
    calendar: WorkingCalendar,
    *,
    overdue_steps: int = 3,
    escalation_steps: int = 1,
) -> list[ReminderStep]:
    """Every step of a deadline's schedule with its trigger date, in date order (officer before head on
    the same day). Overdue and repeated escalation steps are endless in principle: the plan lists the
    first ``overdue_steps`` and ``escalation_steps`` of them (fewer if the policy caps or disables them)."""
    steps = [
        *_steps_until_due(deadline, policy, calendar),
        *_after_deadline_steps("overdue", deadline, policy, calendar, until=None, limit=overdue_steps),
        *_after_deadline_steps("escalate", deadline, policy, calendar, until=None, limit=escalation_steps),
    ]
    return sorted(steps, key=lambda s: (s.trigger_on, s.recipients is RecipientKind.head_and_coordinator))


def sendable_day(as_of: date | datetime, policy: ReminderSchedule, calendar: WorkingCalendar) -> date | None:
    """The local day on which a message may go out at ``as_of``, or None in quiet hours or on a day off.

    A naive datetime is local time already; an aware one is converted to ``policy.timezone``; a plain date
    has no hour, so only the day-off rule applies to it.
    """
    if isinstance(as_of, datetime):
        local = as_of.astimezone(ZoneInfo(policy.timezone)) if as_of.tzinfo else as_of
        if policy.is_quiet_hour(local.hour):
            return None
        day = local.date()
    else:
        day = as_of
    return day if calendar.is_working_day(day) else None


def _decide(
    current: ReminderStep | None,
    passed: list[ReminderStep],
    *,
    deadline: date,
    due_on: date,
    working_days_left: int,
    already_sent: Set[str],
    not_before: date | None,
) -> ReminderDecision | None:
    if current is None or current.key in already_sent:
        return None
    if not_before is not None and current.trigger_on < not_before:
        return None
    skipped = tuple(s.key for s in passed if s.trigger_on < current.trigger_on and s.key not in already_sent)
    return ReminderDecision(
        **current.model_dump(),
        deadline=deadline,
        effective_deadline=due_on,
        working_days_left=max(working_days_left, 0),
        working_days_overdue=max(-working_days_left, 0),
        skipped=skipped,
    )


def due_reminders(
    *,
    deadline: date,
    as_of: date | datetime,
    policy: ReminderSchedule,
    calendar: WorkingCalendar,
    already_sent: Set[str],
    state: ReminderState = ReminderState.open,
    not_before: date | None = None,
) -> list[ReminderDecision]:
    """The reminders about ``deadline`` to send at ``as_of``: none, one, or two (officer first, then head).

    ``already_sent``: step keys already sent *or recorded as skipped* for this request (any deadline;
    only this deadline's keys matter). ``not_before``: the day the schedule started (request issued,
    extension granted); steps that fell due before it are stale and never go out.

    Returns nothing when the request is not open, at a quiet hour or on a day off (the next run catches
    up). Otherwise, per track (officer; escalation), the latest step whose trigger date is on or before
    today, if its message is still true today (before-N only before the deadline, due only on it,
    overdue-K only after) and its key is not in ``already_sent``. The decision lists the earlier unsent
    steps of its track as ``skipped``: the caller records them, they are never sent later.
    """
    if ReminderState(state) is not ReminderState.open:
        return []
    today = sendable_day(as_of, policy, calendar)
    if today is None:
        return []
    due_on = effective_deadline(deadline, calendar)
    left = calendar.working_days_between(today, due_on)
    common: dict[str, Any] = {
        "deadline": deadline,
        "due_on": due_on,
        "working_days_left": left,
        "already_sent": already_sent,
        "not_before": not_before,
    }

    officer_passed = [s for s in _steps_until_due(deadline, policy, calendar) if s.trigger_on <= today]
    overdue = (
        _after_deadline_steps("overdue", deadline, policy, calendar, until=today, limit=None)
        if left < 0
        else []
    )
    officer_passed += overdue
    if left > 0:
        current = next((s for s in reversed(officer_passed) if s.template is ReminderTemplate.due_soon), None)
    elif left == 0:
        current = next((s for s in officer_passed if s.step == "due"), None)
    else:
        current = overdue[-1] if overdue else None
    decisions = [_decide(current, officer_passed, **common)]

    escalations = _after_deadline_steps("escalate", deadline, policy, calendar, until=today, limit=None)
    decisions.append(_decide(escalations[-1] if escalations else None, escalations, **common))
    return [d for d in decisions if d is not None]
