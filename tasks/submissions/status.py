"""Who has answered: one row per unit for a cycle, as a Prefect table, a progress figure and an Excel file."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from models import IntakeAttempt, PlanningCycle, Submission, SubmissionItem, SubmissionVersion, Unit
from models.base import SubmissionStatus
from models.cycle import list_funding_sources
from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.excel.cells import keep_text
from templates import environment, format_date

ANSWERED = {
    SubmissionStatus.submitted,
    SubmissionStatus.accepted,
    SubmissionStatus.returned,
    SubmissionStatus.exempted,
    SubmissionStatus.no_proposal,
}


class UnitStatusRow(BaseModel):
    unit_code: str
    unit_name: str
    status: str
    deadline: date | None
    version: int | None
    received_on: date | None
    on_time: bool | None
    days_late: int | None
    item_count: int
    invalid_attempts: int
    no_proposal_by: str | None = None  # the officer who declared "nothing to propose"
    no_proposal_reason: str | None = None
    totals: dict[str, int]  # đồng per funding source code


def status_labels() -> Any:
    """Column names and words of the status table and its export (``templates/reports/status_labels.j2``)."""
    return environment().get_template("reports/status_labels.j2").module  # type: ignore[attr-defined]


def status_rows(*, session: Session, cycle: PlanningCycle, as_of: date) -> list[UnitStatusRow]:
    """Every unit asked in the cycle with its latest version, lateness as of ``as_of`` and totals."""
    submissions = session.exec(
        select(Submission, Unit)
        .join(Unit, col(Unit.id) == Submission.unit_id)
        .where(Submission.cycle_id == cycle.id)
        .order_by(col(Unit.code))
    ).all()
    latest: dict[int, SubmissionVersion] = {}
    for version in session.exec(
        select(SubmissionVersion)
        .join(Submission, col(Submission.id) == SubmissionVersion.submission_id)
        .where(Submission.cycle_id == cycle.id)
        .order_by(col(SubmissionVersion.number))
    ):
        latest[version.submission_id] = version
    counts = (
        dict(
            session.exec(
                select(SubmissionItem.submission_version_id, func.count())
                .where(col(SubmissionItem.submission_version_id).in_([v.id for v in latest.values()]))
                .group_by(col(SubmissionItem.submission_version_id))
            ).all()
        )
        if latest
        else {}
    )
    invalid = dict(
        session.exec(
            select(IntakeAttempt.submission_id, func.count())
            .where(
                col(IntakeAttempt.accepted).is_(False),
                col(IntakeAttempt.submission_id).in_([s.id for s, _ in submissions]),
            )
            .group_by(col(IntakeAttempt.submission_id))
        ).all()
    )
    rows = []
    for submission, unit in submissions:
        version = latest.get(submission.id)  # type: ignore[arg-type]
        deadline = submission.deadline or cycle.submission_deadline
        # the business date the answer counts as received on (an import may be back-dated with --as-of)
        received = (version.received_on or version.received_at.date()) if version else None
        declared = submission.status == SubmissionStatus.no_proposal
        if declared:
            received = submission.answered_on
        if version or declared:
            late_by = (received - deadline).days if deadline and received else None  # type: ignore[operator]
        elif submission.status != SubmissionStatus.exempted and deadline:
            late_by = (as_of - deadline).days
        else:
            late_by = None
        rows.append(
            UnitStatusRow(
                unit_code=unit.code,
                unit_name=unit.name,
                status=submission.status,
                deadline=deadline,
                version=version.number if version else None,
                received_on=received,
                on_time=(
                    version.on_time
                    if version and not declared
                    else ((late_by or 0) <= 0 if declared else None)
                ),
                no_proposal_by=submission.no_proposal_by if declared else None,
                no_proposal_reason=submission.no_proposal_reason if declared else None,
                days_late=late_by if late_by and late_by > 0 else None,
                item_count=counts.get(version.id, 0) if version else 0,
                invalid_attempts=invalid.get(submission.id, 0),
                totals={k: int(v) for k, v in (version.totals or {}).items()} if version else {},
            )
        )
    return rows


def answered_share(rows: list[UnitStatusRow]) -> float:
    """Share (0–100) of units that answered: submitted, accepted, returned for revision or exempted."""
    return 100.0 * sum(r.status in ANSWERED for r in rows) / len(rows) if rows else 100.0


def status_table(
    *, session: Session, cycle: PlanningCycle, rows: list[UnitStatusRow]
) -> list[dict[str, str]]:
    """Rows for a Prefect table artifact, with column names and status words in Vietnamese."""
    labels = status_labels()
    sources = list_funding_sources(session=session, cycle_id=cycle.id)  # type: ignore[arg-type]
    unit = cycle.money_unit
    table = []
    for r in rows:
        entry = {
            labels.col_unit: f"{r.unit_code} – {r.unit_name}",
            labels.col_status: getattr(labels, f"status_{r.status}"),
            labels.col_version: str(r.version or ""),
            labels.col_received: format_date(r.received_on),
            labels.col_timeliness: (
                labels.late_by.format(days=r.days_late)
                if r.days_late
                else (labels.on_time if r.version or r.status == SubmissionStatus.no_proposal else "")
            ),
            labels.col_items: str(r.item_count),
        }
        for s in sources:
            entry[f"{s.name} ({MONEY_UNIT_LABELS[unit]})"] = format_money(r.totals.get(s.code), unit)
        table.append(entry)
    return table


def status_workbook(*, session: Session, cycle: PlanningCycle, rows: list[UnitStatusRow]) -> bytes:
    """The same table as an .xlsx; amounts are exact integer đồng (Excel shows them with separators)."""
    table = status_table(session=session, cycle=cycle, rows=rows)
    sources = list_funding_sources(session=session, cycle_id=cycle.id)  # type: ignore[arg-type]
    wb = Workbook()
    ws = wb.active
    ws.title = status_labels().sheet_title
    fixed = len(table[0]) - len(sources) if table else 0
    headers = (list(table[0])[:fixed] if table else []) + [
        f"{s.name} ({MONEY_UNIT_LABELS['dong']})" for s in sources
    ]
    ws.append(headers)
    keep_text(ws[1])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE3EA")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row, entry in zip(rows, table, strict=True):
        ws.append(list(entry.values())[:fixed] + [row.totals.get(s.code) for s in sources])
        keep_text(ws[ws.max_row])
        for cell in ws[ws.max_row][fixed:]:
            cell.number_format = "#,##0"
    for index, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(12, min(45, len(header) + 4))
    ws.freeze_panes = "B2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
