"""The Vietnamese working calendar on real 2026/2027 dates: Tết, 30/4–1/5, 2/9, swaps and exceptions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session

from models.cycle import CalendarException
from tasks.common.calendar import WorkingCalendar

CALENDAR = WorkingCalendar()


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(n) for n in range((end - start).days + 1)]


@pytest.mark.parametrize(
    "day",
    [
        *days(date(2026, 2, 14), date(2026, 2, 22)),  # Tết Bính Ngọ: Sat 14 – Sun 22/2/2026
        *days(date(2027, 2, 4), date(2027, 2, 10)),  # Tết Đinh Mùi: Thu 4 – Wed 10/2/2027 (mùng 1 is Sat 6/2)
        date(2026, 1, 1),
        date(2026, 4, 27),  # Giỗ Tổ Hùng Vương on Sunday 26/4/2026, observed Monday
        date(2026, 4, 30),
        date(2026, 5, 1),
        date(2026, 8, 31),  # swapped for Saturday 22/8/2026
        date(2026, 9, 1),
        date(2026, 9, 2),
        date(2026, 11, 24),  # Ngày Văn hóa Việt Nam, from 2026
        date(2027, 4, 16),
        date(2027, 4, 30),
        date(2027, 5, 3),  # 1/5/2027 is a Saturday: observed Monday
        date(2027, 9, 2),
        date(2027, 9, 3),
    ],
)
def test_days_off(day: date) -> None:
    assert not CALENDAR.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 2, 13),  # last working day before Tết 2026
        date(2026, 2, 23),  # first one after
        date(2027, 2, 3),
        date(2027, 2, 11),
        date(2026, 8, 22),  # Saturday worked in exchange for Monday 31/8/2026
        date(2026, 5, 4),
        date(2027, 5, 4),
        date(2027, 9, 1),
    ],
)
def test_working_days(day: date) -> None:
    assert CALENDAR.is_working_day(day)


def test_weekends_are_off() -> None:
    assert not CALENDAR.is_working_day(date(2027, 1, 2))  # Saturday
    assert not CALENDAR.is_working_day(date(2027, 1, 3))  # Sunday
    assert CALENDAR.is_working_day(date(2027, 1, 4))


def test_holiday_names_are_vietnamese() -> None:
    assert CALENDAR.holiday_name(date(2027, 2, 6)) == "Tết Nguyên Đán"
    assert CALENDAR.holiday_name(date(2026, 9, 2)) == "Quốc khánh"
    assert CALENDAR.holiday_name(date(2026, 9, 3)) is None


def test_add_working_days_across_tet_2027() -> None:
    deadline = date(2027, 2, 17)
    assert CALENDAR.add_working_days(deadline, -1) == date(2027, 2, 16)
    assert CALENDAR.add_working_days(deadline, -3) == date(2027, 2, 12)
    assert CALENDAR.add_working_days(deadline, -4) == date(2027, 2, 11)
    assert CALENDAR.add_working_days(deadline, -5) == date(2027, 2, 3)  # jumps 4–10/2
    assert CALENDAR.add_working_days(deadline, -7) == date(2027, 2, 1)
    assert CALENDAR.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 11)


def test_add_working_days_from_a_day_off_and_zero() -> None:
    assert CALENDAR.add_working_days(date(2026, 2, 14), 3) == date(2026, 2, 25)  # Saturday before Tết 2026
    assert CALENDAR.add_working_days(date(2027, 2, 6), -1) == date(2027, 2, 3)
    assert CALENDAR.add_working_days(date(2027, 2, 6), 0) == date(2027, 2, 6)


def test_add_working_days_across_30_4_and_2_9() -> None:
    assert CALENDAR.add_working_days(date(2026, 4, 29), 1) == date(2026, 5, 4)
    assert CALENDAR.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 3)  # 29/8–2/9/2026 all off
    assert CALENDAR.add_working_days(date(2026, 8, 21), 1) == date(2026, 8, 22)  # the swapped Saturday


def test_next_and_previous_working_day() -> None:
    assert CALENDAR.next_working_day(date(2027, 2, 3)) == date(2027, 2, 11)
    assert CALENDAR.next_working_day(date(2027, 2, 3), inclusive=True) == date(2027, 2, 3)
    assert CALENDAR.next_working_day(date(2027, 2, 6), inclusive=True) == date(2027, 2, 11)
    assert CALENDAR.previous_working_day(date(2027, 2, 11)) == date(2027, 2, 3)
    assert CALENDAR.previous_working_day(date(2027, 2, 11), inclusive=True) == date(2027, 2, 11)


def test_working_days_between_is_signed_and_half_open() -> None:
    assert CALENDAR.working_days_between(date(2027, 2, 16), date(2027, 2, 17)) == 1
    assert CALENDAR.working_days_between(date(2027, 2, 17), date(2027, 2, 17)) == 0
    assert CALENDAR.working_days_between(date(2027, 2, 3), date(2027, 2, 17)) == 5
    assert CALENDAR.working_days_between(date(2027, 2, 17), date(2027, 2, 3)) == -5
    assert CALENDAR.working_days_between(date(2027, 2, 4), date(2027, 2, 10)) == 0  # all Tết
    # From a day off backwards, the day off itself is the start and does not count.
    assert CALENDAR.working_days_between(date(2027, 1, 2), date(2027, 1, 1)) == 0  # Sat → New Year
    assert CALENDAR.working_days_between(date(2027, 1, 9), date(2027, 1, 8)) == -1  # Sat → Fri
    assert CALENDAR.working_days_between(date(2027, 1, 8), date(2027, 1, 9)) == 0  # Fri → Sat


def test_working_days_between_working_days_is_antisymmetric() -> None:
    some = [d for d in days(date(2027, 1, 25), date(2027, 2, 20)) if CALENDAR.is_working_day(d)]
    for a in some:
        for b in some:
            assert CALENDAR.working_days_between(a, b) == -CALENDAR.working_days_between(b, a)


def test_working_days_between_inverts_add_working_days() -> None:
    start = date(2026, 1, 1)
    for day in days(start, date(2027, 12, 31))[::5]:
        for n in (-12, -7, -3, -1, 1, 3, 7, 12):
            target = CALENDAR.add_working_days(day, n)
            assert CALENDAR.is_working_day(target)
            assert CALENDAR.working_days_between(day, target) == n


def test_exceptions_win_over_the_package() -> None:
    calendar = WorkingCalendar(
        extra_days_off=[date(2027, 2, 11), date(2027, 2, 12)],  # a longer Tết than the package knows
        extra_working_days=[date(2027, 1, 30)],  # a Saturday worked in exchange
    )
    assert not calendar.is_working_day(date(2027, 2, 11))
    assert calendar.is_working_day(date(2027, 1, 30))
    assert calendar.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 15)
    assert calendar.add_working_days(date(2027, 2, 1), -1) == date(2027, 1, 30)


def test_a_day_both_off_and_worked_is_refused() -> None:
    with pytest.raises(ValueError, match="both off and worked"):
        WorkingCalendar(extra_days_off=[date(2027, 2, 11)], extra_working_days=[date(2027, 2, 11)])


def test_from_session_reads_calendar_exceptions(session: Session) -> None:
    session.add(CalendarException(day=date(2027, 2, 11), is_working_day=False, note="Nghỉ thêm Tết"))
    session.add(CalendarException(day=date(2027, 2, 10), is_working_day=True, note="Làm bù"))
    session.commit()

    calendar = WorkingCalendar.from_session(session)

    assert not calendar.is_working_day(date(2027, 2, 11))
    assert calendar.is_working_day(date(2027, 2, 10))
    assert calendar.next_working_day(date(2027, 2, 3)) == date(2027, 2, 10)
    assert calendar.next_working_day(date(2027, 2, 10)) == date(2027, 2, 12)
