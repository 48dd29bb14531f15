"""Progress intake: `ingest_progress_report` is the submission intake's twin (`tasks.submissions.intake`):
archive the original, hash it, record an `IntakeAttempt`, validate every sheet, row and column, store all
or nothing, and treat the same file twice as a no-op. The rules in words are in docs/progress-reports.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from models import PlanningCycle, Unit
from models.audit import record_audit
from models.base import IntakeChannel, SubmissionStatus, utcnow
from models.progress import IndicatorValue, ProgressEntry, ProgressReport, ReportingPeriod
from models.submissions import IntakeAttempt
from plancycle.settings import Settings, get_settings
from tasks.common.calendar import WorkingCalendar
from tasks.excel.files import open_checked
from tasks.excel.issues import ValidationIssue, cap_issues, make_issue
from tasks.progress.validation import (
    ProgressIdentity,
    progress_issue,
    read_progress_metadata,
    validate_progress_sheets,
)
from tasks.progress.workbook import load_progress_context
from tasks.reminders.schedule import effective_deadline
from tasks.submissions.intake import (
    ReceivedFile,
    archive_if_possible,
    archive_received,
    log_intake_fault,
    record_intake_attempt,
)


class ProgressIntakeResult(ReceivedFile):
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
    errors: list[ValidationIssue] = []  # capped as for submissions (`cap_issues`)
    error_count: int | None = None


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
    workbook, issues = open_checked(content)
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
        received = archive_received(
            archive_dir=(archive_dir or settings.archive_dir) / "progress",
            cycle_year=report_cycle.year
            if report_cycle
            else (identity.cycle_year if identity else as_of.year),
            unit_code=report_unit.code if report_unit else "unidentified",
            filename=filename,
            content=content,
            at=received_at,
        )
        sha256 = received["sha256"]
        common: dict[str, Any] = received | {
            "money_unit": report_cycle.money_unit if report_cycle else "trieu",
            "report_id": report.id if report else None,
            "unit_code": report_unit.code if report_unit else None,
            "period_label": period.label if period else None,
        }
        # IntakeAttempt.submission_id stays empty: the report points at its accepted attempt, the audit
        # log names refused ones.
        record_attempt = partial(
            record_intake_attempt,
            session=session,
            submission_id=None,
            channel=channel,
            received=common,
            received_at=received_at,
        )
        current = session.get(IntakeAttempt, report.attempt_id) if report and report.attempt_id else None
        if report is not None and current is not None and current.sha256 == sha256:
            attempt = record_attempt(accepted=True)
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
            error_count = len(issues)
            issues = cap_issues(issues)
            attempt = record_attempt(accepted=False, errors=[i.model_dump() for i in issues])
            if report is not None:
                record_audit(
                    session=session,
                    actor=actor,
                    action="progress.file_refused",
                    subject=report,
                    details={"attempt_id": attempt.id, "errors": error_count, "channel": channel},
                )
            session.commit()
            return ProgressIntakeResult(
                accepted=False,
                attempt_id=attempt.id,  # type: ignore[arg-type]
                report_status=report.status if report else None,
                errors=issues,
                error_count=error_count,
                **common,
            )

        assert report.id is not None and report_cycle is not None
        attempt = record_attempt(accepted=True)
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
            subject=report,
            cycle=report_cycle,
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


def ingest_progress_or_record(
    *,
    session: Session,
    filename: str,
    content: bytes,
    channel: str,
    as_of: date,
    actor: str,
    unit: Unit | None = None,
    cycle: PlanningCycle | None = None,
    settings: Settings | None = None,
    log_traceback: bool = True,
) -> ProgressIntakeResult:
    """:func:`ingest_progress_report`, and when it fails on anything but the file's content (a full disk,
    the database), the file recorded as a refused attempt with the generic message (``intake_failed``):
    as :func:`tasks.submissions.intake.ingest_or_record` does for submissions, on every channel. The
    fault is logged, with its traceback unless ``log_traceback`` is False (the command line). Raises only
    when even the attempt cannot be written."""
    try:
        return ingest_progress_report(
            session=session,
            filename=filename,
            content=content,
            channel=channel,
            as_of=as_of,
            actor=actor,
            unit=unit,
            cycle=cycle,
            settings=settings,
        )
    except Exception as fault:
        log_intake_fault(f"progress report intake of {channel}", fault, traceback=log_traceback)
        session.rollback()
    settings = settings or get_settings()
    received_at = utcnow()
    received = archive_if_possible(
        archive_dir=settings.archive_dir / "progress",
        cycle_year=cycle.year if cycle else as_of.year,
        unit_code=unit.code if unit else "unidentified",
        filename=filename,
        content=content,
        at=received_at,
    )
    issue = make_issue("intake_failed")
    attempt = record_intake_attempt(
        session=session,
        submission_id=None,
        channel=IntakeChannel(channel).value,
        received=received,
        received_at=received_at,
        accepted=False,
        errors=[issue.model_dump()],
    )
    session.commit()
    return ProgressIntakeResult(
        accepted=False,
        attempt_id=attempt.id,  # type: ignore[arg-type]
        unit_code=unit.code if unit else None,
        money_unit=cycle.money_unit if cycle else "trieu",
        errors=[issue],
        **received,
    )
