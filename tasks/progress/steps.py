"""The Prefect tasks of the progress flows (request-progress-reports, consolidate-progress, close-year and
the progress part of send-reminders): each opens one transaction, calls the plain rules of
`tasks.progress` and `tasks.reminders.progress`, and publishes what the coordinator reads. Every text comes
from ``templates/workbook/progress_report.yaml`` (``runs``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from models.db import session_scope
from plancycle.settings import get_settings
from tasks.artifacts import next_step, publish_file_link, publish_markdown
from tasks.consolidation.outputs import plan_folder
from tasks.excel.layout import render_text
from tasks.notify.delivery import Message
from tasks.progress.calendar import ReportingOverrides
from tasks.progress.report import (
    ProgressSnapshot,
    choose_period,
    progress_snapshot,
    report_texts,
    track_statuses,
)
from tasks.progress.report_workbook import report_workbook_filename, write_progress_workbook
from tasks.progress.requests import (
    PeriodRequests,
    request_messages_for_periods,
    request_reports_for_open_periods,
)
from tasks.progress.summary import leadership_summary, run_summary, units_table
from tasks.progress.year_end import carry_over_rows, close_year
from tasks.reminders.progress import plan_all_progress_reminders
from tasks.reminders.units import ReminderRow
from tasks.submissions.cycles import require_cycle


def run_text(key: str, **values: object) -> str:
    """A run text (artifact description) of the progress flows."""
    return render_text(report_texts()["runs"][key], **values)


def log_progress(key: str, **values: object) -> None:
    """Log one of the progress flows' run messages (``runs.log.<key>``) to the current run."""
    get_run_logger().info(render_text(report_texts()["runs"]["log"][key], **values))


# ---------------------------------------------------------------- request-progress-reports


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
    with session_scope() as session:
        periods = request_reports_for_open_periods(
            session=session, year=year, as_of=as_of, kinds=list(kinds), overrides=overrides, actor=actor
        )
    if not periods:
        log_progress("no_period_open")
    return periods


@task(name="chuẩn bị văn bản đề nghị báo cáo tiến độ", cache_policy=NO_CACHE)
def prepare_progress_messages(period_ids: list[int]) -> list[Message]:
    """Workbooks, links and request messages for every report still owed in the periods."""
    with session_scope() as session:
        return request_messages_for_periods(session=session, period_ids=period_ids, settings=get_settings())


def publish_requests(as_of: date, periods: list[PeriodRequests], summary: dict[str, int]) -> None:
    """The run's Markdown artifact: the periods open for requests and what was sent."""
    publish_markdown(
        "reports/progress_requests.md.j2",
        key="progress-requests",
        description=run_text("requests_description", as_of=as_of),
        next_step=next_step("progress_requested", {"periods": periods}) if periods else None,
        as_of=as_of,
        periods=periods,
        summary=summary,
    )


# ---------------------------------------------------------------- send-reminders


@task(name="nhắc hạn báo cáo tiến độ", cache_policy=NO_CACHE)
def remind_progress_reports(moment: date | datetime) -> tuple[list[Message], list[ReminderRow]]:
    """Reminders due now about every progress report still owed, in every cycle being implemented."""
    with session_scope() as session:
        plan = plan_all_progress_reminders(session=session, as_of=moment, settings=get_settings())
    if plan.rows:
        day = moment.date() if isinstance(moment, datetime) else moment
        create_table_artifact(
            table=[r.model_dump(mode="json") for r in plan.rows],
            key="progress-reminders",
            description=run_text("reminders_description", day=day),
        )
    return plan.messages, plan.rows


# ---------------------------------------------------------------- consolidate-progress


@dataclass
class ProgressFiles:
    workbook: Path
    summary: str


def progress_folder(year: int) -> Path:
    """Where a cycle's progress reports go: data_dir/plans/<year>/tien-do."""
    folder = plan_folder(year) / "tien-do"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@task(name="tổng hợp tiến độ", cache_policy=NO_CACHE)
def consolidate_period(year: int, period_label: str | None, as_of: date, actor: str) -> ProgressSnapshot:
    """Choose the period, update the status tracked on each item (one transaction) and compute the
    snapshot the report shows."""
    settings = get_settings()
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        period = choose_period(session=session, cycle=cycle, label=period_label, as_of=as_of)
        tracked = track_statuses(session=session, cycle=cycle, period=period, actor=actor)
        log_progress(
            "statuses_tracked",
            period=period.label,
            changed=tracked.changed,
            unchanged=tracked.unchanged,
            unreported=tracked.unreported,
        )
        return progress_snapshot(
            session=session, cycle=cycle, period=period, as_of=as_of, timezone=settings.timezone
        )


@task(name="xuất báo cáo tiến độ", cache_policy=NO_CACHE)
def write_progress_report(snapshot: ProgressSnapshot) -> ProgressFiles:
    """The Excel report and the leadership summary (Markdown file beside it), named by period and date."""
    folder = progress_folder(snapshot.year)
    workbook = write_progress_workbook(snapshot, folder / report_workbook_filename(snapshot))
    summary = leadership_summary(snapshot, workbook_name=workbook.name)
    workbook.with_suffix(".md").write_text(summary, encoding="utf-8")
    return ProgressFiles(workbook=workbook, summary=summary)


@task(name="công bố báo cáo tiến độ", cache_policy=NO_CACHE)
def publish_progress(snapshot: ProgressSnapshot, files: ProgressFiles) -> dict[str, object]:
    """Artifacts: the leadership summary (Markdown), the units table, a link to the workbook; returns and
    logs the run's figures."""
    key = f"progress-{snapshot.year}"
    create_markdown_artifact(
        files.summary, key=key, description=run_text("summary_description", period=snapshot.period_label)
    )
    create_table_artifact(
        table=units_table(snapshot), key=f"{key}-units", description=run_text("units_description")
    )
    publish_file_link(files.workbook, key=f"{key}-workbook", description=run_text("workbook_description"))
    summary = run_summary(snapshot, files.workbook)
    log_progress("consolidated", period=snapshot.period_label, summary=summary)
    return summary


# ---------------------------------------------------------------- close-year


@task(name="khóa sổ cuối năm", cache_policy=NO_CACHE)
def close(year: int, as_of: date) -> dict[str, object]:
    """Close the year in one transaction, publish the carry-over list, and return what was done."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        result = close_year(
            session=session,
            cycle=cycle,
            as_of=as_of,
            actor="flow:close-year",
            timezone=get_settings().timezone,
        )
        session.commit()
        rows = carry_over_rows(session=session, year_end=result)
    create_table_artifact(
        table=rows or [report_texts()["runs"]["carry_over_none"]],
        key=f"carry-over-{year}",
        description=run_text("carry_over_description", next_year=year + 1, period=result.period_label),
    )
    return {
        "period": result.period_label,
        "items": len(result.final_statuses),
        "carry_over": len(rows),
        "unreported_items": len(result.unreported),
        "missing_reports": [r.unit_code for r in result.missing_reports],
        "closed_now": result.closed_now,
    }
