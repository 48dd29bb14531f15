"""One view of the whole cycle for the coordinator: every unit across the stages (asked, answered on time or
late or with nothing to propose or exempt, returned, accepted; progress reports per period), the approval
stages with who holds them and for how long, counts with their shares, and the units to call today. Shown
as the Prefect artifact ``bang-dieu-khien-<year>`` (refreshed by every flow that changes the cycle) and as
an Excel workbook downloaded through the artifact's signed link.

Reads the models only, so every stage can refresh it; the words are in templates/reports/dashboard.vi.yaml
and templates/labels.vi.yaml."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from models import (
    ApprovalDecision,
    ApprovalStage,
    ApprovalStageApprover,
    Contact,
    PlanningCycle,
    PlanVersion,
    ProgressReport,
    ReportingPeriod,
)
from models.base import SubmissionStatus
from plancycle.settings import Settings
from tasks.common.numbers import share_percent
from tasks.submissions.status import UnitStatusRow, status_rows
from templates import environment, format_date, label, load_yaml

# Answer states in the order the dashboard lists them; "no_proposal" (a unit that answers it has nothing to
# propose) is counted as soon as a stage records it.
STATES = ("requested", "submitted", "returned", "accepted", "exempted", "no_proposal")
WAITING = {SubmissionStatus.requested.value, SubmissionStatus.returned.value}


def words() -> dict[str, Any]:
    return load_yaml("reports/dashboard.vi.yaml")


@dataclass
class CycleCounts:
    """How many units are in each state; the figures every "what next" line quotes."""

    asked: int = 0
    overdue: int = 0
    deadline: date | None = None
    by_state: Counter[str] = field(default_factory=Counter)

    def as_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {state: self.by_state.get(state, 0) for state in STATES}
        return {**values, "asked": self.asked, "overdue": self.overdue, "deadline": self.deadline}


@dataclass
class UnitLine:
    code: str
    name: str
    state: str
    answer: str  # on time / late by n days / nothing to propose / exempt / not yet
    returned: int
    deadline: date | None
    days_overdue: int
    progress: dict[str, str]  # period label → state words


@dataclass
class StageLine:
    sequence: int
    name: str
    approvers: str
    state: str
    since: date | None
    days: int | None


@dataclass
class Dashboard:
    year: int
    title: str
    as_of: date
    counts: CycleCounts
    units: list[UnitLine]
    periods: list[str]
    stages: list[StageLine]
    status: str = ""  # the cycle's (CycleStatus): "đang thực hiện", "đã khóa sổ" …

    @property
    def to_call(self) -> list[UnitLine]:
        """Units still owing an answer whose deadline is today or past, the longest overdue first."""
        due = [u for u in self.units if u.state in WAITING and u.deadline and u.deadline <= self.as_of]
        return sorted(due, key=lambda u: (-u.days_overdue, u.code))

    def share(self, count: int) -> str:
        return share_percent(count, self.counts.asked)


def _answer(row: UnitStatusRow, texts: dict[str, Any]) -> str:
    if row.status == "exempted":
        return texts["answer"]["exempted"]
    if row.status == "no_proposal":
        return texts["answer"]["no_proposal"]
    if row.version is None:
        return texts["answer"]["none"]
    if row.on_time:
        return texts["answer"]["on_time"]
    return texts["answer"]["late"].format(days=row.days_late or 0)


def _returned_counts(session: Session, cycle: PlanningCycle) -> Counter[str]:
    from models import Submission, SubmissionVersion, Unit

    rows = session.exec(
        select(Unit.code)
        .join(Submission, col(Submission.unit_id) == Unit.id)
        .join(SubmissionVersion, col(SubmissionVersion.submission_id) == Submission.id)
        .where(Submission.cycle_id == cycle.id, SubmissionVersion.review_status == "returned")
    ).all()
    return Counter(rows)


def _progress(session: Session, cycle: PlanningCycle) -> tuple[list[str], dict[int, dict[str, str]]]:
    periods = session.exec(
        select(ReportingPeriod)
        .where(ReportingPeriod.cycle_id == cycle.id)
        .order_by(col(ReportingPeriod.ends_on))
    ).all()
    by_unit: dict[int, dict[str, str]] = {}
    labels = {p.id: p.label for p in periods}
    if periods:
        for report in session.exec(
            select(ProgressReport).where(col(ProgressReport.period_id).in_(list(labels)))
        ).all():
            by_unit.setdefault(report.unit_id, {})[labels[report.period_id]] = label(
                report.status, "submission"
            )
    return [p.label for p in periods], by_unit


def _stages(session: Session, cycle: PlanningCycle, as_of: date, texts: dict[str, Any]) -> list[StageLine]:
    stages = session.exec(
        select(ApprovalStage).where(ApprovalStage.cycle_id == cycle.id).order_by(col(ApprovalStage.sequence))
    ).all()
    if not stages:
        return []
    version = session.exec(
        select(PlanVersion)
        .where(PlanVersion.cycle_id == cycle.id, col(PlanVersion.is_amendment).is_(False))
        .order_by(col(PlanVersion.number).desc())
    ).first()
    lines: list[StageLine] = []
    held_since = _day(version.created_at) if version else None
    for stage in stages:
        approvers = session.exec(
            select(Contact.full_name)
            .join(ApprovalStageApprover, col(ApprovalStageApprover.contact_id) == Contact.id)
            .where(ApprovalStageApprover.stage_id == stage.id)
        ).all()
        decision = (
            session.exec(
                select(ApprovalDecision)
                .where(ApprovalDecision.stage_id == stage.id, ApprovalDecision.plan_version_id == version.id)
                .order_by(col(ApprovalDecision.decided_at).desc())
            ).first()
            if version
            else None
        )
        if version is None:
            state, since, days = texts["stage"]["not_started"], None, None
        elif decision is not None:
            state = label(decision.decision, "decision")
            since, days = _day(decision.decided_at), None
            held_since = since
        else:
            state, since = texts["stage"]["waiting"], held_since
            days = (as_of - since).days if since else None
        lines.append(StageLine(stage.sequence, stage.name, ", ".join(approvers), state, since, days))
    return lines


def _day(moment: datetime) -> date:
    return moment.date()


def build_dashboard(*, session: Session, cycle: PlanningCycle, as_of: date) -> Dashboard:
    texts = words()
    rows = status_rows(session=session, cycle=cycle, as_of=as_of)
    returned = _returned_counts(session, cycle)
    periods, progress = _progress(session, cycle)
    from models import Unit

    ids = dict(
        session.exec(select(Unit.code, Unit.id).where(col(Unit.code).in_([r.unit_code for r in rows]))).all()
    )
    counts = CycleCounts(asked=len(rows), deadline=cycle.submission_deadline)
    units: list[UnitLine] = []
    for row in rows:
        counts.by_state[row.status] += 1
        overdue = (as_of - row.deadline).days if row.deadline and row.status in WAITING else 0
        if overdue > 0:
            counts.overdue += 1
        units.append(
            UnitLine(
                code=row.unit_code,
                name=row.unit_name,
                state=row.status,
                answer=_answer(row, texts),
                returned=returned.get(row.unit_code, 0),
                deadline=row.deadline,
                days_overdue=max(overdue, 0),
                progress=progress.get(ids.get(row.unit_code, -1), {}),
            )
        )
    return Dashboard(
        year=cycle.year,
        title=cycle.title,
        as_of=as_of,
        counts=counts,
        units=units,
        periods=periods,
        stages=_stages(session, cycle, as_of, texts),
        status=str(cycle.status),
    )


def dashboard_markdown(dashboard: Dashboard, excel: Any = None) -> str:
    """The artifact's Markdown; ``excel`` (a FileLink) is the workbook's download link."""
    return (
        environment().get_template("reports/dashboard.md.j2").render(d=dashboard, states=STATES, excel=excel)
    )


def dashboard_path(year: int, settings: Settings) -> Path:
    return settings.resolved_data_dir / "dashboard" / f"bang-dieu-khien-{year}.xlsx"


def dashboard_workbook(dashboard: Dashboard) -> bytes:
    """The same view as an Excel workbook: the counts, the units across the stages, the approval stages."""
    texts = words()["excel"]
    workbook = Workbook()
    overview = workbook.active
    assert overview is not None
    overview.title = texts["overview"]
    _sheet(
        overview,
        [texts["state"], texts["units"], texts["share"]],
        [
            [
                label(s, "submission"),
                dashboard.counts.by_state.get(s, 0),
                dashboard.share(dashboard.counts.by_state.get(s, 0)),
            ]
            for s in STATES
        ],
        title=texts["title"].format(year=dashboard.year, as_of=format_date(dashboard.as_of)),
    )
    _sheet(
        workbook.create_sheet(texts["units_sheet"]),
        [
            texts["code"],
            texts["name"],
            texts["state"],
            texts["answer"],
            texts["returned"],
            texts["deadline"],
            texts["overdue"],
            *dashboard.periods,
        ],
        [
            [
                u.code,
                u.name,
                label(u.state, "submission"),
                u.answer,
                u.returned,
                format_date(u.deadline),
                u.days_overdue or "",
                *[u.progress.get(p, "") for p in dashboard.periods],
            ]
            for u in dashboard.units
        ],
    )
    _sheet(
        workbook.create_sheet(texts["stages_sheet"]),
        [
            texts["sequence"],
            texts["stage"],
            texts["approvers"],
            texts["state"],
            texts["since"],
            texts["days"],
        ],
        [
            [
                s.sequence,
                s.name,
                s.approvers,
                s.state,
                format_date(s.since),
                s.days if s.days is not None else "",
            ]
            for s in dashboard.stages
        ],
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet(sheet: Any, header: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    if title:
        sheet.append([title])
        sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
        sheet.append([])
    sheet.append(header)
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        sheet.append(row)
    for index, name in enumerate(header, start=1):
        width = max([len(str(name))] + [len(str(r[index - 1])) for r in rows if index - 1 < len(r)])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
