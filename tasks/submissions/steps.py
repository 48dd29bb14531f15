"""Prefect tasks of the submission season: inbox intake, status artifacts, review decisions."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_progress_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import col, select

from models import PlanningCycle
from models.base import CycleStatus
from models.cycle import get_cycle_by_year
from models.db import session_scope
from plancycle.settings import get_settings
from tasks.submissions.inbox import InboxOutcome, collect_inbox
from tasks.submissions.status import UnitStatusRow, answered_share, status_rows, status_table
from templates import environment


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
        cycle = get_cycle_by_year(session=session, year=year)
        assert cycle is not None
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
        progress=share,
        key=f"submission-progress-{year}",
        description=f"Tỷ lệ đơn vị đã trả lời, kỳ kế hoạch năm {year}",
    )
    return rows
