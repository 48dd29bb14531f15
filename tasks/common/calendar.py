"""The Vietnamese working calendar: which days an office works, and counting in working days.

A day is a working day unless it is a Saturday or Sunday or a public holiday, with two corrections:

- the `holidays` package ("VN") supplies the public holidays: Tết Dương lịch, Tết Nguyên Đán (lunar dates
  and the extra days it shifts around weekends), Giỗ Tổ Hùng Vương, 30/4, 1/5, Quốc khánh 2/9 and its
  second day, Ngày Văn hóa Việt Nam 24/11 (from 2026), the observed days ("nghỉ bù") when a holiday falls
  on a weekend, and the day swaps the government announced and the package lists (a weekday off in
  exchange for a Saturday worked, e.g. Mon 31/8/2026 off, Sat 22/8/2026 worked);
- `CalendarException` rows (or the lists given to the constructor) win over the package: an extra day
  off, or a weekend day worked in exchange, which the government announces every year and a package
  release may not know yet. Years the package computes by rule (not yet announced) are estimates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays
from sqlmodel import Session

from models.cycle import list_calendar_exceptions

_WEEKEND = frozenset({5, 6})  # Saturday, Sunday
_ONE_DAY = timedelta(days=1)


class WorkingCalendar:
    """Working days of a Vietnamese state office: weekends, public holidays and announced exceptions."""

    def __init__(
        self, *, extra_days_off: Iterable[date] = (), extra_working_days: Iterable[date] = ()
    ) -> None:
        """Build a calendar from the package's holidays plus local exceptions.

        ``extra_days_off``: days that are off although the package says they are worked.
        ``extra_working_days``: days that are worked although they are a weekend or a package holiday
        (substituted working days, "ngày làm bù"). A day in both lists is a configuration error.
        """
        self._days_off = frozenset(extra_days_off)
        self._working_days = frozenset(extra_working_days)
        if clash := self._days_off & self._working_days:
            raise ValueError(f"days both off and worked: {sorted(clash)}")
        self._holiday_names: dict[int, dict[date, str]] = {}
        self._weekend_workdays: dict[int, frozenset[date]] = {}

    @classmethod
    def from_session(cls, session: Session) -> WorkingCalendar:
        """The calendar with every `CalendarException` row applied."""
        rows = list_calendar_exceptions(session=session)
        return cls(
            extra_days_off=[row.day for row in rows if not row.is_working_day],
            extra_working_days=[row.day for row in rows if row.is_working_day],
        )

    # ------------------------------------------------------------ the package, one year at a time

    def _load_year(self, year: int) -> None:
        if year in self._holiday_names:
            return
        # Neighbouring years too: a swap may take a Saturday of another year (27/12/2014 for 2/1/2015).
        package = holidays.country_holidays("VN", years=range(year - 1, year + 2), language="vi")
        self._holiday_names[year] = {day: name for day, name in package.items() if day.year == year}
        self._weekend_workdays[year] = frozenset(d for d in package.weekend_workdays if d.year == year)

    def holiday_name(self, d: date) -> str | None:
        """The Vietnamese name of the package's public holiday on ``d``, or None (exceptions ignored)."""
        self._load_year(d.year)
        return self._holiday_names[d.year].get(d)

    # ------------------------------------------------------------ the rules

    def is_working_day(self, d: date) -> bool:
        """True when an office works on ``d``. Exceptions win over the package, which wins over weekdays."""
        if d in self._working_days:
            return True
        if d in self._days_off:
            return False
        self._load_year(d.year)
        if d in self._holiday_names[d.year]:
            return False
        if d.weekday() in _WEEKEND:
            return d in self._weekend_workdays[d.year]
        return True

    def next_working_day(self, d: date, *, inclusive: bool = False) -> date:
        """The first working day strictly after ``d``; with ``inclusive=True``, ``d`` itself if it is one."""
        day = d if inclusive else d + _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def previous_working_day(self, d: date, *, inclusive: bool = False) -> date:
        """The last working day strictly before ``d``; with ``inclusive=True``, ``d`` itself if it is one."""
        day = d if inclusive else d - _ONE_DAY
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day

    def add_working_days(self, d: date, n: int) -> date:
        """The day reached by stepping ``n`` working days from ``d`` (backwards when ``n`` < 0).

        ``d`` itself never counts and need not be a working day; the result is always a working day when
        ``n`` != 0. ``n == 0`` returns ``d`` unchanged. Examples: 3 working days after Sunday 14/3/2027
        (a cut-off day) is Wednesday 17/3/2027; 3 working days before Wednesday 17/2/2027 is Friday
        12/2/2027, Tết (4–10/2/2027) not counted.
        """
        day = d
        for _ in range(abs(n)):
            day = self.next_working_day(day) if n > 0 else self.previous_working_day(day)
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """The signed number of working-day steps from ``a`` to ``b``: the working days in ``(a, b]`` when
        ``b`` >= ``a``; minus the working days in ``[b, a)`` when ``b`` < ``a``. The walk's start never
        counts, its end does.

        It is the inverse of `add_working_days`: ``add_working_days(a, working_days_between(a, b)) == b``
        whenever ``b`` is a working day. ``working_days_between(today, deadline)`` is the number of working
        days left (1 on the working day before the deadline, 0 on it) and ``working_days_between(deadline,
        today)`` the working days overdue. Swapping two working days negates the result; with a day off at
        an end it may differ by one (Saturday to Friday is -1, Friday to Saturday is 0).
        """
        low, high, sign = (a, b, 1) if b >= a else (b - _ONE_DAY, a - _ONE_DAY, -1)
        count = 0
        day = low + _ONE_DAY
        while day <= high:
            count += self.is_working_day(day)
            day += _ONE_DAY
        return sign * count
