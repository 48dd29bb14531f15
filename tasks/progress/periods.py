"""Reporting periods: the data cut-off windows of Decree 09/2019/NĐ-CP (art. 12) and submission deadlines.

National defaults, all windows from the 15th to the 14th:

| kind        | window                                                              | label                |
|-------------|---------------------------------------------------------------------|----------------------|
| monthly     | 15th of the previous month – 14th of the month                      | Tháng 1/2027         |
| quarterly   | 15th of the month before the quarter – 14th of its last month       | Quý I/2027           |
|             | (Q1: 15/12 of the year before – 14/3)                               |                      |
| six_monthly | 15/12 of the year before – 14/6                                     | 6 tháng đầu năm 2027 |
| annual      | 15/12 of the year before – 14/12                                    | Năm 2027             |

The decree has no second-half report: the annual one covers the whole year. Each province sets its own
submission deadline; the default here is 3 working days after the cut-off (`WorkingCalendar`, so Tết and
weekends do not count). A province may change the cut-off day (or use calendar months) and the deadline,
for all kinds or per kind: `ReportingRules`.
"""

from __future__ import annotations

import calendar as gregorian
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.base import PeriodKind
from models.progress import ReportingPeriod
from tasks.common.calendar import WorkingCalendar

# The one place the period labels live (Vietnamese, as printed on reports and in ReportingPeriod.label).
PERIOD_LABELS: dict[PeriodKind, str] = {
    PeriodKind.monthly: "Tháng {number}/{year}",
    PeriodKind.quarterly: "Quý {roman}/{year}",
    PeriodKind.six_monthly: "6 tháng đầu năm {year}",
    PeriodKind.annual: "Năm {year}",
}

_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
_PERIODS_PER_YEAR = {
    PeriodKind.monthly: 12,
    PeriodKind.quarterly: 4,
    PeriodKind.six_monthly: 1,
    PeriodKind.annual: 1,
}
_LAST_MONTH = {  # the month whose cut-off ends period `number` of a kind
    PeriodKind.monthly: lambda number: number,
    PeriodKind.quarterly: lambda number: 3 * number,
    PeriodKind.six_monthly: lambda number: 6,
    PeriodKind.annual: lambda number: 12,
}
_FIRST_MONTH = {  # the month the period covers first: its window opens after the previous month's cut-off
    PeriodKind.monthly: lambda number: number,
    PeriodKind.quarterly: lambda number: 3 * number - 2,
    PeriodKind.six_monthly: lambda number: 1,
    PeriodKind.annual: lambda number: 1,
}

# The last day of each window: a day 1–28 (every month has it), or the last day of the month.
CutoffDay = Annotated[int, Field(ge=1, le=28)] | Literal["end_of_month"]


class PeriodOverride(BaseModel):
    """A province's rule for one kind of period; None keeps the province-wide value."""

    model_config = ConfigDict(frozen=True)

    cutoff_day: CutoffDay | None = Field(
        default=None, description="Last day of each window, 1–28, or end_of_month"
    )
    deadline_working_days: int | None = Field(
        default=None, ge=0, description="Working days after the cut-off"
    )


class ReportingRules(BaseModel):
    """A province's reporting rules; the defaults are the national ones with a 3-working-day deadline."""

    model_config = ConfigDict(frozen=True)

    cutoff_day: CutoffDay = Field(
        default=14, description="Ngày chốt số liệu: last day of each window (1–28), or end_of_month"
    )
    deadline_working_days: int = Field(
        default=3, ge=0, description="Deadline: working days after the cut-off"
    )
    by_kind: dict[PeriodKind, PeriodOverride] = Field(default_factory=dict)

    def cutoff_for(self, kind: PeriodKind) -> CutoffDay:
        override = self.by_kind.get(kind)
        return override.cutoff_day if override and override.cutoff_day is not None else self.cutoff_day

    def deadline_working_days_for(self, kind: PeriodKind) -> int:
        override = self.by_kind.get(kind)
        if override and override.deadline_working_days is not None:
            return override.deadline_working_days
        return self.deadline_working_days


class PeriodSpec(BaseModel):
    """One reporting period: its window (both ends included), label and submission deadline."""

    model_config = ConfigDict(frozen=True)

    kind: PeriodKind
    year: int
    number: int = Field(description="Month 1–12, quarter 1–4, or 1 for six-monthly and annual")
    label: str
    starts_on: date
    ends_on: date = Field(description="Data cut-off (ngày chốt số liệu)")
    deadline: date

    def to_reporting_period(self, cycle_id: int) -> ReportingPeriod:
        """The row to store for a planning cycle."""
        return ReportingPeriod(
            cycle_id=cycle_id,
            kind=self.kind.value,
            label=self.label,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            deadline=self.deadline,
        )


def cutoff_date(year: int, month: int, cutoff: CutoffDay) -> date:
    """The cut-off day of a month: the given day, or the month's last day for ``end_of_month``."""
    if cutoff == "end_of_month":
        return date(year, month, gregorian.monthrange(year, month)[1])
    return date(year, month, int(cutoff))


def period_label(kind: PeriodKind, year: int, number: int = 1) -> str:
    """The Vietnamese label: "Tháng 1/2027", "Quý I/2027", "6 tháng đầu năm 2027", "Năm 2027"."""
    return PERIOD_LABELS[kind].format(number=number, roman=_ROMAN.get(number, str(number)), year=year)


def reporting_period(
    kind: PeriodKind,
    year: int,
    number: int = 1,
    *,
    calendar: WorkingCalendar,
    rules: ReportingRules | None = None,
) -> PeriodSpec:
    """Period ``number`` of ``kind`` in ``year`` (month 1–12, quarter 1–4, otherwise 1).

    The window runs from the day after the previous month's cut-off to the cut-off of its last month, so
    January, Q1, the six months and the year all start in December of the year before. The deadline is
    the cut-off plus the rule's working days (with 0: the cut-off, or the next working day).
    """
    kind = PeriodKind(kind)
    if not 1 <= number <= _PERIODS_PER_YEAR[kind]:
        raise ValueError(f"{kind.value} period number must be 1–{_PERIODS_PER_YEAR[kind]}, not {number}")
    rules = rules or ReportingRules()
    cutoff = rules.cutoff_for(kind)
    ends_on = cutoff_date(year, _LAST_MONTH[kind](number), cutoff)
    first = _FIRST_MONTH[kind](number)
    before_year, before_month = (year - 1, 12) if first == 1 else (year, first - 1)
    starts_on = cutoff_date(before_year, before_month, cutoff) + timedelta(days=1)
    working_days = rules.deadline_working_days_for(kind)
    deadline = (
        calendar.add_working_days(ends_on, working_days)
        if working_days
        else calendar.next_working_day(ends_on, inclusive=True)
    )
    return PeriodSpec(
        kind=kind,
        year=year,
        number=number,
        label=period_label(kind, year, number),
        starts_on=starts_on,
        ends_on=ends_on,
        deadline=deadline,
    )


def default_periods(
    year: int,
    kinds: tuple[PeriodKind, ...] | list[PeriodKind] = tuple(PeriodKind),
    *,
    calendar: WorkingCalendar,
    rules: ReportingRules | None = None,
) -> list[PeriodSpec]:
    """Every period of the given kinds in ``year``, ordered by cut-off (shorter kinds first on a tie)."""
    order = list(PeriodKind)
    periods = [
        reporting_period(kind, year, number, calendar=calendar, rules=rules)
        for kind in dict.fromkeys(PeriodKind(k) for k in kinds)
        for number in range(1, _PERIODS_PER_YEAR[kind] + 1)
    ]
    return sorted(periods, key=lambda p: (p.ends_on, order.index(p.kind)))
