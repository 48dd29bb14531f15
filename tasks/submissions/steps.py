"""Prefect tasks of the submission season: opening the cycle and calling for submissions, inbox intake,
status artifacts, review decisions; and the reports the flows publish at their end."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import col, select

from models import PlanningCycle
from models.base import CycleStatus
from models.cycle import get_cycle_by_year
from models.db import session_scope
from plancycle.settings import get_settings
from tasks.artifacts import next_step, publish_file_link, publish_markdown, render_next_step
from tasks.common.numbers import rounded_percent
from tasks.notify.delivery import Message
from tasks.submissions.calls import call_messages
from tasks.submissions.cycles import CycleSpec, OpenedCycle, open_cycle_records, require_cycle
from tasks.submissions.dashboard import (
    build_dashboard,
    dashboard_markdown,
    dashboard_path,
    dashboard_workbook,
)
from tasks.submissions.dashboard import words as dashboard_words
from tasks.submissions.inbox import InboxOutcome, collect_inbox
from tasks.submissions.review import (
    BatchAcceptance,
    ItemComment,
    ReviewError,
    ReviewOutcome,
    accept_submission,
    accept_submissions,
    changes_since_previous,
    exempt_unit,
    extend_deadline,
    return_submission,
)
from tasks.submissions.status import UnitStatusRow, answered_share, status_rows, status_table
from templates import environment, load_yaml


def texts() -> dict:
    """The stage's artifact descriptions and log lines: ``templates/reports/submissions.vi.yaml``."""
    return load_yaml("reports/submissions.vi.yaml")


# ---------------------------------------------------------------- opening the cycle


@task(name="mở kỳ và lập yêu cầu", cache_policy=NO_CACHE)
def open_cycle_task(spec: CycleSpec, as_of: date, actor: str) -> OpenedCycle:
    """Create the cycle and one submission request per selected unit (idempotent)."""
    with session_scope() as session:
        return open_cycle_records(session=session, spec=spec, as_of=as_of, actor=actor)


@task(name="chuẩn bị văn bản đề nghị", cache_policy=NO_CACHE)
def prepare_call_messages(cycle_id: int) -> list[Message]:
    """Workbooks, links and messages for every unit still asked to submit."""
    settings = get_settings()
    with session_scope() as session:
        cycle = session.get(PlanningCycle, cycle_id)
        assert cycle is not None
        return call_messages(session=session, cycle=cycle, settings=settings)


def publish_open_cycle(
    year: int, summary: dict[str, int], as_of: date, after: dict[str, Any] | None = None
) -> None:
    """The run's summary artifact ``open-cycle-<year>``, ending with the next step (``after``: the
    cycle's counts from ``refresh_dashboard``)."""
    publish_markdown(
        "reports/open_cycle.md.j2",
        key=f"open-cycle-{year}",
        description=texts()["artifacts"]["open_cycle"].format(year=year),
        next_step=next_step("open_cycle", after) if after else None,
        year=year,
        summary=summary,
        as_of=as_of,
    )


# ---------------------------------------------------------------- collecting


def resolve_cycle_year(year: int | None) -> int | None:
    """The given year, or the latest cycle still collecting submissions (None when there is none)."""
    if year is not None:
        return year
    with session_scope() as session:
        cycle = session.exec(
            select(PlanningCycle)
            .where(col(PlanningCycle.status) == CycleStatus.collecting)
            .order_by(col(PlanningCycle.year).desc())
        ).first()
        return cycle.year if cycle is not None else None


@task(name="nhận tệp từ hộp thư đến", cache_policy=NO_CACHE)
def ingest_inbox(year: int | None, inbox_url: str, as_of: date) -> list[InboxOutcome]:
    """Ingest every workbook waiting in the inbox folder (one intake routine, one transaction each)."""
    settings = get_settings()
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year) if year is not None else None
        return collect_inbox(
            session=session, cycle=cycle, inbox_url=inbox_url, as_of=as_of, settings=settings
        )


@task(name="cập nhật tình hình gửi đề xuất", cache_policy=NO_CACHE)
def publish_status(year: int, as_of: date) -> list[UnitStatusRow]:
    """Table artifact (unit, status, version, received, on time or late, items, totals by source) and a
    progress artifact (share of units that answered)."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        rows = status_rows(session=session, cycle=cycle, as_of=as_of)
        table = status_table(session=session, cycle=cycle, rows=rows)
    share = answered_share(rows)
    create_table_artifact(
        table=table,
        key=f"submission-status-{year}",
        description=environment()
        .get_template("reports/status_caption.md.j2")
        .render(year=year, as_of=as_of, share=share, rows=rows),
    )
    create_progress_artifact(
        progress=rounded_percent(share),
        key=f"submission-progress-{year}",
        description=texts()["artifacts"]["submission_progress"].format(year=year),
    )
    return rows


def log_no_collecting_cycle(files: int) -> None:
    """Say in the run's log that no cycle collects submissions, so only progress reports were taken."""
    get_run_logger().info(texts()["log"]["no_collecting_cycle"].format(files=files))


def log_collected(summary: dict[str, int]) -> None:
    """The run's summary in its log."""
    get_run_logger().info(texts()["log"]["collected"].format(**summary))


# ---------------------------------------------------------------- review


@task(name="ghi quyết định xem xét", cache_policy=NO_CACHE)
def record_review(
    year: int,
    unit_code: str,
    action: str,
    reviewer: str,
    comment: str | None,
    item_comments: list[ItemComment],
    new_deadline: date | None,
) -> tuple[ReviewOutcome, list[dict]]:
    """Record the decision in one transaction; returns it with the changes since the previous version."""
    settings = get_settings()
    with session_scope() as session:
        if action == "accept":
            outcome = accept_submission(
                session=session,
                year=year,
                unit_code=unit_code,
                reviewer=reviewer,
                comment=comment,
                settings=settings,
            )
        elif action == "return":
            outcome = return_submission(
                session=session,
                year=year,
                unit_code=unit_code,
                reviewer=reviewer,
                comment=comment or "",
                item_comments=item_comments,
                new_deadline=new_deadline,
                settings=settings,
            )
        elif action == "extend":
            if new_deadline is None:
                raise ReviewError("new_deadline_required")
            outcome = extend_deadline(
                session=session,
                year=year,
                unit_code=unit_code,
                new_deadline=new_deadline,
                reason=comment or "",
                granted_by=reviewer,
            )
        else:
            outcome = exempt_unit(
                session=session, year=year, unit_code=unit_code, reason=comment or "", granted_by=reviewer
            )
        changes = [
            c.model_dump() for c in changes_since_previous(session=session, year=year, unit_code=unit_code)
        ]
    return outcome, changes


def publish_review(
    year: int,
    unit_code: str,
    outcome: ReviewOutcome,
    action: str,
    changes: list[dict],
    comment: str | None,
    after: dict[str, Any] | None = None,
) -> None:
    """The decision's artifact ``review-<year>-<unit code>``, ending with the next step."""
    publish_markdown(
        "reports/review.md.j2",
        key=f"review-{year}-{unit_code.lower()}",
        description=texts()["artifacts"]["review"].format(unit_code=unit_code, year=year),
        next_step=next_step("review", after) if after else None,
        outcome=outcome,
        action=action,
        changes=changes,
        comment=comment,
    )


@task(name="chấp nhận các đề xuất", cache_policy=NO_CACHE)
def record_acceptances(
    year: int, unit_codes: list[str] | None, reviewer: str, comment: str | None
) -> BatchAcceptance:
    """Accept each unit in its own transaction; a unit that cannot be accepted is reported, not fatal."""
    return accept_submissions(
        year=year, unit_codes=unit_codes, reviewer=reviewer, comment=comment, settings=get_settings()
    )


def publish_acceptances(
    year: int, result: BatchAcceptance, comment: str | None, after: dict[str, Any] | None = None
) -> None:
    """The batch's artifact ``acceptances-<year>``, ending with the next step; the units refused are also
    logged as a warning."""
    publish_markdown(
        "reports/acceptances.md.j2",
        key=f"acceptances-{year}",
        description=texts()["artifacts"]["acceptances"].format(year=year),
        next_step=next_step("review", after) if after else None,
        year=year,
        result=result,
        comment=comment,
    )
    if result.refused:
        get_run_logger().warning(texts()["log"]["not_accepted"].format(refused=result.refused))


# ---------------------------------------------------------------- the cycle dashboard


@task(name="cập nhật bảng điều khiển", cache_policy=NO_CACHE)
def refresh_dashboard(
    year: int | None, as_of: date | None = None, stage: str | None = None
) -> dict[str, Any]:
    """The artifact ``bang-dieu-khien-<year>`` and its Excel download, rebuilt from the database, ending
    with the next step after ``stage``; returns the cycle's counts (for the "what next" line of the run's
    own artifact). Nothing when there is no cycle."""
    if year is None:
        return {}
    settings = get_settings()
    as_of = as_of or settings.today()
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year)
        if cycle is None:
            return {}
        dashboard = build_dashboard(session=session, cycle=cycle, as_of=as_of)
    path = dashboard_path(year, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dashboard_workbook(dashboard))
    words = dashboard_words()
    link = publish_file_link(
        path, key=f"bang-dieu-khien-{year}-excel", description=words["excel_link"].format(year=year)
    )
    values = dashboard.counts.as_values()
    step = render_next_step(next_step(stage, values)) if stage else ""
    create_markdown_artifact(
        dashboard_markdown(dashboard, excel=link) + step,
        key=f"bang-dieu-khien-{year}",
        description=words["artifact"].format(year=year),
    )
    return values
