"""Through the year: the reporting calendar, progress-report requests, progress intake and reminders.

The rules in words are in docs/progress-reports.md. In short:

- **calendar**: `open_reporting_periods` stores the cycle's periods (Decree 09 windows,
  `tasks.progress.periods`) with the province's overrides (deadline in working days after the cut-off,
  or a fixed date per period);
  idempotent, and a period nobody has been asked about yet follows a changed override;
- **requests**: a period is *open for requests* from `REQUEST_LEAD_WORKING_DAYS` working days before its
  cut-off until the request day of the next period of the same kind. While it is open, every unit that
  leads an approved, non-rejected plan item or is responsible for an indicator gets one `ProgressReport`
  and one message (keyed by the report, so never sent twice) with its prefilled workbook and portal link;
- **intake**: `ingest_progress_report` is the submission intake's twin: archive the original, hash it,
  record an `IntakeAttempt`, validate every sheet, row and column, store all or nothing, and treat the
  same file twice as a no-op;
- **reminders**: the reminder rules of `tasks.reminders.schedule` with the cycle's ``progress_report``
  policy; keys
  ``remind:prog:<report id>:<deadline>:<step>``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field
from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from models import PlanItem, PlanningCycle, Unit
from models.audit import record_audit
from models.base import (
    ContactRole,
    CycleStatus,
    IntakeChannel,
    PeriodKind,
    RequestKind,
    SubmissionStatus,
    utcnow,
)
from models.cycle import get_cycle_by_year
from models.db import session_scope
from models.progress import Indicator, IndicatorValue, ProgressEntry, ProgressReport, ReportingPeriod
from models.registry import list_unit_contacts, list_unit_recipients
from models.submissions import IntakeAttempt
from plancycle.settings import Settings, get_settings
from tasks.common.calendar import WorkingCalendar
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import unit_context
from tasks.progress.periods import CutoffDay, PeriodOverride, ReportingRules, default_periods
from tasks.progress.workbook import (
    ProgressIdentity,
    generate_progress_workbook,
    load_progress_context,
    open_progress_workbook,
    progress_issue,
    read_progress_metadata,
    validate_progress_sheets,
)
from tasks.reminders.schedule import due_reminders, effective_deadline, reminder_state
from tasks.reminders.units import (
    ReminderRow,
    UrgingPlan,
    coordinators,
    record_skipped_steps,
    reminder_schedule,
    settled_steps,
)
from tasks.submissions.intake import _original_for_record, archive_original, sanitise_filename
from tasks.submissions.validation import ValidationIssue, make_issue

REQUEST_LEAD_WORKING_DAYS = 5  # requests go out this many working days before the cut-off
REPORTING_CYCLE_STATUSES = (CycleStatus.approved, CycleStatus.implementing)
OPEN_STATUSES = (SubmissionStatus.requested, SubmissionStatus.returned)


# ---------------------------------------------------------------- the reporting calendar


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
        raise ValueError(f"fixed deadlines for unknown periods: {sorted(unknown)}")
    if created or changed:
        record_audit(
            session=session,
            actor=actor,
            action="progress.periods_opened",
            entity="cycle",
            entity_id=cycle.id,
            cycle_id=cycle.id,
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
            entity="reportingperiod",
            entity_id=period.id,
            cycle_id=cycle.id,
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
        messages.extend(
            Message(
                template="progress_report_requested",
                key=f"progress:{report.id}",
                contact_id=contact.id,  # type: ignore[arg-type]
                unit_id=unit.id,
                cycle_id=cycle.id,
                context=context,
                attachments=[workbook],
            )
            for contact in contacts
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


# ---------------------------------------------------------------- intake


class ProgressIntakeResult(BaseModel):
    """What happened to one received progress report file."""

    accepted: bool
    duplicate: bool = False
    attempt_id: int
    report_id: int | None = None
    unit_code: str | None = None
    period_label: str | None = None
    on_time: bool | None = None
    report_status: str | None = None
    entry_count: int = 0
    indicator_count: int = 0
    disbursed_total: int = 0  # đồng
    money_unit: str = "trieu"
    errors: list[ValidationIssue] = []
    original_filename: str
    safe_filename: str
    archive_path: str
    sha256: str
    size_bytes: int


def received_moment(as_of: date, settings: Settings) -> datetime:
    """When a file counts as received: now if ``as_of`` is today, else ``as_of`` at noon (local), in UTC.
    `ProgressReport.submitted_at` carries it, so lateness follows the business date ``as_of``."""
    zone = ZoneInfo(settings.timezone)
    now = datetime.now(zone)
    moment = now if now.date() == as_of else datetime.combine(as_of, time(12, 0), tzinfo=zone)
    return moment.astimezone(UTC)


def report_deadline(session: Session, report: ProgressReport) -> date:
    """The report's deadline as set (per unit after an extension, else the period's)."""
    if report.deadline is not None:
        return report.deadline
    period = session.get(ReportingPeriod, report.period_id)
    assert period is not None
    return period.deadline


def is_late(
    *, session: Session, report: ProgressReport, calendar: WorkingCalendar, settings: Settings | None = None
) -> bool | None:
    """Whether a submitted report came after its deadline (moved to a working day if it fell on a day
    off); None while it has not been submitted."""
    if report.submitted_at is None:
        return None
    settings = settings or get_settings()
    submitted = report.submitted_at if report.submitted_at.tzinfo else report.submitted_at.replace(tzinfo=UTC)
    local_day = submitted.astimezone(ZoneInfo(settings.timezone)).date()
    return local_day > effective_deadline(report_deadline(session, report), calendar)


def _locate_report(
    session: Session,
    identity: ProgressIdentity,
    unit: Unit | None,
    cycle: PlanningCycle | None,
) -> tuple[ProgressReport | None, list[ValidationIssue]]:
    report = session.exec(
        select(ProgressReport).where(ProgressReport.id == identity.report_id).with_for_update()
    ).first()
    period = session.get(ReportingPeriod, report.period_id) if report else None
    report_unit = session.get(Unit, report.unit_id) if report else None
    if report is None or period is None or report_unit is None or report_unit.code != identity.unit_code:
        return None, [progress_issue("unknown_report")]
    if unit is not None and unit.id != report.unit_id:
        return None, [
            make_issue("meta_wrong_unit", found=report_unit.code, expected=unit.code, expected_name=unit.name)
        ]
    if cycle is not None and cycle.id != period.cycle_id:
        return None, [progress_issue("meta_wrong_cycle", found=identity.cycle_year, expected=cycle.year)]
    if report.status == SubmissionStatus.exempted:
        return None, [progress_issue("report_exempted", period_label=period.label)]
    return report, []


def ingest_progress_report(
    *,
    session: Session,
    filename: str,
    content: bytes,
    channel: str,
    as_of: date,
    actor: str,
    unit: Unit | None = None,
    cycle: PlanningCycle | None = None,
    archive_dir: Path | None = None,
    settings: Settings | None = None,
) -> ProgressIntakeResult:
    """Archive, validate and (if valid) store one progress-report workbook; commits its own transaction.

    The workbook's signed metadata names its report. ``unit`` / ``cycle``, when the caller knows them (a
    portal link), must match it. ``as_of`` is the business date the file counts as received on. A valid
    file replaces the report's entries and indicator values; the report becomes ``submitted`` and keeps
    the moment of its first valid file (on time or late by its deadline). The same file as the report's
    current one stores nothing and says ``duplicate``.
    """
    settings = settings or get_settings()
    channel = IntakeChannel(channel).value
    received_at = utcnow()
    sha256 = hashlib.sha256(content).hexdigest()
    safe_name = sanitise_filename(filename)
    workbook, issues = open_progress_workbook(content)
    identity = None
    if workbook is not None:
        identity, issues = read_progress_metadata(workbook)
    report: ProgressReport | None = None
    try:
        if identity is not None:
            report, issues = _locate_report(session, identity, unit, cycle)
        report_unit = session.get(Unit, report.unit_id) if report else unit
        period = session.get(ReportingPeriod, report.period_id) if report else None
        report_cycle = session.get(PlanningCycle, period.cycle_id) if period else cycle
        archive_path = archive_original(
            archive_dir=(archive_dir or settings.archive_dir) / "progress",
            cycle_year=report_cycle.year
            if report_cycle
            else (identity.cycle_year if identity else as_of.year),
            unit_code=report_unit.code if report_unit else "unidentified",
            safe_name=safe_name,
            content=content,
            sha256=sha256,
            at=received_at,
        )
        common: dict[str, Any] = {
            "original_filename": _original_for_record(filename),
            "safe_filename": safe_name,
            "archive_path": str(archive_path),
            "sha256": sha256,
            "size_bytes": len(content),
            "money_unit": report_cycle.money_unit if report_cycle else "trieu",
            "report_id": report.id if report else None,
            "unit_code": report_unit.code if report_unit else None,
            "period_label": period.label if period else None,
        }
        current = session.get(IntakeAttempt, report.attempt_id) if report and report.attempt_id else None
        if report is not None and current is not None and current.sha256 == sha256:
            attempt = _record_attempt(session, channel, common, received_at, accepted=True)
            session.commit()
            return ProgressIntakeResult(
                accepted=True,
                duplicate=True,
                attempt_id=attempt.id,  # type: ignore[arg-type]
                report_status=report.status,
                on_time=not is_late(
                    session=session, report=report, calendar=WorkingCalendar.from_session(session)
                ),
                **common,
            )
        validation = None
        if report is not None and not issues:
            assert workbook is not None
            validation = validate_progress_sheets(
                content, workbook, load_progress_context(session=session, report=report)
            )
            issues = validation.errors
        if issues or validation is None or report is None:
            attempt = _record_attempt(
                session, channel, common, received_at, accepted=False, errors=[i.model_dump() for i in issues]
            )
            if report is not None:
                record_audit(
                    session=session,
                    actor=actor,
                    action="progress.file_refused",
                    entity="progressreport",
                    entity_id=report.id,
                    details={"attempt_id": attempt.id, "errors": len(issues), "channel": channel},
                )
            session.commit()
            return ProgressIntakeResult(
                accepted=False,
                attempt_id=attempt.id,  # type: ignore[arg-type]
                report_status=report.status if report else None,
                errors=issues,
                **common,
            )

        assert report.id is not None and report_cycle is not None
        attempt = _record_attempt(session, channel, common, received_at, accepted=True)
        session.execute(delete(ProgressEntry).where(col(ProgressEntry.report_id) == report.id))
        session.execute(delete(IndicatorValue).where(col(IndicatorValue.report_id) == report.id))
        if validation.entries:
            session.execute(
                insert(ProgressEntry),
                [
                    {"report_id": report.id} | entry.model_dump(exclude={"sheet_row"})
                    for entry in validation.entries
                ],
            )
        if validation.values:
            session.execute(
                insert(IndicatorValue),
                [
                    {"report_id": report.id} | value.model_dump(exclude={"sheet_row"})
                    for value in validation.values
                ],
            )
        previous_status = report.status
        report.status = SubmissionStatus.submitted
        report.attempt_id = attempt.id
        if report.submitted_at is None:
            report.submitted_at = received_moment(as_of, settings)
        session.add(report)
        late = is_late(session=session, report=report, calendar=WorkingCalendar.from_session(session))
        disbursed = sum(e.disbursed or 0 for e in validation.entries)
        record_audit(
            session=session,
            actor=actor,
            action="progress.report_stored",
            entity="progressreport",
            entity_id=report.id,
            cycle_id=report_cycle.id,
            details={
                "unit_code": common["unit_code"],
                "period": common["period_label"],
                "attempt_id": attempt.id,
                "sha256": sha256,
                "channel": channel,
                "as_of": as_of.isoformat(),
                "on_time": not late,
                "entries": len(validation.entries),
                "indicator_values": len(validation.values),
                "disbursed": disbursed,
                "previous_status": previous_status,
            },
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return ProgressIntakeResult(
        accepted=True,
        attempt_id=attempt.id,  # type: ignore[arg-type]
        on_time=not late,
        report_status=report.status,
        entry_count=len(validation.entries),
        indicator_count=len(validation.values),
        disbursed_total=disbursed,
        **common,
    )


def _record_attempt(
    session: Session,
    channel: str,
    common: dict[str, Any],
    received_at: datetime,
    *,
    accepted: bool,
    errors: list[dict] | None = None,
) -> IntakeAttempt:
    # IntakeAttempt.submission_id stays empty: the report points at its accepted attempt, the audit log
    # names refused ones.
    attempt = IntakeAttempt(
        channel=channel,
        original_filename=common["original_filename"],
        archive_path=common["archive_path"],
        sha256=common["sha256"],
        size_bytes=common["size_bytes"],
        accepted=accepted,
        errors=errors,
        received_at=received_at,
    )
    session.add(attempt)
    session.flush()
    return attempt


# ---------------------------------------------------------------- reminders


def _prefix(report_id: int) -> str:
    return f"remind:prog:{report_id}:"


def plan_progress_reminders(
    *, session: Session, cycle: PlanningCycle, as_of: date | datetime, settings: Settings
) -> UrgingPlan:
    """Reminders due now for every progress report of the cycle still owed; stale steps are logged as
    skipped in the caller's transaction. Before and on the deadline the unit gets the request again
    (``progress_report_requested`` with ``days_left``); after it ``progress_report_overdue``; the
    escalation goes to the unit head and the coordinator with the same overdue text."""
    calendar = WorkingCalendar.from_session(session)
    schedule = reminder_schedule(
        session=session, cycle=cycle, kind=RequestKind.progress_report, settings=settings
    )
    escalate_to = coordinators(session, cycle)
    rows = session.exec(
        select(ProgressReport, ReportingPeriod, Unit)
        .join(ReportingPeriod, col(ReportingPeriod.id) == ProgressReport.period_id)
        .join(Unit, col(Unit.id) == ProgressReport.unit_id)
        .where(ReportingPeriod.cycle_id == cycle.id, col(ProgressReport.status).in_(OPEN_STATUSES))
        .order_by(col(ReportingPeriod.ends_on), col(Unit.code))
    ).all()
    plan = UrgingPlan(messages=[], rows=[])
    for report, period, unit in rows:
        deadline = report.deadline or period.deadline
        decisions = due_reminders(
            deadline=deadline,
            as_of=as_of,
            policy=schedule,
            calendar=calendar,
            already_sent=settled_steps(session=session, prefix=_prefix(report.id)),  # type: ignore[arg-type]
            state=reminder_state(report.status),
            not_before=request_day(period, calendar),
        )
        if not decisions:
            continue
        shared = unit_context(session=session, unit=unit, cycle=cycle, settings=settings) | {
            "period_label": period.label
        }
        for decision in decisions:
            record_skipped_steps(
                session=session,
                prefix=_prefix(report.id),  # type: ignore[arg-type]
                step_keys=decision.skipped,
                unit_id=report.unit_id,
                cycle_id=cycle.id,
            )
            if decision.recipients == "officer":
                contacts = list_unit_recipients(session=session, unit_id=unit.id)  # type: ignore[arg-type]
            else:
                heads = list_unit_contacts(session=session, unit_id=unit.id, roles=[ContactRole.head])  # type: ignore[arg-type]
                contacts = heads + escalate_to
            overdue = decision.working_days_overdue > 0
            context = shared | {
                "deadline": decision.effective_deadline,
                "days_left": decision.working_days_left,
                "days_overdue": decision.working_days_overdue,
                "reminder": True,
                "escalation": decision.template.value == "escalation",
            }
            plan.messages.extend(
                Message(
                    template="progress_report_overdue" if overdue else "progress_report_requested",
                    key=f"{_prefix(report.id)}{decision.key}",  # type: ignore[arg-type]
                    contact_id=contact.id,  # type: ignore[arg-type]
                    unit_id=unit.id,
                    cycle_id=cycle.id,
                    context=context,
                )
                for contact in contacts
            )
            plan.rows.append(
                ReminderRow(
                    unit_code=unit.code,
                    unit_name=unit.name,
                    deadline=decision.effective_deadline,
                    step=f"{period.label}: {decision.step}",
                    template=decision.template.value,
                    working_days_left=decision.working_days_left,
                    working_days_overdue=decision.working_days_overdue,
                    skipped=list(decision.skipped),
                )
            )
    session.flush()
    return plan


# ---------------------------------------------------------------- Prefect tasks (the flows' steps)


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
        cycle = get_cycle_by_year(session=session, year=year)
        if cycle is None:
            raise ValueError(f"Không có kỳ kế hoạch năm {year} / no cycle for {year}")
        return [cycle]
    return list(
        session.exec(
            select(PlanningCycle)
            .where(col(PlanningCycle.status).in_(REPORTING_CYCLE_STATUSES))
            .order_by(col(PlanningCycle.year))
        )
    )


@task(name="lập lịch kỳ báo cáo và yêu cầu báo cáo", cache_policy=NO_CACHE)
def open_periods_and_request(
    year: int | None,
    as_of: date,
    kinds: list[str],
    overrides: ReportingOverrides,
    actor: str,
) -> list[PeriodRequests]:
    """Store each reporting cycle's periods, then for every period open for requests on ``as_of`` one
    report per reporting unit (idempotent)."""
    summaries = []
    with session_scope() as session:
        calendar = WorkingCalendar.from_session(session)
        for cycle in reporting_cycles(session=session, year=year):
            open_reporting_periods(
                session=session, cycle=cycle, kinds=kinds, overrides=overrides, calendar=calendar, actor=actor
            )
            for period in periods_open_for_requests(
                session=session, cycle=cycle, as_of=as_of, calendar=calendar
            ):
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


@task(name="chuẩn bị văn bản đề nghị báo cáo tiến độ", cache_policy=NO_CACHE)
def prepare_progress_messages(period_ids: list[int]) -> list[Message]:
    """Workbooks, links and request messages for every report still owed in the periods."""
    settings = get_settings()
    messages: list[Message] = []
    with session_scope() as session:
        for period_id in period_ids:
            period = session.get(ReportingPeriod, period_id)
            assert period is not None
            cycle = session.get(PlanningCycle, period.cycle_id)
            assert cycle is not None
            messages += progress_request_messages(
                session=session, cycle=cycle, period=period, settings=settings
            )
    return messages


@task(name="nhắc hạn báo cáo tiến độ", cache_policy=NO_CACHE)
def remind_progress_reports(moment: date | datetime) -> tuple[list[Message], list[ReminderRow]]:
    """Reminders due now about every progress report still owed, in every cycle being implemented."""
    settings = get_settings()
    messages: list[Message] = []
    rows: list[ReminderRow] = []
    with session_scope() as session:
        for cycle in reporting_cycles(session=session, year=None):
            plan = plan_progress_reminders(session=session, cycle=cycle, as_of=moment, settings=settings)
            messages += plan.messages
            rows += plan.rows
    if rows:
        day = moment.date() if isinstance(moment, datetime) else moment
        create_table_artifact(
            table=[r.model_dump(mode="json") for r in rows],
            key="progress-reminders",
            description=f"Nhắc hạn báo cáo tiến độ ngày {day:%d/%m/%Y}",
        )
    return messages, rows
