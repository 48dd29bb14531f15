"""Where the plan stands during the year: progress per item, unit and plan, late and missing reports,
indicators against their targets, and the status tracked on each plan item.

Plain functions (no Prefect) first, then the Prefect tasks of the `consolidate-progress` flow:

- ``choose_period``: the period asked for by label, else the latest whose data cut-off has passed.
- ``progress_snapshot``: everything the report shows, computed from the database for one period and one
  ``as_of``. An item's figures come from the latest submitted report up to that period (a unit that missed
  the period is shown with its previous figures, and listed as missing).
- ``track_statuses``: ``PlanItem.status / percent_complete / status_note`` from those latest entries, in
  the caller's transaction; unchanged items are not touched, so running it twice writes nothing.
- ``write_progress_workbook``: the Excel report (sheets Tổng hợp with charts, Theo nhiệm vụ, Theo đơn vị,
  Chỉ tiêu, Chưa báo cáo); texts in ``templates/workbook/progress_report.yaml``.
- ``leadership_summary``: the short Markdown summary for leadership (``templates/reports/``).

Money is integer đồng; percentages weighted by approved amount are exact fractions, rounded for display.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
import yaml
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session, col, select

from models.audit import record_audit
from models.base import ItemStatus, PeriodKind, SubmissionStatus, UnitKind
from models.cycle import PlanningCycle, get_cycle_by_year
from models.db import session_scope
from models.items import PlanItem, PlanItemAmount
from models.progress import (
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    ProgressEntry,
    ProgressReport,
    ReportingPeriod,
)
from models.registry import Unit
from plancycle.settings import get_settings
from tasks.common.calendar import WorkingCalendar
from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.consolidation.annexes import amount_format
from tasks.consolidation.plan import STATUS_LABELS
from tasks.submissions.workbook import render_text
from templates import TEMPLATES_DIR, environment

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


class ProgressError(ValueError):
    """The report cannot be made; ``message_vi`` says why, for the coordinator."""

    def __init__(self, key: str, **values: object) -> None:
        from templates import error_text

        self.message_vi = error_text("progress_report", key, "vi", **values)
        super().__init__(error_text("progress_report", key, "en", **values))


@lru_cache
def progress_texts() -> dict[str, Any]:
    """Every label of the progress report (workbook, Markdown, artifacts), from the YAML template."""
    with (TEMPLATES_DIR / "workbook" / "progress_report.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


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
        texts = progress_texts()["report_states"]
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


def percent_text(value: Fraction | float | int | None, decimals: int = 1) -> str:
    """Display only: 37.25 → "37,3" (Vietnamese decimal comma); None → ""."""
    if value is None:
        return ""
    text = f"{float(value):.{decimals}f}".replace(".", ",")
    return text.removesuffix(",0") if decimals == 1 else text


def decimal_text(value: Decimal | None) -> str:
    """Display only: Decimal("90.0000") → "90", Decimal("12.5000") → "12,5"."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


def list_periods(*, session: Session, cycle: PlanningCycle) -> list[ReportingPeriod]:
    """The cycle's periods by cut-off, the longer kind last on a shared cut-off (Q4 before the year)."""
    periods = list(session.exec(select(ReportingPeriod).where(ReportingPeriod.cycle_id == cycle.id)))
    return sorted(periods, key=lambda p: (p.ends_on, KIND_RANK.get(p.kind, 0), p.id or 0))


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
    from datetime import UTC

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
    periods = {
        p.id: p
        for p in list_periods(session=session, cycle=cycle)
        if (p.ends_on, KIND_RANK.get(p.kind, 0)) <= (up_to.ends_on, KIND_RANK.get(up_to.kind, 0))
    }
    if not periods:
        return {}
    rows = session.exec(
        select(ProgressEntry, ProgressReport)
        .join(ProgressReport, col(ProgressReport.id) == col(ProgressEntry.report_id))
        .where(
            col(ProgressReport.period_id).in_(list(periods)),
            col(ProgressReport.status).in_(sorted(SENT_STATUSES)),
        )
    )
    latest: dict[int, tuple[ProgressEntry, ReportingPeriod]] = {}
    for entry, report in rows:
        period = periods[report.period_id]
        key = (period.ends_on, KIND_RANK.get(period.kind, 0), period.id or 0)
        held = latest.get(entry.plan_item_id)
        if held is None or key > (held[1].ends_on, KIND_RANK.get(held[1].kind, 0), held[1].id or 0):
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
    periods = {
        p.id: p
        for p in list_periods(session=session, cycle=cycle)
        if (p.ends_on, KIND_RANK.get(p.kind, 0)) <= (up_to.ends_on, KIND_RANK.get(up_to.kind, 0))
    }
    targets: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for target in session.exec(
        select(IndicatorTarget).where(col(IndicatorTarget.indicator_id).in_([i.id for i in indicators]))
    ):
        targets[target.indicator_id][target.level] = Decimal(target.target)
    units = {u.id: u for u in session.exec(select(Unit))}
    latest: dict[tuple[int, int], tuple[IndicatorValue, ReportingPeriod]] = {}
    if periods:
        rows = session.exec(
            select(IndicatorValue, ProgressReport)
            .join(ProgressReport, col(ProgressReport.id) == col(IndicatorValue.report_id))
            .where(
                col(ProgressReport.period_id).in_(list(periods)),
                col(ProgressReport.status).in_(sorted(SENT_STATUSES)),
                col(IndicatorValue.indicator_id).in_([i.id for i in indicators]),
            )
        )
        for value, report in rows:
            period = periods[report.period_id]
            key = (value.indicator_id, report.unit_id)
            held = latest.get(key)
            if held is None or (period.ends_on, KIND_RANK.get(period.kind, 0)) > (
                held[1].ends_on,
                KIND_RANK.get(held[1].kind, 0),
            ):
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
            results.append(
                IndicatorResult(
                    code=indicator.code,
                    name=indicator.name,
                    measure_unit=indicator.measure_unit,
                    level=level_shown,
                    comparator=comparator,
                    target=target,
                    unit_name=unit.name if unit else None,
                    value=number,
                    note=value.note,
                    reported_in=period.label,
                    met=None if target is None or compare is None else bool(compare(number, target)),
                )
            )
        for level, target in by_level.items():
            if level not in seen_levels:
                responsible = (
                    units.get(indicator.responsible_unit_id) if indicator.responsible_unit_id else None
                )
                results.append(
                    IndicatorResult(
                        code=indicator.code,
                        name=indicator.name,
                        measure_unit=indicator.measure_unit,
                        level=level,
                        comparator=comparator,
                        target=target,
                        unit_name=responsible.name if responsible else None,
                        value=None,
                        note=None,
                        reported_in=None,
                        met=None,
                    )
                )
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
            entity="planningcycle",
            entity_id=cycle.id,
            cycle_id=cycle.id,
            details={"period": period.label, "changed": changed},
        )
    session.flush()
    return TrackedStatuses(
        period_label=period.label, changed=len(changed), unchanged=unchanged, unreported=unreported
    )


# ---------------------------------------------------------------- the Excel report


class _Formats:
    def __init__(self, wb: Any, money_unit: str) -> None:
        font = {"font_name": "Times New Roman", "font_size": 11}
        cell = font | {"border": 1, "valign": "top", "text_wrap": True}

        def add(**properties: Any) -> Any:
            return wb.add_format(font | properties)

        self.title = add(bold=True, font_size=13, align="center", valign="vcenter", text_wrap=True)
        self.subtitle = add(italic=True, align="center")
        self.section = add(bold=True, font_size=12)
        self.note = add(italic=True, text_wrap=True, valign="top")
        self.header = add(**(cell | {"valign": "vcenter"}), bold=True, align="center", bg_color="#DDEBF7")
        self.text = add(**cell)
        self.center = add(**cell, align="center")
        self.amount = add(**cell, align="right", num_format=amount_format(money_unit))
        self.count = add(**cell, align="right", num_format="#,##0")
        self.percent = add(**cell, align="right", num_format="0.0")
        self.rate = add(**cell, align="right", num_format="0.0%")
        self.decimal = add(**cell, align="right", num_format="#,##0.##")
        self.total_text = add(**cell, bold=True, bg_color="#FFF2CC")
        self.total_amount = add(
            **cell, bold=True, bg_color="#FFF2CC", align="right", num_format=amount_format(money_unit)
        )
        self.total_count = add(**cell, bold=True, bg_color="#FFF2CC", align="right", num_format="#,##0")
        self.total_percent = add(**cell, bold=True, bg_color="#FFF2CC", align="right", num_format="0.0")
        self.total_rate = add(**cell, bold=True, bg_color="#FFF2CC", align="right", num_format="0.0%")
        self.good = add(**cell, align="center", bold=True, font_color="#006100", bg_color="#C6EFCE")
        self.bad = add(**cell, align="center", bold=True, font_color="#9C0006", bg_color="#FFC7CE")
        self.warn = add(**cell, align="center", bold=True, font_color="#9C5700", bg_color="#FFEB9C")


def _text(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _number(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, int):
        ws.write_number(row, col, value, fmt)  # exact đồng, never divided
    else:
        ws.write_number(row, col, float(value), fmt)  # display-only ratios and indicator values


def _headers(ws: Any, row: int, labels: list[str], widths: list[float], fmt: _Formats) -> None:
    for c, (label, width) in enumerate(zip(labels, widths, strict=True)):
        ws.set_column(c, c, width)
        ws.write_string(row, c, label, fmt.header)
    ws.set_row(row, 32)


def _heading(ws: Any, snapshot: ProgressSnapshot, title: str, last_col: int, fmt: _Formats) -> None:
    texts = progress_texts()
    values = _values(snapshot)
    ws.merge_range(0, 0, 0, last_col, render_text(title, **values), fmt.title)
    ws.set_row(0, 36)
    ws.merge_range(1, 0, 1, last_col, render_text(texts["subtitle"], **values), fmt.subtitle)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_footer(texts["footer"])


def _values(snapshot: ProgressSnapshot) -> dict[str, Any]:
    return {
        "year": snapshot.year,
        "title": snapshot.title,
        "period": snapshot.period_label,
        "as_of": snapshot.as_of,
        "deadline": snapshot.period_deadline,
        "ends_on": snapshot.period_ends_on,
        "money_unit_label": snapshot.money_unit_label,
    }


def _write_summary(wb: Any, ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = progress_texts()["summary"]
    sheet = progress_texts()["sheets"]["summary"]
    values = _values(snapshot)
    _heading(ws, snapshot, texts["title"], 5, fmt)
    plan = snapshot.plan
    ws.set_column(0, 0, 42)
    ws.set_column(1, 5, 16)
    row = 3
    ws.write_string(row, 0, texts["overview"], fmt.section)
    facts = [
        (texts["items"], plan.items, fmt.count),
        (texts["approved"].format(**values), plan.approved, fmt.amount),
        (texts["disbursed"].format(**values), plan.disbursed, fmt.amount),
        (texts["disbursement_rate"], plan.disbursement_rate, fmt.rate),
        (texts["weighted_percent"], plan.weighted_percent, fmt.percent),
        (texts["reports_late"], len(snapshot.late), fmt.count),
        (texts["reports_missing"], len(snapshot.missing), fmt.count),
        (texts["indicators_met"], snapshot.indicators_met, fmt.count),
        (texts["indicators_not_met"], snapshot.indicators_not_met, fmt.count),
    ]
    for label, value, number_format in facts:
        row += 1
        ws.write_string(row, 0, label, fmt.text)
        _number(ws, row, 1, value, number_format)
    # by status: the table feeding the doughnut
    row += 2
    ws.write_string(row, 0, texts["by_status"], fmt.section)
    row += 1
    ws.write_string(row, 0, texts["status"], fmt.header)
    ws.write_string(row, 1, texts["count"], fmt.header)
    status_first = row + 1
    for status, count in plan.by_status.items():
        row += 1
        ws.write_string(row, 0, STATUS_LABELS.get(status, status), fmt.text)
        ws.write_number(row, 1, count, fmt.count)
    status_last = row
    # by unit: the table feeding the bars (percent and disbursement)
    row += 2
    ws.write_string(row, 0, texts["by_unit"], fmt.section)
    row += 1
    unit_headers = [texts["unit"], texts["percent"], texts["disbursement_rate"]]
    for c, label in enumerate(unit_headers):
        ws.write_string(row, c, label, fmt.header)
    unit_first = row + 1
    for unit in snapshot.units:
        row += 1
        ws.write_string(row, 0, unit.unit_name, fmt.text)
        _number(ws, row, 1, unit.totals.weighted_percent, fmt.percent)
        _number(ws, row, 2, unit.totals.disbursement_rate, fmt.rate)
    unit_last = row
    charts = texts["charts"]
    if plan.by_status:
        doughnut = wb.add_chart({"type": "doughnut"})
        doughnut.add_series(
            {
                "name": charts["by_status"],
                "categories": [sheet, status_first, 0, status_last, 0],
                "values": [sheet, status_first, 1, status_last, 1],
                "data_labels": {"value": True},
            }
        )
        doughnut.set_title({"name": charts["by_status"]})
        doughnut.set_size({"width": 480, "height": 300})
        ws.insert_chart(3, 7, doughnut)
    if snapshot.units:
        bars = wb.add_chart({"type": "bar"})
        bars.add_series(
            {
                "name": texts["percent"],
                "categories": [sheet, unit_first, 0, unit_last, 0],
                "values": [sheet, unit_first, 1, unit_last, 1],
                "data_labels": {"value": True, "num_format": "0"},
            }
        )
        bars.set_title({"name": charts["by_unit"]})
        bars.set_x_axis({"min": 0, "max": 100})
        bars.set_y_axis({"reverse": True})
        bars.set_legend({"none": True})
        bars.set_size({"width": 620, "height": max(240, 40 + 28 * len(snapshot.units))})
        ws.insert_chart(20, 7, bars)
        money = wb.add_chart({"type": "column"})
        for c, key in ((1, "approved"), (2, "disbursed")):
            money.add_series(
                {
                    "name": texts[f"chart_{key}"],
                    "categories": [sheet, unit_first, 0, unit_last, 0],
                    "values": [progress_texts()["sheets"]["units"], 4, 3 + c, 3 + len(snapshot.units), 3 + c],
                }
            )
        money.set_title({"name": charts["money_by_unit"].format(**values)})
        money.set_y_axis({"num_format": amount_format(snapshot.money_unit)})
        money.set_size({"width": 620, "height": 320})
        ws.insert_chart(20 + max(12, 2 + len(snapshot.units) * 2), 7, money)
    ws.write_string(unit_last + 2, 0, texts["rounding"], fmt.note)


def _write_items(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = progress_texts()["items"]
    columns = texts["columns"]
    labels = [render_text(columns[k], **_values(snapshot)) for k in columns]
    widths = [7, 40, 24, 18, 10, 16, 16, 10, 14, 30, 30]
    _heading(ws, snapshot, texts["title"], len(labels) - 1, fmt)
    _headers(ws, 3, labels, widths, fmt)
    ws.freeze_panes(4, 2)
    row = 3
    for item in snapshot.items:
        row += 1
        _text(ws, row, 0, item.ref, fmt.center)
        _text(ws, row, 1, item.name, fmt.text)
        _text(ws, row, 2, item.unit_name, fmt.text)
        _text(ws, row, 3, item.status_label, fmt.text)
        _number(ws, row, 4, item.percent, fmt.count)
        _number(ws, row, 5, item.approved, fmt.amount)
        _number(ws, row, 6, item.disbursed, fmt.amount)
        _number(ws, row, 7, item.disbursement_rate, fmt.rate)
        source = item.reported_in or ""
        if item.reported_in and not item.current:
            source = render_text(texts["stale"], period=item.reported_in)
        _text(ws, row, 8, source, fmt.center if item.current else fmt.warn)
        _text(ws, row, 9, item.problems, fmt.text)
        _text(ws, row, 10, item.proposals, fmt.text)
    plan = snapshot.plan
    row += 1
    ws.write_blank(row, 0, None, fmt.total_text)
    ws.write_string(row, 1, texts["total"], fmt.total_text)
    for c in (2, 3):
        ws.write_blank(row, c, None, fmt.total_text)
    _number(ws, row, 4, plan.weighted_percent, fmt.total_percent)
    ws.write_number(row, 5, plan.approved, fmt.total_amount)
    ws.write_number(row, 6, plan.disbursed, fmt.total_amount)
    _number(ws, row, 7, plan.disbursement_rate, fmt.total_rate)
    for c in (8, 9, 10):
        ws.write_blank(row, c, None, fmt.total_text)
    ws.autofilter(3, 0, row - 1, len(labels) - 1)


def _write_units(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = progress_texts()["units"]
    columns = texts["columns"]
    statuses = [s for s in STATUS_ORDER if snapshot.plan.by_status.get(s)]
    labels = [render_text(columns[k], **_values(snapshot)) for k in columns]
    labels += [STATUS_LABELS.get(s, s) for s in statuses]
    widths = [12, 36, 10, 12, 17, 17, 12, 22] + [12] * len(statuses)
    _heading(ws, snapshot, texts["title"], len(labels) - 1, fmt)
    _headers(ws, 3, labels, widths, fmt)
    ws.freeze_panes(4, 2)
    row = 3
    for unit in snapshot.units:
        row += 1
        _text(ws, row, 0, unit.unit_code, fmt.center)
        _text(ws, row, 1, unit.unit_name, fmt.text)
        ws.write_number(row, 2, unit.totals.items, fmt.count)
        _number(ws, row, 3, unit.totals.weighted_percent, fmt.percent)
        ws.write_number(row, 4, unit.totals.approved, fmt.amount)
        ws.write_number(row, 5, unit.totals.disbursed, fmt.amount)
        _number(ws, row, 6, unit.totals.disbursement_rate, fmt.rate)
        state_format = {"missing": fmt.bad, "late": fmt.warn, "on_time": fmt.good}.get(
            unit.report.state, fmt.center
        )
        _text(ws, row, 7, unit.report.label, state_format)
        for c, status in enumerate(statuses, start=8):
            ws.write_number(row, c, unit.totals.by_status.get(status, 0), fmt.count)
    plan = snapshot.plan
    row += 1
    ws.write_blank(row, 0, None, fmt.total_text)
    ws.write_string(row, 1, texts["total"], fmt.total_text)
    ws.write_number(row, 2, plan.items, fmt.total_count)
    _number(ws, row, 3, plan.weighted_percent, fmt.total_percent)
    ws.write_number(row, 4, plan.approved, fmt.total_amount)
    ws.write_number(row, 5, plan.disbursed, fmt.total_amount)
    _number(ws, row, 6, plan.disbursement_rate, fmt.total_rate)
    ws.write_blank(row, 7, None, fmt.total_text)
    for c, status in enumerate(statuses, start=8):
        ws.write_number(row, c, plan.by_status.get(status, 0), fmt.total_count)


def _write_indicators(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = progress_texts()["indicators"]
    columns = texts["columns"]
    labels = [columns[k] for k in columns]
    widths = [10, 44, 12, 12, 14, 30, 12, 14, 16, 30]
    _heading(ws, snapshot, texts["title"], len(labels) - 1, fmt)
    _headers(ws, 3, labels, widths, fmt)
    ws.freeze_panes(4, 2)
    if not snapshot.indicators:
        ws.write_string(4, 0, texts["none"], fmt.note)
        return
    levels = progress_texts()["levels"]
    row = 3
    for result in snapshot.indicators:
        row += 1
        _text(ws, row, 0, result.code, fmt.center)
        _text(ws, row, 1, result.name, fmt.text)
        _text(ws, row, 2, levels.get(result.level, result.level), fmt.center)
        _text(ws, row, 3, result.comparator, fmt.center)
        _number(ws, row, 4, result.target, fmt.decimal)
        _text(ws, row, 5, result.unit_name, fmt.text)
        _number(ws, row, 6, result.value, fmt.decimal)
        met_text = (
            texts["met"] if result.met else texts["not_met"] if result.met is False else texts["no_value"]
        )
        met_format = fmt.good if result.met else fmt.bad if result.met is False else fmt.warn
        _text(ws, row, 7, met_text, met_format)
        _text(ws, row, 8, result.reported_in, fmt.center)
        _text(ws, row, 9, result.note, fmt.text)


def _write_missing(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = progress_texts()["missing"]
    columns = texts["columns"]
    labels = [columns[k] for k in columns]
    widths = [12, 40, 14, 14, 26, 12, 14]
    _heading(ws, snapshot, texts["title"], len(labels) - 1, fmt)
    _headers(ws, 3, labels, widths, fmt)
    ws.freeze_panes(4, 0)
    rows = [r for r in snapshot.reports if r.state in ("missing", "late", "not_due")]
    if not rows:
        ws.write_string(4, 0, texts["none"], fmt.note)
        return
    row = 3
    for state in rows:
        row += 1
        _text(ws, row, 0, state.unit_code, fmt.center)
        _text(ws, row, 1, state.unit_name, fmt.text)
        _text(ws, row, 2, state.deadline.strftime("%d/%m/%Y"), fmt.center)
        _text(ws, row, 3, state.submitted_on.strftime("%d/%m/%Y") if state.submitted_on else "", fmt.center)
        _text(ws, row, 4, state.label, fmt.bad if state.state == "missing" else fmt.warn)
        ws.write_number(row, 5, state.days_late, fmt.count)
        ws.write_number(row, 6, state.working_days_late, fmt.count)


def progress_workbook_filename(snapshot: ProgressSnapshot) -> str:
    return render_text(progress_texts()["file_name"], **_values(snapshot) | {"slug": period_slug(snapshot)})


def period_slug(snapshot: ProgressSnapshot) -> str:
    """A file-name-safe key of the period: ``quarterly-3``, ``annual``… from its kind and cut-off."""
    return f"{snapshot.period_kind}-{snapshot.period_ends_on.isoformat()}"


def write_progress_workbook(snapshot: ProgressSnapshot, path: Path) -> Path:
    """Write the report to ``path`` (beside it first, then renamed: a reader never sees half a file)."""
    sheets = progress_texts()["sheets"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    wb = xlsxwriter.Workbook(str(partial))
    fmt = _Formats(wb, snapshot.money_unit)
    summary = wb.add_worksheet(sheets["summary"])
    items = wb.add_worksheet(sheets["items"])
    units = wb.add_worksheet(sheets["units"])
    indicators = wb.add_worksheet(sheets["indicators"])
    missing = wb.add_worksheet(sheets["missing"])
    _write_summary(wb, summary, snapshot, fmt)
    _write_items(items, snapshot, fmt)
    _write_units(units, snapshot, fmt)
    _write_indicators(indicators, snapshot, fmt)
    _write_missing(missing, snapshot, fmt)
    wb.close()
    os.replace(partial, path)
    return path


# ---------------------------------------------------------------- what leadership reads


def leadership_summary(snapshot: ProgressSnapshot, *, workbook_name: str | None = None) -> str:
    """The one-page Markdown summary (Prefect artifact; also the text of a report to leadership)."""
    attention = sorted(
        (i for i in snapshot.items if i.status in ("suspended", "not_started") or i.problems),
        key=lambda i: -i.approved,
    )
    return (
        environment()
        .get_template("reports/progress_summary.md.j2")
        .render(
            s=snapshot,
            texts=progress_texts(),
            labels=STATUS_LABELS,
            pct=percent_text,
            num=decimal_text,
            attention=attention[:10],
            workbook_name=workbook_name,
        )
    )


def units_table(snapshot: ProgressSnapshot) -> list[dict[str, object]]:
    """One row per unit for the Prefect table artifact (amounts in exact đồng)."""
    columns = progress_texts()["artifact_columns"]
    return [
        {
            columns["unit"]: u.unit_name,
            columns["items"]: u.totals.items,
            columns["percent"]: percent_text(u.totals.weighted_percent),
            columns["approved"]: u.totals.approved,
            columns["disbursed"]: u.totals.disbursed,
            columns["report"]: u.report.label,
        }
        for u in snapshot.units
    ]


def require_cycle(session: Session, year: int) -> PlanningCycle:
    cycle = get_cycle_by_year(session=session, year=year)
    if cycle is None or cycle.id is None:
        raise ProgressError("no_cycle", year=year)
    return cycle


# ---------------------------------------------------------------- Prefect tasks of consolidate-progress


@dataclass
class ProgressFiles:
    workbook: Path
    summary: str


def progress_folder(year: int) -> Path:
    """Where a cycle's progress reports go: data_dir/plans/<year>/tien-do."""
    from tasks.consolidation.steps import plan_folder

    folder = plan_folder(year) / "tien-do"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@task(name="tổng hợp tiến độ", cache_policy=NO_CACHE)
def consolidate_period(year: int, period_label: str | None, as_of: date, actor: str) -> ProgressSnapshot:
    """Choose the period, update the status tracked on each item (one transaction) and compute the
    snapshot the report shows."""
    settings = get_settings()
    logger = get_run_logger()
    with session_scope() as session:
        cycle = require_cycle(session, year)
        period = choose_period(session=session, cycle=cycle, label=period_label, as_of=as_of)
        tracked = track_statuses(session=session, cycle=cycle, period=period, actor=actor)
        logger.info(
            "Kỳ %s: cập nhật %s nhiệm vụ, %s không đổi, %s chưa có báo cáo.",
            period.label,
            tracked.changed,
            tracked.unchanged,
            tracked.unreported,
        )
        return progress_snapshot(
            session=session, cycle=cycle, period=period, as_of=as_of, timezone=settings.timezone
        )


@task(name="xuất báo cáo tiến độ", cache_policy=NO_CACHE)
def write_progress_report(snapshot: ProgressSnapshot) -> ProgressFiles:
    """The Excel report and the leadership summary (Markdown file beside it), named by period and date."""
    folder = progress_folder(snapshot.year)
    workbook = write_progress_workbook(snapshot, folder / progress_workbook_filename(snapshot))
    summary = leadership_summary(snapshot, workbook_name=workbook.name)
    workbook.with_suffix(".md").write_text(summary, encoding="utf-8")
    return ProgressFiles(workbook=workbook, summary=summary)


@task(name="công bố báo cáo tiến độ", cache_policy=NO_CACHE)
def publish_progress(snapshot: ProgressSnapshot, files: ProgressFiles) -> None:
    """Artifacts: the leadership summary (Markdown), the units table, a link to the workbook."""
    key = f"progress-{snapshot.year}"
    create_markdown_artifact(files.summary, key=key, description=f"Tiến độ {snapshot.period_label}")
    create_table_artifact(
        table=units_table(snapshot), key=f"{key}-units", description="Tiến độ theo đơn vị chủ trì"
    )
    create_link_artifact(
        link=files.workbook.resolve().as_uri(),
        link_text=files.workbook.name,
        key=f"{key}-workbook",
        description="Báo cáo tiến độ (Excel)",
    )
