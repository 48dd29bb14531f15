"""The per-unit progress-report workbook: context, layout, signed metadata and generation.

One workbook per `ProgressReport` (one unit, one reporting period): a row per approved, non-rejected plan
item the unit leads (name, approved amount per funding source, last reported status and percent; the unit
fills status, percent complete, amount disbursed, problems and proposals) and a row per indicator the
unit is responsible for (value and note). A very-hidden signed sheet names the report, so the file
identifies itself wherever it arrives (portal, inbox, CLI); `tasks.progress.validation` reads it back.

It is built with the Excel kit (`tasks.excel`) like the submission workbook: same styles, the same
metadata sheet. Texts live in ``templates/workbook/progress.vi.yaml``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from models.base import MONEY_UNIT_FACTOR
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanItemAmount
from models.progress import Indicator, IndicatorTarget, ProgressEntry, ProgressReport, ReportingPeriod
from models.registry import Unit
from tasks.common.money import MONEY_UNIT_LABELS
from tasks.common.text import ascii_slug
from tasks.excel.cells import write_cell
from tasks.excel.context import UnitWorkbookContext, unit_context_fields, unit_metadata_fields
from tasks.excel.files import finish_workbook
from tasks.excel.layout import ColumnSpec, plain_columns, render_text
from tasks.excel.metadata import sign_fields, signing_secret, write_signed_metadata
from tasks.excel.styles import (
    FONT,
    LOCKED,
    PREFILL_FILL,
    REF_FILL,
    add_status_validations,
    amount_number_format,
    fit_row,
    header_row,
    instruction_line,
    instructions_sheet,
    money_line,
    note_row,
    print_on_a4,
    protect_sheet,
    sheet_ref,
    style_data,
    title_row,
)
from tasks.submissions.workbook import REPORTABLE_STATUSES, led_items, workbook_texts
from templates import load_yaml

# Bump when the layout (sheets, columns, rows, metadata) changes: older files are then refused.
PROGRESS_TEMPLATE_VERSION = "P1"
WORKBOOK_KIND = "progress_report"  # in the metadata: the same sheet as the submission workbook's
SIGNATURE_CONTEXT = b"plancycle-progress-metadata\x00"
SIGNED_FIELDS = (
    "kind",
    "template_version",
    "report_id",
    "period_id",
    "cycle_id",
    "cycle_year",
    "unit_id",
    "unit_code",
    "issued_at",
)

ITEMS_TITLE_ROW = 1
ITEMS_UNIT_ROW = 2
ITEMS_PERIOD_ROW = 3
ITEMS_MONEY_ROW = 4
ITEMS_HEADER_ROW = 6
ITEMS_DATA_START_ROW = 7
INDICATORS_TITLE_ROW = 1
INDICATORS_UNIT_ROW = 2
INDICATORS_HEADER_ROW = 4
INDICATORS_DATA_START_ROW = 5


# ---------------------------------------------------------------- texts


def progress_texts() -> dict[str, Any]:
    """The progress workbook's texts (sheets, headers, instructions) from the YAML template."""
    return load_yaml("workbook/progress.vi.yaml")


def status_labels() -> dict[str, str]:
    """The statuses as the unit reads and picks them: one wording for both workbooks."""
    return workbook_texts()["statuses"]


# ---------------------------------------------------------------- context


class ProgressItem(BaseModel):
    """One approved item the unit leads, as the workbook shows it."""

    model_config = ConfigDict(frozen=True)
    id: int
    name: str
    approved: dict[str, int | None]  # đồng per funding source code; None: source named, no amount
    last_status: str | None = None
    last_percent: int | None = None

    @property
    def approved_total(self) -> int | None:
        """The sum of the approved amounts, or None when none is stated (nothing to check against)."""
        stated = [amount for amount in self.approved.values() if amount is not None]
        return sum(stated) if stated else None


class ProgressIndicator(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: int
    code: str
    name: str
    measure_unit: str | None = None
    target: Decimal | None = None


class ProgressContext(UnitWorkbookContext):
    """Everything needed to generate or validate one unit's progress workbook, read once."""

    template_version: str = PROGRESS_TEMPLATE_VERSION
    report_id: int
    period_id: int
    period_label: str
    starts_on: date
    ends_on: date
    deadline: date
    items: list[ProgressItem]
    indicators: list[ProgressIndicator]


def responsible_indicators(*, session: Session, cycle_id: int, unit_id: int) -> list[Indicator]:
    return list(
        session.exec(
            select(Indicator)
            .where(Indicator.cycle_id == cycle_id, Indicator.responsible_unit_id == unit_id)
            .order_by(col(Indicator.code))
        )
    )


def _last_reported(session: Session, period: ReportingPeriod, unit_id: int) -> dict[int, tuple[str, int]]:
    """Status and percent per item from the unit's latest submitted report of an earlier period."""
    rows = session.exec(
        select(ProgressEntry, ReportingPeriod.ends_on)
        .join(ProgressReport, col(ProgressReport.id) == ProgressEntry.report_id)
        .join(ReportingPeriod, col(ReportingPeriod.id) == ProgressReport.period_id)
        .where(
            ReportingPeriod.cycle_id == period.cycle_id,
            col(ReportingPeriod.ends_on) < period.ends_on,
            ProgressReport.unit_id == unit_id,
            col(ProgressReport.submitted_at).is_not(None),
        )
        .order_by(col(ReportingPeriod.ends_on))
    ).all()
    return {entry.plan_item_id: (entry.status, entry.percent_complete) for entry, _ in rows}


def load_progress_context(*, session: Session, report: ProgressReport) -> ProgressContext:
    """Read the report's period, cycle, unit, the unit's approved items and its indicators."""
    period = session.get(ReportingPeriod, report.period_id)
    unit = session.get(Unit, report.unit_id)
    assert period is not None and unit is not None and report.id is not None and period.id is not None
    cycle = session.get(PlanningCycle, period.cycle_id)
    assert cycle is not None and cycle.id is not None and unit.id is not None
    sources = list_funding_sources(session=session, cycle_id=cycle.id)
    code_of = {s.id: s.code for s in sources}
    items = led_items(session=session, cycle_id=cycle.id, unit_id=unit.id)
    approved: dict[int, dict[str, int | None]] = {item.id: {} for item in items if item.id is not None}
    if approved:
        for amount in session.exec(
            select(PlanItemAmount).where(col(PlanItemAmount.item_id).in_(list(approved)))
        ):
            approved[amount.item_id][code_of[amount.funding_source_id]] = amount.approved_amount
    last = _last_reported(session, period, unit.id)
    indicators = responsible_indicators(session=session, cycle_id=cycle.id, unit_id=unit.id)
    targets: dict[int, Decimal] = {}
    if indicators:
        for target in session.exec(
            select(IndicatorTarget)
            .where(col(IndicatorTarget.indicator_id).in_([i.id for i in indicators]))
            .order_by(col(IndicatorTarget.id))
        ):
            # The plan-wide target when there is one, else the first level's.
            if target.level == "all" or target.indicator_id not in targets:
                targets[target.indicator_id] = target.target
    return ProgressContext(
        report_id=report.id,
        period_id=period.id,
        period_label=period.label,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        deadline=report.deadline or period.deadline,
        **unit_context_fields(cycle=cycle, unit=unit, sources=sources),
        items=[
            ProgressItem(
                id=item.id,  # type: ignore[arg-type]
                name=item.name,
                approved=approved.get(item.id, {}),  # type: ignore[arg-type]
                last_status=last[item.id][0]
                if item.id in last
                else (item.status if item.status in REPORTABLE_STATUSES else None),
                last_percent=last[item.id][1] if item.id in last else item.percent_complete,
            )
            for item in items
        ],
        indicators=[
            ProgressIndicator(
                id=i.id,  # type: ignore[arg-type]
                code=i.code,
                name=i.name,
                measure_unit=i.measure_unit,
                target=targets.get(i.id),  # type: ignore[arg-type]
            )
            for i in indicators
        ],
    )


# ---------------------------------------------------------------- layout


def _values(context: ProgressContext) -> dict[str, Any]:
    texts = progress_texts()
    return {
        "cycle_title": context.cycle_title,
        "period_label": context.period_label,
        "starts_on": context.starts_on,
        "ends_on": context.ends_on,
        "deadline": context.deadline,
        "unit_name": context.unit_name,
        "unit_code": context.unit_code,
        "money_unit_label": MONEY_UNIT_LABELS[context.money_unit],
        "template_version": context.template_version,
        "items_sheet": texts["sheets"]["items"],
        "indicators_sheet": texts["sheets"]["indicators"],
    }


def item_columns(context: ProgressContext) -> list[ColumnSpec]:
    """The items sheet's columns: reference columns, approved amount per source, then what the unit fills."""
    texts = progress_texts()["items"]
    values = _values(context)

    def column(key: str, width: float, required: bool = False) -> tuple[str, str, float, bool, str | None]:
        return (key, render_text(texts["columns"][key], **values), width, required, None)

    plan = [column("stt", 6), column("ref", 11), column("name", 40)]
    plan += [
        ("approved", render_text(texts["approved_source"], name=s.name, code=s.code), 15, False, s.code)
        for s in context.funding_sources
    ]
    plan += [
        column("last_status", 16),
        column("last_percent", 10),
        column("status", 20, True),
        column("percent", 12, True),
        column("disbursed", 16),
        column("problems", 36),
        column("proposals", 36),
    ]
    return [
        ColumnSpec(key, index, header, width, required, source_code)
        for index, (key, header, width, required, source_code) in enumerate(plan, start=1)
    ]


def indicator_columns(context: ProgressContext) -> list[ColumnSpec]:
    plan: list[tuple[str, float]] = [
        ("stt", 6),
        ("code", 12),
        ("name", 50),
        ("measure_unit", 12),
        ("target", 14),
        ("value", 16),
        ("note", 40),
    ]
    return plain_columns(
        progress_texts()["indicators"]["columns"], plan, required="value", **_values(context)
    )


# ---------------------------------------------------------------- metadata


def sign_progress_metadata(fields: dict[str, str], secret: bytes) -> str:
    """The signature of a progress workbook's metadata."""
    return sign_fields(fields, secret, signed=SIGNED_FIELDS, context=SIGNATURE_CONTEXT)


def progress_metadata_fields(context: ProgressContext, *, issued_at: datetime) -> dict[str, str]:
    return {
        "kind": WORKBOOK_KIND,
        "template_version": context.template_version,
        "report_id": str(context.report_id),
        "period_id": str(context.period_id),
        **unit_metadata_fields(context, issued_at=issued_at),
    }


# ---------------------------------------------------------------- generation


def _write_instructions(wb: Workbook, context: ProgressContext) -> None:
    spec = progress_texts()["instructions"]
    values = _values(context)
    ws = instructions_sheet(wb, progress_texts()["sheets"]["instructions"])
    lines = [(spec["title"], True, 14), (spec["subtitle"], False, 12), ("", False, 12)]
    lines += [(fact, True, 12) for fact in spec["facts"]] + [("", False, 12)]
    lines += [(step, False, 12) for step in spec["steps"]] + [("", False, 12), (spec["warning"], True, 12)]
    for row, (text, bold, size) in enumerate(lines, start=1):
        instruction_line(ws, row, render_text(text, **values) if text else None, size=size, bold=bold)
    ws.protection.sheet = True


def _write_lists(wb: Workbook) -> str:
    """The hidden list sheet of the status drop-down; returns the range the validation points at."""
    texts = progress_texts()
    ws = wb.create_sheet(texts["sheets"]["lists"])
    ws.sheet_state = "hidden"
    write_cell(ws, 1, 1, texts["lists"]["statuses"]).font = Font(name=FONT, bold=True)
    labels = status_labels()
    for row, status in enumerate(REPORTABLE_STATUSES, start=2):
        write_cell(ws, row, 1, labels[status])
    ws.column_dimensions["A"].width = 24
    protect_sheet(ws)
    quoted = sheet_ref(texts["sheets"]["lists"])
    return f"{quoted}!$A$2:$A${len(REPORTABLE_STATUSES) + 1}"


def _write_items(wb: Workbook, context: ProgressContext, statuses_ref: str) -> None:
    texts = progress_texts()
    spec = texts["items"]
    values = _values(context)
    columns = item_columns(context)
    by_key = {c.key: c for c in columns if c.key != "approved"}
    ws = wb.create_sheet(texts["sheets"]["items"])
    for row, key, size in (
        (ITEMS_TITLE_ROW, "title", 14),
        (ITEMS_UNIT_ROW, "unit_line", 12),
        (ITEMS_PERIOD_ROW, "period_line", 11),
    ):
        title_row(ws, row, len(columns), render_text(spec[key], **values), size)
    money_line(ws, ITEMS_MONEY_ROW, len(columns), render_text(spec["money_line"], **values))
    header_row(ws, ITEMS_HEADER_ROW, columns, 48)
    if not context.items:
        note_row(ws, ITEMS_DATA_START_ROW, render_text(spec["none_line"], **values))
    amount_format = amount_number_format(context.money_unit)
    factor = MONEY_UNIT_FACTOR[context.money_unit]  # the sheet shows approved đồng in the cycle's unit
    labels = status_labels()
    reference = {"stt", "ref", "name", "approved", "last_status", "last_percent"}
    for offset, item in enumerate(context.items):
        row = ITEMS_DATA_START_ROW + offset
        prefill: dict[str, Any] = {
            "stt": offset + 1,
            "ref": item.id,
            "name": item.name,
            "last_status": labels.get(item.last_status or ""),
            "last_percent": item.last_percent,
            # The status carries over as a starting point; the percent and money are the unit's to state.
            "status": labels.get(item.last_status or ""),
        }
        for column in columns:
            value: Any = prefill.get(column.key)
            if column.key == "approved":
                amount = item.approved.get(column.source_code or "")
                value = None if amount is None else float(Decimal(amount) / factor)
            cell = write_cell(ws, row, column.index, value)
            numeric = column.key in ("approved", "disbursed")
            style_data(
                cell,
                number_format=amount_format if numeric else ("0" if "percent" in column.key else None),
                center=column.key in ("stt", "ref", "last_percent", "percent"),
            )
            if column.key in reference:
                cell.fill = REF_FILL
                cell.protection = LOCKED
            elif column.key == "status" and value:
                cell.fill = PREFILL_FILL
        fit_row(ws, row, [(item.name, by_key["name"].width)])
    if context.items:
        add_status_validations(
            ws,
            statuses_ref,
            texts["validation_prompts"],
            status_letter=by_key["status"].letter,
            percent_letter=by_key["percent"].letter,
            first_row=ITEMS_DATA_START_ROW,
            last_row=ITEMS_DATA_START_ROW + len(context.items) - 1,
        )
    ws.freeze_panes = ws.cell(row=ITEMS_DATA_START_ROW, column=by_key["name"].index + 1)
    print_on_a4(ws, "landscape")
    protect_sheet(ws)


def _write_indicators(wb: Workbook, context: ProgressContext) -> None:
    texts = progress_texts()
    spec = texts["indicators"]
    values = _values(context)
    columns = indicator_columns(context)
    ws = wb.create_sheet(texts["sheets"]["indicators"])
    for row, key, size in ((INDICATORS_TITLE_ROW, "title", 14), (INDICATORS_UNIT_ROW, "unit_line", 12)):
        title_row(ws, row, len(columns), render_text(spec[key], **values), size)
    header_row(ws, INDICATORS_HEADER_ROW, columns, 32)
    if not context.indicators:
        note_row(ws, INDICATORS_DATA_START_ROW, render_text(spec["none_line"], **values))
    for offset, indicator in enumerate(context.indicators):
        row = INDICATORS_DATA_START_ROW + offset
        prefill: dict[str, Any] = {
            "stt": offset + 1,
            "code": indicator.code,
            "name": indicator.name,
            "measure_unit": indicator.measure_unit,
            "target": float(indicator.target) if indicator.target is not None else None,
        }
        for column in columns:
            cell = write_cell(ws, row, column.index, prefill.get(column.key))
            style_data(cell, center=column.key in ("stt", "code", "measure_unit"))
            if column.key in prefill:
                cell.fill = REF_FILL
                cell.protection = LOCKED
        fit_row(ws, row, [(indicator.name, 50)])
    ws.freeze_panes = ws.cell(row=INDICATORS_DATA_START_ROW, column=1)
    print_on_a4(ws, "landscape", fit_to_width=False)
    protect_sheet(ws)


def build_progress_workbook(
    context: ProgressContext, *, issued_at: datetime | None = None, secret: bytes | None = None
) -> bytes:
    """The report's workbook as .xlsx bytes: instructions, items, indicators, the hidden drop-down list
    and the very-hidden signed metadata."""
    wb = Workbook()
    _write_instructions(wb, context)
    statuses_ref = _write_lists(wb)
    _write_items(wb, context, statuses_ref)
    _write_indicators(wb, context)
    # The list sheet after the data sheets, as in the submission workbook.
    wb.move_sheet(progress_texts()["sheets"]["lists"], offset=2)
    write_signed_metadata(
        wb,
        progress_metadata_fields(context, issued_at=issued_at or datetime.now(UTC)),
        sign_progress_metadata,
        secret if secret is not None else signing_secret(),
    )
    return finish_workbook(wb, progress_texts()["sheets"]["items"])


def progress_workbook_filename(context: ProgressContext) -> str:
    return render_text(
        progress_texts()["file_name"],
        period_slug=ascii_slug(context.period_label),
        unit_code=context.unit_code,
    )


def generate_progress_workbook(
    *, session: Session, report: ProgressReport, issued_at: datetime | None = None
) -> tuple[str, bytes]:
    """File name and bytes of the workbook for one progress report."""
    context = load_progress_context(session=session, report=report)
    return progress_workbook_filename(context), build_progress_workbook(context, issued_at=issued_at)
