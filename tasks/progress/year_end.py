"""The end of the plan year: every approved item's final status from the last report, the cycle closed,
and the unfinished items left as next year's carry-over candidates.

``close_year`` is the step that makes ``PlanItem.status`` right for the two readers of last year's plan:
next cycle's unit workbooks (``tasks.submissions.workbook.load_workbook_context``: items neither completed nor
cancelled are prefilled as carry-over) and next cycle's Annex 01
(``tasks.consolidation.plan.build_plan``, which
falls back to that status where a unit reports none in its submission).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session

from models.audit import record_audit
from models.base import CycleStatus, PeriodKind
from models.cycle import PlanningCycle
from models.items import PlanItem
from models.progress import ReportingPeriod
from models.registry import Unit
from tasks.consolidation.plan import STATUS_LABELS
from tasks.progress.errors import ProgressError
from tasks.progress.report import (
    ReportState,
    approved_items,
    list_periods,
    progress_snapshot,
    report_texts,
    track_statuses,
)
from tasks.submissions.workbook import CLOSED_STATUSES

# A cycle still running may be closed; a draft or one still in approval may not.
CLOSABLE = {CycleStatus.approved.value, CycleStatus.implementing.value, CycleStatus.closed.value}


@dataclass
class YearEnd:
    year: int
    period_label: str
    final_statuses: dict[int, str]  # plan item id → status
    carry_over_candidates: dict[int, list[int]]  # lead unit id → plan item ids, in plan order
    unreported: list[int] = field(default_factory=list)  # items no report ever covered
    missing_reports: list[ReportState] = field(default_factory=list)
    closed_now: bool = True


def last_period(*, session: Session, cycle: PlanningCycle) -> ReportingPeriod:
    """The year's last report: the annual period when there is one, else the period with the latest
    cut-off (the longer kind on a tie)."""
    periods = list_periods(session=session, cycle=cycle)
    if not periods:
        raise ProgressError("no_periods", year=cycle.year)
    annual = [p for p in periods if p.kind == PeriodKind.annual.value]
    return annual[-1] if annual else periods[-1]


def close_year(
    *,
    session: Session,
    cycle: PlanningCycle,
    as_of: date,
    actor: str = "year-end",
    timezone: str = "Asia/Ho_Chi_Minh",
) -> YearEnd:
    """Set every approved item's final status from its latest report up to the last period, mark the
    cycle ``closed``, and return the carry-over candidates per lead unit. In the caller's transaction.

    Idempotent: a second call changes nothing and writes no second ``year.closed`` audit entry. Units that
    have not sent the last report keep their latest earlier figures; they are listed in
    ``missing_reports`` (closing does not wait for them: the coordinator decides when the year is over).
    Items never reported keep the status they had (``proposed``, shown as «Chưa báo cáo»): not closed, so
    they are carry-over candidates too."""
    assert cycle.id is not None
    if cycle.status not in CLOSABLE:
        raise ProgressError("not_approved", year=cycle.year, status=cycle.status)
    period = last_period(session=session, cycle=cycle)
    tracked = track_statuses(session=session, cycle=cycle, period=period, actor=actor)
    snapshot = progress_snapshot(session=session, cycle=cycle, period=period, as_of=as_of, timezone=timezone)
    final: dict[int, str] = {}
    candidates: dict[int, list[int]] = {}
    for item, _approved in approved_items(session=session, cycle=cycle):
        assert item.id is not None
        final[item.id] = item.status
        if item.status not in CLOSED_STATUSES:
            candidates.setdefault(item.lead_unit_id, []).append(item.id)
    unreported = [i.plan_item_id for i in snapshot.items if i.reported_in is None]
    closed_now = cycle.status != CycleStatus.closed.value
    if closed_now:
        cycle.status = CycleStatus.closed
        session.add(cycle)
        record_audit(
            session=session,
            actor=actor,
            action="year.closed",
            subject=cycle,
            cycle=cycle,
            details={
                "as_of": as_of.isoformat(),
                "period": period.label,
                "statuses_changed": tracked.changed,
                "carry_over_candidates": sorted(i for ids in candidates.values() for i in ids),
                "unreported": unreported,
                "missing_reports": [r.unit_code for r in snapshot.missing],
            },
        )
    session.flush()
    return YearEnd(
        year=cycle.year,
        period_label=period.label,
        final_statuses=final,
        carry_over_candidates=candidates,
        unreported=unreported,
        missing_reports=snapshot.missing,
        closed_now=closed_now,
    )


def carry_over_rows(*, session: Session, year_end: YearEnd) -> list[dict[str, object]]:
    """The carry-over candidates as the coordinator reads them (unit, item, status, percent), one row per
    item, by lead unit; column names from ``templates/workbook/progress_report.yaml``."""
    columns = report_texts()["runs"]["carry_over_columns"]
    rows: list[dict[str, object]] = []
    for unit_id, item_ids in year_end.carry_over_candidates.items():
        unit = session.get(Unit, unit_id)
        for item_id in item_ids:
            item = session.get(PlanItem, item_id)
            assert item is not None
            rows.append(
                {
                    columns["unit"]: unit.name if unit else str(unit_id),
                    columns["item"]: item.name,
                    columns["status"]: STATUS_LABELS.get(item.status, item.status),
                    columns["percent"]: item.percent_complete,
                }
            )
    return rows
