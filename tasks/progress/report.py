"""Where the plan stands during the year: progress per item, unit and plan, late and missing reports,
indicators against their targets, and the status tracked on each plan item. Plain functions:

- ``choose_period``: the period asked for by label, else the latest whose data cut-off has passed.
- ``progress_snapshot``: everything the report shows, computed from the database for one period and one
  ``as_of``. An item's figures come from the latest submitted report up to that period (a unit that missed
  the period is shown with its previous figures, and listed as missing).
- ``track_statuses``: ``PlanItem.status / percent_complete / status_note`` from those latest entries, in
  the caller's transaction; unchanged items are not touched, so running it twice writes nothing.

The Excel report is written by `tasks.progress.report_workbook`, the leadership summary by
`tasks.progress.summary`; every label is in ``templates/workbook/progress_report.yaml``.
Money is integer đồng; percentages weighted by approved amount are exact fractions, rounded for display.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from models import (
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    PlanItem,
    PlanItemAmount,
    PlanningCycle,
    ProgressEntry,
    ProgressReport,
    ReportingPeriod,
    Unit,
    record_audit,
)
from models.base import ItemStatus, PeriodKind, SubmissionStatus, UnitKind
from tasks.common.calendar import WorkingCalendar
from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.consolidation.plan import STATUS_LABELS
from tasks.progress.errors import ProgressError
from templates import load_yaml

# A report counts once the unit has sent it (the coordinator may still accept or return it).
SENT_STATUSES = {SubmissionStatus.submitted.value, SubmissionStatus.accepted.value}
KIND_RANK = {kind.value: rank for rank, kind in enumerate(PeriodKind)}  # annual last on a shared cut-off
STATUS_ORDER = [
    ItemStatus.completed.value,
    ItemStatus.in_progress.value,
    ItemStatus.partly_done.value,
    ItemStatus.not_started.value,
    ItemStatus.suspended.value,
    ItemStatus.cancelled.value,
    ItemStatus.proposed.value,  # "Chưa báo cáo": no report yet
]
COMPARATORS = {
    ">=": lambda v, t: v >= t,
    "≥": lambda v, t: v >= t,
    ">": lambda v, t: v > t,
    "<=": lambda v, t: v <= t,
    "≤": lambda v, t: v <= t,
    "<": lambda v, t: v < t,
    "=": lambda v, t: v == t,
    "==": lambda v, t: v == t,
}


def report_texts() -> dict[str, Any]:
    """Every label of the progress report (workbook, Markdown, artifacts), from the YAML template."""
    return load_yaml("workbook/progress_report.yaml")


# ---------------------------------------------------------------- the snapshot


@dataclass
class ItemProgress:
    plan_item_id: int
    ref: str
    name: str
    unit_id: int
    unit_code: str
    unit_name: str
    approved: int  # đồng, all sources (approved amount, else proposed)
    status: str  # ItemStatus value; "proposed" = never reported
    percent: int | None
    disbursed: int | None
    problems: str | None
    proposals: str | None
    reported_in: str | None  # the period label the figures come from
    current: bool  # True when they come from the period of the report

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def disbursement_rate(self) -> Fraction | None:
        if not self.approved or self.disbursed is None:
            return None
        return Fraction(self.disbursed, self.approved)


@dataclass
class ProgressTotals:
    """Progress of a set of items: counts by status, money (đồng), percent weighted by approved amount."""

    items: int = 0
    approved: int = 0
    disbursed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    weighted_percent: Fraction | None = None

    @property
    def disbursement_rate(self) -> Fraction | None:
        return Fraction(self.disbursed, self.approved) if self.approved else None


def totals_of(items: list[ItemProgress]) -> ProgressTotals:
    """Weighted by approved amount (an item of 2 tỷ at 50% weighs ten times one of 200 triệu at 50%);
    with no approved money at all, the plain mean. An unreported item counts at 0%."""
    totals = ProgressTotals(items=len(items))
    by_status: dict[str, int] = defaultdict(int)
    weighted = 0
    for item in items:
        by_status[item.status] += 1
        totals.approved += item.approved
        totals.disbursed += item.disbursed or 0
        weighted += (item.percent or 0) * item.approved
    totals.by_status = {s: by_status[s] for s in STATUS_ORDER if by_status.get(s)}
    if totals.approved:
        totals.weighted_percent = Fraction(weighted, totals.approved)
    elif items:
        totals.weighted_percent = Fraction(sum(i.percent or 0 for i in items), len(items))
    return totals


@dataclass
class UnitProgress:
    unit_id: int
    unit_code: str
    unit_name: str
    totals: ProgressTotals
    report: ReportState


@dataclass
class ReportState:
    """A unit's report for the period: ``on_time``, ``late`` (sent after the deadline), ``missing``
    (deadline passed, nothing sent), ``not_due`` (nothing sent yet, deadline not passed), ``exempted``."""

    unit_id: int
    unit_code: str
    unit_name: str
    state: str
    deadline: date
    submitted_on: date | None = None
    days_late: int = 0  # calendar days
    working_days_late: int = 0

    @property
    def label(self) -> str:
        texts = report_texts()["report_states"]
        return texts[self.state].format(days=self.days_late, working_days=self.working_days_late)


@dataclass
class IndicatorResult:
    """One reported value of an indicator at one administrative level, against that level's target."""

    code: str
    name: str
    measure_unit: str | None
    level: str
    comparator: str
    target: Decimal | None
    unit_name: str | None
    value: Decimal | None
    note: str | None
    reported_in: str | None
    met: bool | None  # None: no value or no target


@dataclass
class ProgressSnapshot:
    cycle_id: int
    year: int
    title: str
    money_unit: str
    period_label: str
    period_kind: str
    period_ends_on: date
    period_deadline: date
    as_of: date
    items: list[ItemProgress]
    units: list[UnitProgress]
    plan: ProgressTotals
    reports: list[ReportState]
    indicators: list[IndicatorResult]
    decision_number: str | None = None

    @property
    def late(self) -> list[ReportState]:
        return [r for r in self.reports if r.state == "late"]

    @property
    def missing(self) -> list[ReportState]:
        return [r for r in self.reports if r.state == "missing"]

    @property
    def not_due(self) -> list[ReportState]:
        return [r for r in self.reports if r.state == "not_due"]

    @property
    def indicators_met(self) -> int:
        return sum(1 for r in self.indicators if r.met is True)

    @property
    def indicators_not_met(self) -> int:
        return sum(1 for r in self.indicators if r.met is False)

    @property
    def money_unit_label(self) -> str:
        return MONEY_UNIT_LABELS[self.money_unit]

    def money(self, amount: int | None) -> str:
        return format_money(amount, self.money_unit)


def _cut_off(period: ReportingPeriod) -> tuple[date, int]:
    """Where a period stands in time: its last day, then its kind (the longer kind later on a shared day)."""
    return (period.ends_on, KIND_RANK.get(period.kind, 0))


def list_periods(*, session: Session, cycle: PlanningCycle) -> list[ReportingPeriod]:
    """The cycle's periods by cut-off, the longer kind last on a shared cut-off (Q4 before the year)."""
    periods = list(session.exec(select(ReportingPeriod).where(ReportingPeriod.cycle_id == cycle.id)))
    return sorted(periods, key=lambda p: (*_cut_off(p), p.id or 0))


def _periods_up_to(
    session: Session, cycle: PlanningCycle, up_to: ReportingPeriod
) -> dict[int, ReportingPeriod]:
    """The cycle's periods ending on or before ``up_to`` (on the same day, not a longer one), by id."""
    return {p.id: p for p in list_periods(session=session, cycle=cycle) if _cut_off(p) <= _cut_off(up_to)}


def _sent_rows(session: Session, model: Any, periods: dict[int, ReportingPeriod], *where: Any) -> Any:
    """``(row, report)`` for each ``model`` row (entry or indicator value) of a report sent for one of the
    ``periods``, narrowed by ``where``."""
    return session.exec(
        select(model, ProgressReport)
        .join(ProgressReport, col(ProgressReport.id) == col(model.report_id))
        .where(
            col(ProgressReport.period_id).in_(list(periods)),
            col(ProgressReport.status).in_(sorted(SENT_STATUSES)),
            *where,
        )
    )


def choose_period(
    *, session: Session, cycle: PlanningCycle, label: str | None, as_of: date
) -> ReportingPeriod:
    """The period named ``label``, else the latest whose data cut-off is on or before ``as_of``."""
    periods = list_periods(session=session, cycle=cycle)
    if label:
        wanted = " ".join(label.split()).casefold()
        for period in periods:
            if " ".join(period.label.split()).casefold() == wanted:
                return period
        raise ProgressError("unknown_period", label=label, year=cycle.year)
    closed = [p for p in periods if p.ends_on <= as_of]
    if not closed:
        raise ProgressError("no_closed_period", year=cycle.year, as_of=as_of.strftime("%d/%m/%Y"))
    return closed[-1]


def _local_date(moment: datetime | None, timezone: str) -> date | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone)).date()


def approved_items(*, session: Session, cycle: PlanningCycle) -> list[tuple[PlanItem, int]]:
    """The plan's items (not rejected), in plan order, with their approved total in đồng (approved amount
    where set, else the proposed one: the same rule as the approval chain's ``effective_amount``)."""
    items = list(
        session.exec(
            select(PlanItem)
            .where(PlanItem.cycle_id == cycle.id, col(PlanItem.rejected).is_(False))
            .order_by(col(PlanItem.position), col(PlanItem.id))
        )
    )
    totals: dict[int, int] = defaultdict(int)
    if items:
        for amount in session.exec(
            select(PlanItemAmount).where(col(PlanItemAmount.item_id).in_([i.id for i in items]))
        ):
            value = amount.approved_amount if amount.approved_amount is not None else amount.amount
            totals[amount.item_id] += value or 0
    return [(item, totals.get(item.id or 0, 0)) for item in items]


def latest_entries(
    *, session: Session, cycle: PlanningCycle, up_to: ReportingPeriod
) -> dict[int, tuple[ProgressEntry, ReportingPeriod]]:
    """Per plan item, the entry of the latest sent report in a period ending on or before ``up_to``
    (ties on the cut-off go to the longer period: the annual report beats Q4)."""
    periods = _periods_up_to(session, cycle, up_to)
    if not periods:
        return {}
    latest: dict[int, tuple[ProgressEntry, ReportingPeriod]] = {}
    for entry, report in _sent_rows(session, ProgressEntry, periods):
        period = periods[report.period_id]
        key = (*_cut_off(period), period.id or 0)
        held = latest.get(entry.plan_item_id)
        if held is None or key > (*_cut_off(held[1]), held[1].id or 0):
            latest[entry.plan_item_id] = (entry, period)
    return latest


def report_states(
    *,
    session: Session,
    cycle: PlanningCycle,
    period: ReportingPeriod,
    as_of: date,
    unit_ids: set[int],
    calendar: WorkingCalendar,
    timezone: str,
) -> list[ReportState]:
    """Every expected unit's report for ``period`` as of ``as_of``: the units leading an item of the plan
    or responsible for an indicator, and any unit asked for a report for this period."""
    reports = {
        r.unit_id: r
        for r in session.exec(select(ProgressReport).where(ProgressReport.period_id == period.id))
    }
    units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(unit_ids | set(reports))))}
    states: list[ReportState] = []
    for unit_id in sorted(units, key=lambda i: (units[i].code, i)):
        unit = units[unit_id]
        report = reports.get(unit_id)
        deadline = (report.deadline if report and report.deadline else None) or period.deadline
        state = ReportState(
            unit_id=unit_id, unit_code=unit.code, unit_name=unit.name, state="not_due", deadline=deadline
        )
        sent = report is not None and report.status in SENT_STATUSES
        if report is not None and report.status == SubmissionStatus.exempted.value:
            state.state = "exempted"
        elif sent:
            assert report is not None
            submitted = _local_date(report.submitted_at, timezone) or deadline
            state.submitted_on = submitted
            if submitted > deadline:
                state.state = "late"
                state.days_late = (submitted - deadline).days
                state.working_days_late = max(calendar.working_days_between(deadline, submitted), 0)
            else:
                state.state = "on_time"
        elif as_of > deadline:
            state.state = "missing"
            state.days_late = (as_of - deadline).days
            state.working_days_late = max(calendar.working_days_between(deadline, as_of), 0)
        states.append(state)
    order = {"missing": 0, "late": 1, "not_due": 2, "on_time": 3, "exempted": 4}
    return sorted(states, key=lambda s: (order[s.state], -s.days_late, s.unit_code))


def unit_level(kind: str | None) -> str:
    """The administrative level a unit reports for: district and commune People's Committees for their
    level, every provincial body for the province."""
    if kind == UnitKind.district.value:
        return "district"
    if kind == UnitKind.commune.value:
        return "commune"
    return "province"


def _result(
    indicator: Indicator,
    comparator: str,
    level: str,
    target: Decimal | None,
    unit: Unit | None,
    **reported: Any,
) -> IndicatorResult:
    """One line of the indicators table; ``reported`` gives the value, note, period and verdict, if any."""
    return IndicatorResult(
        code=indicator.code,
        name=indicator.name,
        measure_unit=indicator.measure_unit,
        level=level,
        comparator=comparator,
        target=target,
        unit_name=unit.name if unit else None,
        **({"value": None, "note": None, "reported_in": None, "met": None} | reported),
    )


def indicator_results(
    *, session: Session, cycle: PlanningCycle, up_to: ReportingPeriod
) -> list[IndicatorResult]:
    """Every indicator's latest value per reporting unit (up to the period), against the target of the
    unit's level (else the target for ``all``). Targets with no value yet are listed as not reported."""
    indicators = list(
        session.exec(select(Indicator).where(Indicator.cycle_id == cycle.id).order_by(col(Indicator.code)))
    )
    if not indicators:
        return []
    periods = _periods_up_to(session, cycle, up_to)
    targets: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for target in session.exec(
        select(IndicatorTarget).where(col(IndicatorTarget.indicator_id).in_([i.id for i in indicators]))
    ):
        targets[target.indicator_id][target.level] = Decimal(target.target)
    units = {u.id: u for u in session.exec(select(Unit))}
    latest: dict[tuple[int, int], tuple[IndicatorValue, ReportingPeriod]] = {}
    if periods:
        rows = _sent_rows(
            session, IndicatorValue, periods, col(IndicatorValue.indicator_id).in_([i.id for i in indicators])
        )
        for value, report in rows:
            period = periods[report.period_id]
            key = (value.indicator_id, report.unit_id)
            held = latest.get(key)
            if held is None or _cut_off(period) > _cut_off(held[1]):
                latest[key] = (value, period)
    results: list[IndicatorResult] = []
    for indicator in indicators:
        comparator = (indicator.comparator or ">=").strip()
        compare = COMPARATORS.get(comparator)
        by_level = targets.get(indicator.id or 0, {})
        seen_levels: set[str] = set()
        values = sorted(
            ((unit_id, pair) for (ind, unit_id), pair in latest.items() if ind == indicator.id),
            key=lambda entry: (units[entry[0]].code if entry[0] in units else "", entry[0]),
        )

        for unit_id, (value, period) in values:
            unit = units.get(unit_id)
            level = unit_level(unit.kind if unit else None)
            target = by_level.get(level, by_level.get("all"))
            level_shown = level if level in by_level else ("all" if "all" in by_level else level)
            seen_levels.add(level_shown)
            number = Decimal(value.value)
            met = None if target is None or compare is None else bool(compare(number, target))
            results.append(
                _result(
                    indicator,
                    comparator,
                    level_shown,
                    target,
                    unit,
                    value=number,
                    note=value.note,
                    reported_in=period.label,
                    met=met,
                )
            )
        responsible = units.get(indicator.responsible_unit_id) if indicator.responsible_unit_id else None
        results += [
            _result(indicator, comparator, level, target, responsible)
            for level, target in by_level.items()
            if level not in seen_levels
        ]
    return results


def progress_snapshot(
    *,
    session: Session,
    cycle: PlanningCycle,
    period: ReportingPeriod,
    as_of: date,
    timezone: str = "Asia/Ho_Chi_Minh",
    calendar: WorkingCalendar | None = None,
) -> ProgressSnapshot:
    """Everything the progress report shows for ``period`` as of ``as_of`` (reads only)."""
    assert cycle.id is not None
    calendar = calendar or WorkingCalendar.from_session(session)
    plan_items = approved_items(session=session, cycle=cycle)
    latest = latest_entries(session=session, cycle=cycle, up_to=period)
    units = {u.id: u for u in session.exec(select(Unit))}
    items: list[ItemProgress] = []
    for item, approved in plan_items:
        unit = units[item.lead_unit_id]
        found = latest.get(item.id or 0)
        entry, source = found if found else (None, None)
        items.append(
            ItemProgress(
                plan_item_id=item.id,  # type: ignore[arg-type]
                ref=item.row_ref or str(item.position),
                name=item.name,
                unit_id=unit.id,  # type: ignore[arg-type]
                unit_code=unit.code,
                unit_name=unit.name,
                approved=approved,
                status=entry.status if entry else ItemStatus.proposed.value,
                percent=entry.percent_complete if entry else None,
                disbursed=entry.disbursed if entry else None,
                problems=entry.problems if entry else None,
                proposals=entry.proposals if entry else None,
                reported_in=source.label if source else None,
                current=source is not None and source.id == period.id,
            )
        )
    indicator_units = {
        i.responsible_unit_id
        for i in session.exec(select(Indicator).where(Indicator.cycle_id == cycle.id))
        if i.responsible_unit_id is not None
    }
    reports = report_states(
        session=session,
        cycle=cycle,
        period=period,
        as_of=as_of,
        unit_ids={i.unit_id for i in items} | indicator_units,
        calendar=calendar,
        timezone=timezone,
    )
    by_report = {r.unit_id: r for r in reports}
    grouped: dict[int, list[ItemProgress]] = defaultdict(list)
    for item in items:
        grouped[item.unit_id].append(item)
    unit_rows = [
        UnitProgress(
            unit_id=unit_id,
            unit_code=members[0].unit_code,
            unit_name=members[0].unit_name,
            totals=totals_of(members),
            report=by_report[unit_id],
        )
        for unit_id, members in grouped.items()
    ]
    unit_rows.sort(key=lambda u: (-u.totals.approved, u.unit_code))
    return ProgressSnapshot(
        cycle_id=cycle.id,
        year=cycle.year,
        title=cycle.title,
        money_unit=cycle.money_unit,
        period_label=period.label,
        period_kind=period.kind,
        period_ends_on=period.ends_on,
        period_deadline=period.deadline,
        as_of=as_of,
        items=items,
        units=unit_rows,
        plan=totals_of(items),
        reports=reports,
        indicators=indicator_results(session=session, cycle=cycle, up_to=period),
        decision_number=cycle.decision_number,
    )


# ---------------------------------------------------------------- the status tracked during the year


@dataclass
class TrackedStatuses:
    period_label: str
    changed: int
    unchanged: int
    unreported: int


def track_statuses(
    *, session: Session, cycle: PlanningCycle, period: ReportingPeriod, actor: str
) -> TrackedStatuses:
    """Set each approved item's ``status``, ``percent_complete`` and ``status_note`` (problems reported)
    from its latest entry up to ``period``: the status Annex 01 of next year's plan falls back to. In the
    caller's transaction; items already right are not touched and nothing is audited when nothing
    changed, so running it twice writes nothing the second time."""
    latest = latest_entries(session=session, cycle=cycle, up_to=period)
    changed: list[dict[str, Any]] = []
    unchanged = unreported = 0
    for item, _approved in approved_items(session=session, cycle=cycle):
        found = latest.get(item.id or 0)
        if found is None:
            unreported += 1
            continue
        entry, source = found
        note = (entry.problems or "").strip()[:2000] or None
        wanted = (entry.status, entry.percent_complete, note)
        if (item.status, item.percent_complete, item.status_note) == wanted:
            unchanged += 1
            continue
        changed.append(
            {
                "item": item.id,
                "before": [item.status, item.percent_complete],
                "after": [entry.status, entry.percent_complete],
                "period": source.label,
            }
        )
        item.status, item.percent_complete, item.status_note = wanted
        session.add(item)
    if changed:
        record_audit(
            session=session,
            actor=actor,
            action="progress.statuses_tracked",
            subject=cycle,
            cycle=cycle,
            details={"period": period.label, "changed": changed},
        )
    session.flush()
    return TrackedStatuses(
        period_label=period.label, changed=len(changed), unchanged=unchanged, unreported=unreported
    )
