"""Progress-report requests: while a period is open for requests (`tasks.progress.calendar`), every unit that
leads an approved, non-rejected plan item or is responsible for an indicator gets one `ProgressReport` and
one message (keyed by the report, so never sent twice) with its prefilled workbook and portal link.
The rules in words are in docs/progress-reports.md.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel
from sqlmodel import Session, col, select

from models import PlanItem, PlanningCycle, Unit
from models.audit import record_audit
from models.base import CycleStatus, PeriodKind, SubmissionStatus
from models.progress import Indicator, ProgressReport, ReportingPeriod
from models.registry import list_unit_recipients
from plancycle.settings import Settings
from tasks.common.calendar import WorkingCalendar
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import contact_messages, unit_context
from tasks.progress.calendar import ReportingOverrides, open_reporting_periods, periods_open_for_requests
from tasks.progress.workbook import generate_progress_workbook
from tasks.submissions.cycles import require_cycle

REPORTING_CYCLE_STATUSES = (CycleStatus.approved, CycleStatus.implementing)
OPEN_STATUSES = (SubmissionStatus.requested, SubmissionStatus.returned)  # reports still owed


def reporting_units(*, session: Session, cycle: PlanningCycle) -> list[Unit]:
    """Units that lead an approved, non-rejected item of the plan or are responsible for an indicator."""
    leads = select(PlanItem.lead_unit_id).where(
        PlanItem.cycle_id == cycle.id, col(PlanItem.rejected).is_(False)
    )
    owners = select(Indicator.responsible_unit_id).where(
        Indicator.cycle_id == cycle.id, col(Indicator.responsible_unit_id).is_not(None)
    )
    ids = set(session.exec(leads).all()) | set(session.exec(owners).all())
    if not ids:
        return []
    return list(session.exec(select(Unit).where(col(Unit.id).in_(ids)).order_by(col(Unit.code))))


def request_progress_reports(
    *, session: Session, cycle: PlanningCycle, period: ReportingPeriod, actor: str = "system"
) -> list[ProgressReport]:
    """One report per reporting unit for the period (existing ones kept); returns the new ones."""
    existing = set(
        session.exec(select(ProgressReport.unit_id).where(ProgressReport.period_id == period.id)).all()
    )
    new = []
    for unit in reporting_units(session=session, cycle=cycle):
        if unit.id in existing:
            continue
        report = ProgressReport(period_id=period.id, unit_id=unit.id, deadline=period.deadline)  # type: ignore[arg-type]
        session.add(report)
        new.append(report)
    session.flush()
    if new:
        record_audit(
            session=session,
            actor=actor,
            action="progress.reports_requested",
            subject=period,
            cycle=cycle,
            details={"period": period.label, "units": len(new)},
        )
    return new


def ensure_progress_workbook(*, session: Session, report: ProgressReport, settings: Settings) -> Path:
    """The report's workbook file, generated once: a re-run attaches the same file it sent before."""
    period = session.get(ReportingPeriod, report.period_id)
    unit = session.get(Unit, report.unit_id)
    cycle = session.get(PlanningCycle, period.cycle_id) if period else None
    assert period is not None and unit is not None and cycle is not None
    folder = (
        settings.resolved_data_dir / "workbooks" / str(cycle.year) / "progress" / str(period.id) / unit.code
    )
    existing = sorted(folder.glob("*.xlsx")) if folder.exists() else []
    if existing:
        return existing[0]
    filename, content = generate_progress_workbook(session=session, report=report)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    partial = path.with_suffix(".part")
    partial.write_bytes(content)
    partial.replace(path)
    return path


def progress_request_messages(
    *, session: Session, cycle: PlanningCycle, period: ReportingPeriod, settings: Settings
) -> list[Message]:
    """The request, with the workbook attached and the unit's link, for every report still owed.
    Keys are ``progress:<report id>`` so a re-run sends nothing twice."""
    reports = session.exec(
        select(ProgressReport, Unit)
        .join(Unit, col(Unit.id) == ProgressReport.unit_id)
        .where(ProgressReport.period_id == period.id, col(ProgressReport.status).in_(OPEN_STATUSES))
        .order_by(col(Unit.code))
    ).all()
    messages: list[Message] = []
    for report, unit in reports:
        contacts = list_unit_recipients(session=session, unit_id=unit.id)  # type: ignore[arg-type]
        if not contacts:
            continue
        workbook = ensure_progress_workbook(session=session, report=report, settings=settings)
        context = unit_context(session=session, unit=unit, cycle=cycle, settings=settings) | {
            "period_label": period.label,
            "deadline": report.deadline or period.deadline,
        }
        messages += contact_messages(
            contacts=contacts,
            template="progress_report_requested",
            key=f"progress:{report.id}",
            cycle=cycle,
            unit=unit,
            context=context,
            attachments=[workbook],
        )
    return messages


class UnitProgressReport(BaseModel):
    """One report as the unit's portal page shows it."""

    report_id: int
    period_label: str
    ends_on: date
    deadline: date
    status: str
    submitted_at: datetime | None = None


def unit_progress_reports(
    *, session: Session, cycle: PlanningCycle, unit_id: int
) -> list[UnitProgressReport]:
    """The unit's progress reports in the cycle, latest period first."""
    rows = session.exec(
        select(ProgressReport, ReportingPeriod)
        .join(ReportingPeriod, col(ReportingPeriod.id) == ProgressReport.period_id)
        .where(ReportingPeriod.cycle_id == cycle.id, ProgressReport.unit_id == unit_id)
        .order_by(col(ReportingPeriod.ends_on).desc(), col(ReportingPeriod.id).desc())
    ).all()
    return [
        UnitProgressReport(
            report_id=report.id,  # type: ignore[arg-type]
            period_label=period.label,
            ends_on=period.ends_on,
            deadline=report.deadline or period.deadline,
            status=report.status,
            submitted_at=report.submitted_at,
        )
        for report, period in rows
    ]


class PeriodRequests(BaseModel):
    """What one run did for one open period."""

    cycle_year: int
    period_id: int
    period_label: str
    ends_on: date
    deadline: date
    reports: int
    new_reports: int
    submitted: int


def reporting_cycles(*, session: Session, year: int | None) -> list[PlanningCycle]:
    """The given year's cycle, or every cycle whose plan is approved and being implemented."""
    if year is not None:
        return [require_cycle(session=session, year=year)]
    return list(
        session.exec(
            select(PlanningCycle)
            .where(col(PlanningCycle.status).in_(REPORTING_CYCLE_STATUSES))
            .order_by(col(PlanningCycle.year))
        )
    )


def request_reports_for_open_periods(
    *,
    session: Session,
    year: int | None,
    as_of: date,
    kinds: list[PeriodKind | str],
    overrides: ReportingOverrides,
    actor: str,
) -> list[PeriodRequests]:
    """Store each reporting cycle's periods, then for every period open for requests on ``as_of`` one
    report per reporting unit (idempotent). In the caller's transaction."""
    summaries = []
    calendar = WorkingCalendar.from_session(session)
    for cycle in reporting_cycles(session=session, year=year):
        open_reporting_periods(
            session=session, cycle=cycle, kinds=kinds, overrides=overrides, calendar=calendar, actor=actor
        )
        for period in periods_open_for_requests(session=session, cycle=cycle, as_of=as_of, calendar=calendar):
            new = request_progress_reports(session=session, cycle=cycle, period=period, actor=actor)
            statuses = session.exec(
                select(ProgressReport.status).where(ProgressReport.period_id == period.id)
            ).all()
            summaries.append(
                PeriodRequests(
                    cycle_year=cycle.year,
                    period_id=period.id,  # type: ignore[arg-type]
                    period_label=period.label,
                    ends_on=period.ends_on,
                    deadline=period.deadline,
                    reports=len(statuses),
                    new_reports=len(new),
                    submitted=sum(s not in OPEN_STATUSES for s in statuses),
                )
            )
    return summaries


def request_messages_for_periods(
    *, session: Session, period_ids: list[int], settings: Settings
) -> list[Message]:
    """Workbooks, links and request messages for every report still owed in the periods."""
    messages: list[Message] = []
    for period_id in period_ids:
        period = session.get(ReportingPeriod, period_id)
        assert period is not None
        cycle = session.get(PlanningCycle, period.cycle_id)
        assert cycle is not None
        messages += progress_request_messages(session=session, cycle=cycle, period=period, settings=settings)
    return messages
