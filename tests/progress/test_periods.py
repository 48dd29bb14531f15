"""Reporting periods: Decree 09/2019 windows (15th to 14th), Vietnamese labels, deadlines in working days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from models.base import PeriodKind
from models.cycle import CalendarException
from models.progress import ReportingPeriod
from tasks.common.calendar import WorkingCalendar
from tasks.progress.periods import (
    PeriodOverride,
    ReportingRules,
    default_periods,
    period_label,
    reporting_period,
)
from tests.factories import make_cycle

CALENDAR = WorkingCalendar()


@pytest.mark.parametrize(
    ("kind", "number", "label", "starts_on", "ends_on", "deadline"),
    [
        (PeriodKind.monthly, 1, "Tháng 1/2027", date(2026, 12, 15), date(2027, 1, 14), date(2027, 1, 19)),
        (PeriodKind.monthly, 2, "Tháng 2/2027", date(2027, 1, 15), date(2027, 2, 14), date(2027, 2, 17)),
        (PeriodKind.monthly, 12, "Tháng 12/2027", date(2027, 11, 15), date(2027, 12, 14), date(2027, 12, 17)),
        (PeriodKind.quarterly, 1, "Quý I/2027", date(2026, 12, 15), date(2027, 3, 14), date(2027, 3, 17)),
        (PeriodKind.quarterly, 2, "Quý II/2027", date(2027, 3, 15), date(2027, 6, 14), date(2027, 6, 17)),
        (PeriodKind.quarterly, 3, "Quý III/2027", date(2027, 6, 15), date(2027, 9, 14), date(2027, 9, 17)),
        (PeriodKind.quarterly, 4, "Quý IV/2027", date(2027, 9, 15), date(2027, 12, 14), date(2027, 12, 17)),
        (
            PeriodKind.six_monthly,
            1,
            "6 tháng đầu năm 2027",
            date(2026, 12, 15),
            date(2027, 6, 14),
            date(2027, 6, 17),
        ),
        (PeriodKind.annual, 1, "Năm 2027", date(2026, 12, 15), date(2027, 12, 14), date(2027, 12, 17)),
    ],
)
def test_national_defaults(
    kind: PeriodKind, number: int, label: str, starts_on: date, ends_on: date, deadline: date
) -> None:
    period = reporting_period(kind, 2027, number, calendar=CALENDAR)
    assert (period.label, period.starts_on, period.ends_on, period.deadline) == (
        label,
        starts_on,
        ends_on,
        deadline,
    )


def test_a_year_of_every_kind() -> None:
    periods = default_periods(2027, calendar=CALENDAR)
    assert len(periods) == 12 + 4 + 1 + 1
    assert len({p.label for p in periods}) == len(periods)
    assert [p.label for p in periods[:4]] == ["Tháng 1/2027", "Tháng 2/2027", "Tháng 3/2027", "Quý I/2027"]
    assert periods[-1].label == "Năm 2027"
    assert all(CALENDAR.is_working_day(p.deadline) and p.deadline > p.ends_on for p in periods)


@pytest.mark.parametrize("kind", [PeriodKind.monthly, PeriodKind.quarterly])
def test_windows_tile_the_reporting_year(kind: PeriodKind) -> None:
    periods = default_periods(2027, [kind], calendar=CALENDAR)
    assert periods[0].starts_on == date(2026, 12, 15)
    assert periods[-1].ends_on == date(2027, 12, 14)
    for earlier, later in zip(periods, periods[1:], strict=False):
        assert later.starts_on == earlier.ends_on + timedelta(days=1)


def test_deadline_across_tet_2026() -> None:
    # Cut-off Saturday 14/2/2026, then Tết Bính Ngọ 16–20/2: three working days later is 25/2.
    february = reporting_period(PeriodKind.monthly, 2026, 2, calendar=CALENDAR)
    assert (february.ends_on, february.deadline) == (date(2026, 2, 14), date(2026, 2, 25))


def test_deadline_across_tet_2027_with_calendar_months() -> None:
    rules = ReportingRules(cutoff_day="end_of_month", deadline_working_days=5)
    january = reporting_period(PeriodKind.monthly, 2027, 1, calendar=CALENDAR, rules=rules)
    assert (january.starts_on, january.ends_on) == (date(2027, 1, 1), date(2027, 1, 31))
    assert january.deadline == date(2027, 2, 12)  # 1, 2, 3/2, then Tết 4–10/2, then 11, 12/2
    february = reporting_period(PeriodKind.monthly, 2028, 2, calendar=CALENDAR, rules=rules)
    assert february.ends_on == date(2028, 2, 29)


def test_province_overrides_per_kind() -> None:
    rules = ReportingRules(
        deadline_working_days=2,
        by_kind={
            PeriodKind.quarterly: PeriodOverride(cutoff_day=20),
            PeriodKind.annual: PeriodOverride(deadline_working_days=10),
        },
    )
    q1 = reporting_period(PeriodKind.quarterly, 2027, 1, calendar=CALENDAR, rules=rules)
    assert (q1.starts_on, q1.ends_on, q1.deadline) == (
        date(2026, 12, 21),
        date(2027, 3, 20),
        date(2027, 3, 23),
    )
    year = reporting_period(PeriodKind.annual, 2027, calendar=CALENDAR, rules=rules)
    assert (year.starts_on, year.ends_on, year.deadline) == (
        date(2026, 12, 15),
        date(2027, 12, 14),
        date(2027, 12, 28),
    )
    month = reporting_period(PeriodKind.monthly, 2027, 3, calendar=CALENDAR, rules=rules)
    assert (month.ends_on, month.deadline) == (date(2027, 3, 14), date(2027, 3, 16))


def test_zero_working_days_means_the_cut_off_or_the_next_working_day() -> None:
    rules = ReportingRules(deadline_working_days=0)
    assert reporting_period(PeriodKind.monthly, 2027, 2, calendar=CALENDAR, rules=rules).deadline == date(
        2027, 2, 15
    )
    assert reporting_period(PeriodKind.monthly, 2027, 1, calendar=CALENDAR, rules=rules).deadline == date(
        2027, 1, 14
    )


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="quarterly period number"):
        reporting_period(PeriodKind.quarterly, 2027, 5, calendar=CALENDAR)
    with pytest.raises(ValidationError):
        ReportingRules(cutoff_day=29)
    with pytest.raises(ValidationError):
        ReportingRules(deadline_working_days=-1)


def test_labels() -> None:
    assert period_label(PeriodKind.quarterly, 2026, 3) == "Quý III/2026"
    assert period_label(PeriodKind.six_monthly, 2026) == "6 tháng đầu năm 2026"


def test_calendar_exceptions_move_deadlines(session: Session) -> None:
    session.add(CalendarException(day=date(2027, 2, 15), is_working_day=False, note="Nghỉ thêm sau Tết"))
    session.commit()
    calendar = WorkingCalendar.from_session(session)
    assert reporting_period(PeriodKind.monthly, 2027, 2, calendar=calendar).deadline == date(2027, 2, 18)


def test_periods_are_stored_as_reporting_periods(session: Session) -> None:
    cycle = make_cycle(session, year=2027)
    assert cycle.id is not None
    for spec in default_periods(2027, calendar=CALENDAR):
        session.add(spec.to_reporting_period(cycle.id))
    session.commit()
    rows = session.exec(select(ReportingPeriod).where(ReportingPeriod.label == "Quý I/2027")).all()
    assert [(r.kind, r.starts_on, r.ends_on, r.deadline) for r in rows] == [
        ("quarterly", date(2026, 12, 15), date(2027, 3, 14), date(2027, 3, 17))
    ]
