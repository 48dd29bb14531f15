"""The reporting calendar of a cycle: Decree 09 windows (15th → 14th), deadlines in working days, a
province's overrides, idempotence, and when a period is open for requests."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from models.base import PeriodKind
from models.progress import ReportingPeriod
from tasks.common.calendar import WorkingCalendar
from tasks.progress.calendar import ReportingOverrides, open_reporting_periods, periods_open_for_requests
from tasks.progress.periods import PeriodOverride
from tasks.progress.requests import request_progress_reports
from tests.factories import make_cycle
from tests.progress.conftest import ProgressWorld

CALENDAR = WorkingCalendar()


def _periods(session: Session, cycle_id: int) -> list[ReportingPeriod]:
    return list(
        session.exec(
            select(ReportingPeriod)
            .where(ReportingPeriod.cycle_id == cycle_id)
            .order_by(ReportingPeriod.ends_on)  # type: ignore[arg-type]
        )
    )


def test_quarters_run_from_the_15th_to_the_14th(session: Session) -> None:
    cycle = make_cycle(session, year=2027)
    periods = open_reporting_periods(session=session, cycle=cycle, calendar=CALENDAR)
    assert [(p.label, p.starts_on, p.ends_on, p.deadline) for p in periods] == [
        ("Quý I/2027", date(2026, 12, 15), date(2027, 3, 14), date(2027, 3, 17)),
        ("Quý II/2027", date(2027, 3, 15), date(2027, 6, 14), date(2027, 6, 17)),
        ("Quý III/2027", date(2027, 6, 15), date(2027, 9, 14), date(2027, 9, 17)),
        ("Quý IV/2027", date(2027, 9, 15), date(2027, 12, 14), date(2027, 12, 17)),
    ]
    again = open_reporting_periods(session=session, cycle=cycle, calendar=CALENDAR)
    assert [p.id for p in again] == [p.id for p in periods]
    assert len(_periods(session, cycle.id)) == 4  # type: ignore[arg-type]


def test_deadline_in_working_days_skips_tet(session: Session) -> None:
    """Cut-off on Monday 1/2/2027, 5 working days: 2/2, 3/2, (Tết 4–10/2), 11/2, 12/2, 15/2."""
    cycle = make_cycle(session, year=2027)
    overrides = ReportingOverrides(
        by_kind={PeriodKind.monthly: PeriodOverride(cutoff_day=1, deadline_working_days=5)}
    )
    periods = open_reporting_periods(
        session=session, cycle=cycle, kinds=["monthly"], overrides=overrides, calendar=CALENDAR
    )
    february = next(p for p in periods if p.label == "Tháng 2/2027")
    assert (february.starts_on, february.ends_on, february.deadline) == (
        date(2027, 1, 2),
        date(2027, 2, 1),
        date(2027, 2, 15),
    )


def test_province_overrides_working_days_and_a_fixed_deadline(session: Session) -> None:
    cycle = make_cycle(session, year=2027)
    overrides = ReportingOverrides(
        deadline_working_days=5,
        fixed_deadlines={"Quý IV/2027": date(2027, 12, 24), "Năm 2027": date(2027, 12, 28)},
    )
    periods = open_reporting_periods(
        session=session,
        cycle=cycle,
        kinds=["quarterly", "six_monthly", "annual"],
        overrides=overrides,
        calendar=CALENDAR,
    )
    deadlines = {p.label: p.deadline for p in periods}
    assert deadlines["Quý I/2027"] == date(2027, 3, 19)  # Sunday 14/3 + 5 working days
    assert deadlines["6 tháng đầu năm 2027"] == date(2027, 6, 21)
    assert deadlines["Quý IV/2027"] == date(2027, 12, 24)
    assert deadlines["Năm 2027"] == date(2027, 12, 28)
    with pytest.raises(ValueError, match="unknown periods"):
        open_reporting_periods(
            session=session,
            cycle=cycle,
            overrides=ReportingOverrides(fixed_deadlines={"Quý V/2027": date(2027, 1, 1)}),
        )


def test_changed_rules_apply_only_until_units_are_asked(progress_world: ProgressWorld) -> None:
    world = progress_world
    world.request_q1()
    later = ReportingOverrides(deadline_working_days=7)
    periods = {
        p.label: p for p in open_reporting_periods(session=world.session, cycle=world.cycle, overrides=later)
    }
    assert periods["Quý I/2027"].deadline == date(2027, 3, 17)  # units were asked: unchanged
    assert periods["Quý II/2027"].deadline == date(2027, 6, 23)  # nobody asked yet: follows the rule


@pytest.mark.parametrize(
    ("as_of", "labels"),
    [
        (date(2027, 3, 5), []),  # before the request day
        (date(2027, 3, 8), ["Quý I/2027"]),  # 5 working days before Sunday 14/3
        (date(2027, 5, 31), ["Quý I/2027"]),
        (date(2027, 6, 7), ["Quý II/2027"]),  # Q2's request day closes Q1's window
        (date(2028, 3, 20), []),  # three months after the year's last cut-off
    ],
)
def test_periods_open_for_requests(progress_world: ProgressWorld, as_of: date, labels: list[str]) -> None:
    world = progress_world
    found = periods_open_for_requests(
        session=world.session, cycle=world.cycle, as_of=as_of, calendar=CALENDAR
    )
    assert [p.label for p in found] == labels


def test_one_report_per_unit_with_items_or_indicators(progress_world: ProgressWorld) -> None:
    world = progress_world
    reports = world.request_q1()
    assert sorted(reports) == ["SNV", "STC", "SYT"]  # SXD leads only a rejected item
    assert all(r.deadline == date(2027, 3, 17) and r.status == "requested" for r in reports.values())
    assert request_progress_reports(session=world.session, cycle=world.cycle, period=world.q1()) == []
