"""The reporting calendar: the cycle's reporting periods stored with the province's overrides, and which of
them are open for progress-report requests on a given day (docs/progress-reports.md).

`open_reporting_periods` stores the cycle's periods (Decree 09 windows, `tasks.progress.periods`) with the
province's overrides (deadline in working days after the cut-off, or a fixed date per period); idempotent,
and a period nobody has been asked about yet follows a changed override. A period is *open for requests*
from `REQUEST_LEAD_WORKING_DAYS` working days before its cut-off until the request day of the next period
of the same kind.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models import PlanningCycle
from models.audit import record_audit
from models.base import PeriodKind
from models.progress import ProgressReport, ReportingPeriod
from tasks.common.calendar import WorkingCalendar
from tasks.progress.errors import ProgressError
from tasks.progress.periods import CutoffDay, PeriodOverride, ReportingRules, default_periods

REQUEST_LEAD_WORKING_DAYS = 5  # requests go out this many working days before the cut-off


class ReportingOverrides(BaseModel):
    """A province's own reporting rules over the Decree 09 defaults (also the flow's parameter form)."""

    deadline_working_days: int | None = Field(
        None, ge=0, title="Hạn báo cáo: số ngày làm việc sau ngày chốt số liệu (để trống: 3)"
    )
    cutoff_day: CutoffDay | None = Field(
        None, title="Ngày chốt số liệu (1–28 hoặc end_of_month; để trống: 14)"
    )
    by_kind: dict[PeriodKind, PeriodOverride] = Field(
        default_factory=dict, title="Quy định riêng theo loại kỳ (quarterly, six_monthly, annual, monthly)"
    )
    fixed_deadlines: dict[str, date] = Field(
        default_factory=dict,
        title="Hạn cố định theo kỳ",
        description='Theo nhãn kỳ, ví dụ {"Quý IV/2027": "2027-12-20"}; thay cho cách tính ngày làm việc',
    )

    def rules(self) -> ReportingRules:
        defaults = ReportingRules()
        return ReportingRules(
            cutoff_day=self.cutoff_day if self.cutoff_day is not None else defaults.cutoff_day,
            deadline_working_days=(
                self.deadline_working_days
                if self.deadline_working_days is not None
                else defaults.deadline_working_days
            ),
            by_kind=self.by_kind,
        )


def open_reporting_periods(
    *,
    session: Session,
    cycle: PlanningCycle,
    kinds: tuple[PeriodKind | str, ...] | list[PeriodKind | str] = (PeriodKind.quarterly,),
    overrides: ReportingOverrides | None = None,
    calendar: WorkingCalendar | None = None,
    actor: str = "system",
) -> list[ReportingPeriod]:
    """The cycle's reporting periods of ``kinds`` in the plan year, created if missing, ordered by cut-off.

    Idempotent. A stored period whose dates differ from the rules is updated only while no report has
    been requested for it; after that its deadline changes per unit, by extension.
    """
    assert cycle.id is not None
    overrides = overrides or ReportingOverrides()
    calendar = calendar or WorkingCalendar.from_session(session)
    unknown = set(overrides.fixed_deadlines)
    specs = default_periods(
        cycle.year, [PeriodKind(k) for k in kinds], calendar=calendar, rules=overrides.rules()
    )
    existing = {
        (p.kind, p.label): p
        for p in session.exec(select(ReportingPeriod).where(ReportingPeriod.cycle_id == cycle.id))
    }
    requested = set(
        session.exec(
            select(ProgressReport.period_id).where(
                col(ProgressReport.period_id).in_([p.id for p in existing.values()])
            )
        ).all()
    )
    periods: list[ReportingPeriod] = []
    created, changed = [], []
    for spec in specs:
        wanted = spec.to_reporting_period(cycle.id)
        if spec.label in overrides.fixed_deadlines:
            wanted.deadline = overrides.fixed_deadlines[spec.label]
            unknown.discard(spec.label)
        period = existing.get((wanted.kind, wanted.label))
        if period is None:
            session.add(wanted)
            session.flush()
            created.append(wanted.label)
            periods.append(wanted)
            continue
        dates = (wanted.starts_on, wanted.ends_on, wanted.deadline)
        if (period.starts_on, period.ends_on, period.deadline) != dates and period.id not in requested:
            period.starts_on, period.ends_on, period.deadline = dates
            session.add(period)
            changed.append(period.label)
        periods.append(period)
    if unknown:
        raise ProgressError("unknown_fixed_deadlines", labels=sorted(unknown))
    if created or changed:
        record_audit(
            session=session,
            actor=actor,
            action="progress.periods_opened",
            subject=cycle,
            cycle=cycle,
            details={"created": created, "changed": changed, "overrides": overrides.model_dump(mode="json")},
        )
    session.flush()
    return periods


def request_day(period: ReportingPeriod, calendar: WorkingCalendar) -> date:
    """The first day requests for the period go out: a few working days before its cut-off."""
    return calendar.add_working_days(period.ends_on, -REQUEST_LEAD_WORKING_DAYS)


def periods_open_for_requests(
    *, session: Session, cycle: PlanningCycle, as_of: date, calendar: WorkingCalendar
) -> list[ReportingPeriod]:
    """Stored periods whose request window contains ``as_of``: from their request day until the request
    day of the next period of the same kind (three months after the cut-off for the year's last one)."""
    periods = list(
        session.exec(
            select(ReportingPeriod)
            .where(ReportingPeriod.cycle_id == cycle.id)
            .order_by(col(ReportingPeriod.ends_on), col(ReportingPeriod.id))
        )
    )
    open_now = []
    for period in periods:
        later = [p for p in periods if p.kind == period.kind and p.ends_on > period.ends_on]
        closes = request_day(later[0], calendar) if later else period.ends_on + timedelta(days=92)
        if request_day(period, calendar) <= as_of < closes:
            open_now.append(period)
    return open_now
