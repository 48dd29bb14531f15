"""The per-unit progress-report workbook: layout, signed metadata, generation and validation.

One workbook per `ProgressReport` (one unit, one reporting period): a row per approved, non-rejected plan
item the unit leads (name, approved amount per funding source, last reported status and percent; the unit
fills status, percent complete, amount disbursed, problems and proposals) and a row per indicator the
unit is responsible for (value and note). A very-hidden signed sheet names the report, so the file
identifies itself wherever it arrives (portal, inbox, CLI).

It follows the submission workbook (`tasks.submissions.workbook`, `tasks.submissions.validation`): same
styles, the same file
and cell checks, the same `ValidationIssue` with sheet, row and column. Texts live in
``templates/workbook/progress.vi.yaml``; progress-specific error messages in
``templates/errors/progress.yaml``, the shared ones (file, metadata, cells) in
``templates/workbook/messages.yaml``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import yaml
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from models.base import ItemStatus
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanItem, PlanItemAmount
from models.progress import Indicator, IndicatorTarget, ProgressEntry, ProgressReport, ReportingPeriod
from models.registry import Unit
from tasks.common.money import MONEY_UNIT_LABELS, MoneyFormatError, format_money
from tasks.submissions.validation import (
    UNREADABLE,
    ValidationIssue,
    _choice_map,
    _grid,
    _has_content,
    _header_issues,
    _is_blank,
    _load,
    _loose_key,
    _structure_issues,
    _text,
    _whole_number,
    check_file,
    has_formulas,
    make_issue,
    read_amount,
    read_metadata_sheet,
)
from tasks.submissions.workbook import (
    _FONT,
    _LOCKED,
    _PREFILL_FILL,
    _REF_FILL,
    REPORTABLE_STATUSES,
    ColumnSpec,
    SourceSpec,
    _amount_format,
    _fit_row,
    _list_validation,
    _protect,
    _style_data,
    _style_header,
    _title,
    finish_workbook,
    render_text,
    sign_fields,
    signature_verifies,
    signing_secret,
    workbook_texts,
    write_metadata_sheet,
)
from templates import TEMPLATES_DIR

# Bump when the layout (sheets, columns, rows, metadata) changes: older files are then refused.
PROGRESS_TEMPLATE_VERSION = "P1"
WORKBOOK_KIND = "progress_report"
META_SHEET = "plancycle_meta"  # the same sheet name as the submission workbook; ``kind`` tells them apart
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
TEXT_LIMIT = 4000  # ProgressEntry.problems / proposals
NOTE_LIMIT = 2000  # IndicatorValue.note
UNFINISHED = frozenset({ItemStatus.in_progress, ItemStatus.partly_done})


# ---------------------------------------------------------------- texts


@lru_cache
def progress_texts() -> dict[str, Any]:
    with (TEMPLATES_DIR / "workbook" / "progress.vi.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache
def progress_messages() -> dict[str, dict[str, str]]:
    with (TEMPLATES_DIR / "errors" / "progress.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def progress_issue(
    key: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: ColumnSpec | None = None,
    **params: Any,
) -> ValidationIssue:
    """An issue from templates/errors/progress.yaml, or from the shared workbook messages."""
    texts = progress_messages().get(key)
    if texts is None:
        return make_issue(key, sheet=sheet, row=row, column=column, **params)
    return ValidationIssue(
        key=key,
        sheet=sheet,
        row=row,
        column=column.letter if column else None,
        column_name=column.header if column else None,
        message_vi=render_text(texts["vi"], **params),
        message_en=render_text(texts["en"], **params),
    )


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


class ProgressContext(BaseModel):
    """Everything needed to generate or validate one unit's progress workbook, read once."""

    model_config = ConfigDict(frozen=True)
    template_version: str = PROGRESS_TEMPLATE_VERSION
    report_id: int
    period_id: int
    period_label: str
    starts_on: date
    ends_on: date
    deadline: date
    cycle_id: int
    cycle_year: int
    cycle_title: str
    money_unit: str
    unit_id: int
    unit_code: str
    unit_name: str
    funding_sources: list[SourceSpec]
    items: list[ProgressItem]
    indicators: list[ProgressIndicator]


def led_items(*, session: Session, cycle_id: int, unit_id: int) -> list[PlanItem]:
    """The approved plan's items a unit leads and must report on (rejected items excluded), in plan order."""
    return list(
        session.exec(
            select(PlanItem)
            .where(
                PlanItem.cycle_id == cycle_id,
                PlanItem.lead_unit_id == unit_id,
                col(PlanItem.rejected).is_(False),
            )
            .order_by(col(PlanItem.position), col(PlanItem.id))
        )
    )


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
        cycle_id=cycle.id,
        cycle_year=cycle.year,
        cycle_title=cycle.title,
        money_unit=cycle.money_unit,
        unit_id=unit.id,
        unit_code=unit.code,
        unit_name=unit.name,
        funding_sources=[SourceSpec(id=s.id, code=s.code, name=s.name) for s in sources],  # type: ignore[arg-type]
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
    texts = progress_texts()["indicators"]["columns"]
    values = _values(context)
    plan = [
        ("stt", 6),
        ("code", 12),
        ("name", 50),
        ("measure_unit", 12),
        ("target", 14),
        ("value", 16),
        ("note", 40),
    ]
    return [
        ColumnSpec(key, index, render_text(texts[key], **values), width, key == "value")
        for index, (key, width) in enumerate(plan, start=1)
    ]


# ---------------------------------------------------------------- metadata


def sign_progress_metadata(fields: dict[str, str], secret: bytes) -> str:
    return sign_fields(fields, secret, signed=SIGNED_FIELDS, context=SIGNATURE_CONTEXT)


def progress_metadata_fields(context: ProgressContext, *, issued_at: datetime) -> dict[str, str]:
    return {
        "kind": WORKBOOK_KIND,
        "template_version": context.template_version,
        "report_id": str(context.report_id),
        "period_id": str(context.period_id),
        "cycle_id": str(context.cycle_id),
        "cycle_year": str(context.cycle_year),
        "unit_id": str(context.unit_id),
        "unit_code": context.unit_code,
        "issued_at": issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@dataclass(frozen=True)
class ProgressIdentity:
    """What a progress workbook's verified metadata says it was issued for."""

    report_id: int
    period_id: int
    cycle_year: int
    unit_code: str


def is_progress_workbook(content: bytes) -> bool:
    """Whether the file is a progress-report workbook by its metadata (unsigned check: for dispatching
    an upload to the right intake, which verifies the signature)."""
    if check_file(content):
        return False
    try:
        return (read_metadata_sheet(_load(content, data_only=True)) or {}).get("kind") == WORKBOOK_KIND
    except Exception:  # an unreadable file is not one; the submission intake reports why
        return False


def read_progress_metadata(
    wb: Workbook, secret: bytes | None = None
) -> tuple[ProgressIdentity | None, list[ValidationIssue]]:
    """The verified identity of a progress workbook, or the one issue that makes it unusable."""
    fields = read_metadata_sheet(wb)
    if not fields or "signature" not in fields or fields.get("kind") != WORKBOOK_KIND:
        return None, [progress_issue("not_progress_workbook", sheet=META_SHEET)]
    found = fields.get("template_version", "")
    if found != PROGRESS_TEMPLATE_VERSION:
        return None, [
            progress_issue(
                "meta_old_version", sheet=META_SHEET, found=found, expected=PROGRESS_TEMPLATE_VERSION
            )
        ]
    if not signature_verifies(fields["signature"], lambda key: sign_progress_metadata(fields, key), secret):
        return None, [progress_issue("meta_tampered", sheet=META_SHEET)]
    return (
        ProgressIdentity(
            report_id=int(fields["report_id"]),
            period_id=int(fields["period_id"]),
            cycle_year=int(fields["cycle_year"]),
            unit_code=fields["unit_code"],
        ),
        [],
    )


# ---------------------------------------------------------------- generation


def _status_labels() -> dict[str, str]:
    return workbook_texts()["statuses"]  # one wording of the statuses for both workbooks


def _write_instructions(wb: Workbook, context: ProgressContext) -> None:
    spec = progress_texts()["instructions"]
    values = _values(context)
    ws = wb.active
    assert ws is not None
    ws.title = progress_texts()["sheets"]["instructions"]
    ws.sheet_view.showGridLines = False
    ws.column_dimensions["A"].width = 4
    ws.column_dimensions["B"].width = 110
    lines = [(spec["title"], True, 14), (spec["subtitle"], False, 12), ("", False, 12)]
    lines += [(fact, True, 12) for fact in spec["facts"]] + [("", False, 12)]
    lines += [(step, False, 12) for step in spec["steps"]] + [("", False, 12), (spec["warning"], True, 12)]
    for row, (text, bold, size) in enumerate(lines, start=1):
        cell = ws.cell(row=row, column=2, value=render_text(text, **values) if text else None)
        cell.font = Font(name=_FONT, size=size, bold=bold)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        _fit_row(ws, row, [(cell.value, 110)], line_height=size * 1.35)
    ws.protection.sheet = True


def _write_lists(wb: Workbook) -> str:
    """The hidden list sheet of the status drop-down; returns the range the validation points at."""
    texts = progress_texts()
    ws = wb.create_sheet(texts["sheets"]["lists"])
    ws.sheet_state = "hidden"
    ws.cell(row=1, column=1, value=texts["lists"]["statuses"]).font = Font(name=_FONT, bold=True)
    labels = _status_labels()
    for row, status in enumerate(REPORTABLE_STATUSES, start=2):
        ws.cell(row=row, column=1, value=labels[status])
    ws.column_dimensions["A"].width = 24
    _protect(ws)
    quoted = "'" + texts["sheets"]["lists"].replace("'", "''") + "'"
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
        _title(ws, row, len(columns), render_text(spec[key], **values), size)
    money = ws.cell(row=ITEMS_MONEY_ROW, column=len(columns), value=render_text(spec["money_line"], **values))
    money.font = Font(name=_FONT, size=11, italic=True)
    money.alignment = Alignment(horizontal="right")
    for column in columns:
        _style_header(ws.cell(row=ITEMS_HEADER_ROW, column=column.index, value=column.header))
        ws.column_dimensions[column.letter].width = column.width
    ws.row_dimensions[ITEMS_HEADER_ROW].height = 48
    if not context.items:
        note = ws.cell(row=ITEMS_DATA_START_ROW, column=1, value=render_text(spec["none_line"], **values))
        note.font = Font(name=_FONT, italic=True)
    amount_format = _amount_format(context.money_unit)
    labels = _status_labels()
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
                value = None if amount is None else float(Decimal(amount) / _factor(context.money_unit))
            cell = ws.cell(row=row, column=column.index, value=value)
            numeric = column.key in ("approved", "disbursed")
            _style_data(
                cell,
                number_format=amount_format if numeric else ("0" if "percent" in column.key else None),
                center=column.key in ("stt", "ref", "last_percent", "percent"),
            )
            if column.key in reference:
                cell.fill = _REF_FILL
                cell.protection = _LOCKED
            elif column.key == "status" and value:
                cell.fill = _PREFILL_FILL
        _fit_row(ws, row, [(item.name, by_key["name"].width)])
    if context.items:
        prompts = texts["validation_prompts"]
        last_row = ITEMS_DATA_START_ROW + len(context.items) - 1
        status_dv = _list_validation(
            statuses_ref, prompts["status_title"], prompts["status"], prompts["error_title"]
        )
        letter = by_key["status"].letter
        status_dv.add(f"{letter}{ITEMS_DATA_START_ROW}:{letter}{last_row}")
        percent_dv = DataValidation(
            type="whole",
            operator="between",
            formula1="0",
            formula2="100",
            allow_blank=True,
            promptTitle=prompts["percent_title"],
            prompt=prompts["percent"],
            showInputMessage=True,
            errorTitle=prompts["error_title"],
            error=prompts["percent"],
            showErrorMessage=True,
        )
        letter = by_key["percent"].letter
        percent_dv.add(f"{letter}{ITEMS_DATA_START_ROW}:{letter}{last_row}")
        ws.add_data_validation(status_dv)
        ws.add_data_validation(percent_dv)
    ws.freeze_panes = ws.cell(row=ITEMS_DATA_START_ROW, column=by_key["name"].index + 1)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    _protect(ws)


def _write_indicators(wb: Workbook, context: ProgressContext) -> None:
    texts = progress_texts()
    spec = texts["indicators"]
    values = _values(context)
    columns = indicator_columns(context)
    ws = wb.create_sheet(texts["sheets"]["indicators"])
    for row, key, size in ((INDICATORS_TITLE_ROW, "title", 14), (INDICATORS_UNIT_ROW, "unit_line", 12)):
        _title(ws, row, len(columns), render_text(spec[key], **values), size)
    for column in columns:
        _style_header(ws.cell(row=INDICATORS_HEADER_ROW, column=column.index, value=column.header))
        ws.column_dimensions[column.letter].width = column.width
    ws.row_dimensions[INDICATORS_HEADER_ROW].height = 32
    if not context.indicators:
        note = ws.cell(
            row=INDICATORS_DATA_START_ROW, column=1, value=render_text(spec["none_line"], **values)
        )
        note.font = Font(name=_FONT, italic=True)
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
            cell = ws.cell(row=row, column=column.index, value=prefill.get(column.key))
            _style_data(cell, center=column.key in ("stt", "code", "measure_unit"))
            if column.key in prefill:
                cell.fill = _REF_FILL
                cell.protection = _LOCKED
        _fit_row(ws, row, [(indicator.name, 50)])
    ws.freeze_panes = ws.cell(row=INDICATORS_DATA_START_ROW, column=1)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    _protect(ws)


def _write_metadata(wb: Workbook, context: ProgressContext, *, issued_at: datetime, secret: bytes) -> None:
    fields = progress_metadata_fields(context, issued_at=issued_at)
    fields["signature"] = sign_progress_metadata(fields, secret)
    write_metadata_sheet(wb, fields)


def _factor(money_unit: str) -> int:
    from models.base import MONEY_UNIT_FACTOR

    return MONEY_UNIT_FACTOR[money_unit]


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
    _write_metadata(
        wb,
        context,
        issued_at=issued_at or datetime.now(UTC),
        secret=secret if secret is not None else signing_secret(),
    )
    return finish_workbook(wb, progress_texts()["sheets"]["items"])


def period_slug(label: str) -> str:
    """ "Quý I/2027" → "Quy-I-2027": an ASCII piece of a file name."""
    ascii_text = unicodedata.normalize("NFKD", label.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(ch for ch in ascii_text if not unicodedata.combining(ch))
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")


def progress_workbook_filename(context: ProgressContext) -> str:
    return render_text(
        progress_texts()["file_name"],
        period_slug=period_slug(context.period_label),
        unit_code=context.unit_code,
    )


def generate_progress_workbook(
    *, session: Session, report: ProgressReport, issued_at: datetime | None = None
) -> tuple[str, bytes]:
    """File name and bytes of the workbook for one progress report."""
    context = load_progress_context(session=session, report=report)
    return progress_workbook_filename(context), build_progress_workbook(context, issued_at=issued_at)


# ---------------------------------------------------------------- validation


class ParsedEntry(BaseModel):
    sheet_row: int
    plan_item_id: int
    status: str
    percent_complete: int
    disbursed: int | None = None
    problems: str | None = None
    proposals: str | None = None


class ParsedIndicatorValue(BaseModel):
    sheet_row: int
    indicator_id: int
    value: Decimal
    note: str | None = None


class ProgressValidation(BaseModel):
    entries: list[ParsedEntry] = []
    values: list[ParsedIndicatorValue] = []
    errors: list[ValidationIssue] = []

    @property
    def ok(self) -> bool:
        return not self.errors


_NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")
_GROUPED_DOT = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")


def read_decimal(raw: Any) -> Decimal | None:
    """A number from a cell: an Excel number, or text such as "45", "45,5", "1.234,5", "45,5 %"."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw)) if raw == raw and abs(raw) != float("inf") else None
    if not isinstance(raw, str):
        return None
    text = (
        unicodedata.normalize("NFC", raw).strip().rstrip("%").strip().replace("\u00a0", "").replace(" ", "")
    )
    if _GROUPED_DOT.match(text):
        text = text.replace(".", "")
    if not _NUMBER.match(text):
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def _parse_items(
    values_ws: Worksheet, formulas_ws: Worksheet, context: ProgressContext, issues: list[ValidationIssue]
) -> list[ParsedEntry]:
    sheet = values_ws.title
    columns = item_columns(context)
    col_of = {c.key: c for c in columns if c.key != "approved"}
    header_issues = _header_issues(values_ws, columns, {"*": ITEMS_HEADER_ROW})
    if header_issues:
        issues.extend(header_issues)
        return []
    rows = _grid(values_ws, formulas_ws, first_row=ITEMS_DATA_START_ROW, columns=columns, issues=issues)
    content_keys = {"ref", "status", "percent", "disbursed", "problems", "proposals"}
    issues.extend(
        _structure_issues(
            values_ws, first_row=ITEMS_DATA_START_ROW, columns=columns, rows=rows, content_keys=content_keys
        )
    )
    labels = _status_labels()
    statuses = _choice_map({k: v for k, v in labels.items() if k in REPORTABLE_STATUSES})
    items_by_id = {item.id: item for item in context.items}
    unit_label = MONEY_UNIT_LABELS[context.money_unit]
    seen: dict[int, int] = {}
    parsed: list[ParsedEntry] = []
    for row, values in rows:
        if not _has_content(values, columns, content_keys):
            continue
        before = len(issues)

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(
                progress_issue(key, sheet=sheet, row=row, column=col_of.get(column_key or ""), **params)
            )

        def cell(key: str, values: list[Any] = values) -> Any:
            return values[col_of[key].index - 1]

        raw_ref = cell("ref")
        ref = _whole_number(raw_ref)
        item = items_by_id.get(ref) if ref is not None else None
        if item is None:
            err("unknown_item", "ref", value=_text(raw_ref) or "")
            continue
        if item.id in seen:
            err("duplicate_item", "ref", first_row=seen[item.id])
            continue
        seen[item.id] = row

        raw_status = cell("status")
        status_text = _text(raw_status)
        status = None
        if status_text is None:
            if raw_status is not UNREADABLE:
                err("required", "status", column_label=col_of["status"].header)
        else:
            status = statuses.get(_loose_key(status_text))
            if status is None:
                err("status_unknown", "status", value=status_text)

        raw_percent = cell("percent")
        percent = None
        if not _is_blank(raw_percent) and raw_percent is not UNREADABLE:
            percent = _whole_number(raw_percent.rstrip("% ") if isinstance(raw_percent, str) else raw_percent)
            if percent is None or not 0 <= percent <= 100:
                err("percent_invalid", "percent", value=_text(raw_percent))
                percent = None
            elif status is not None:
                label = labels[status]
                if status == ItemStatus.completed and percent != 100:
                    err("completed_not_100", "percent", status=label, percent=percent)
                elif status == ItemStatus.not_started and percent != 0:
                    err("not_started_not_0", "percent", status=label, percent=percent)
                elif status in UNFINISHED and percent == 100:
                    err("unfinished_at_100", "percent", status=label)
        elif _is_blank(raw_percent) and status is not None:
            if status == ItemStatus.completed:
                percent = 100
            elif status == ItemStatus.not_started:
                percent = 0
            elif status in UNFINISHED:
                err("percent_required", "percent", status=labels[status])
            else:  # suspended or cancelled: the work done so far stands
                percent = item.last_percent or 0

        raw_disbursed = cell("disbursed")
        disbursed = None
        if raw_disbursed is not UNREADABLE and not _is_blank(raw_disbursed):
            negative = (isinstance(raw_disbursed, int | float) and raw_disbursed < 0) or (
                isinstance(raw_disbursed, str) and raw_disbursed.strip().startswith("-")
            )
            if negative:
                err("disbursed_negative", "disbursed", value=_text(raw_disbursed))
            else:
                try:
                    disbursed, other_unit = read_amount(raw_disbursed, context.money_unit)
                except MoneyFormatError as exc:
                    err("amount_invalid", "disbursed", detail_vi=exc.message_vi, detail_en=str(exc))
                else:
                    if other_unit is not None:
                        err(
                            "amount_unit_mismatch",
                            "disbursed",
                            value=_text(raw_disbursed),
                            found=MONEY_UNIT_LABELS[other_unit],
                            expected=unit_label,
                        )
                        disbursed = None
            approved = item.approved_total
            if disbursed is not None and approved is not None and disbursed > approved:
                err(
                    "disbursed_over_approved",
                    "disbursed",
                    disbursed=format_money(disbursed, context.money_unit),
                    approved=format_money(approved, context.money_unit),
                    unit=unit_label,
                )

        texts: dict[str, str | None] = {}
        for key in ("problems", "proposals"):
            texts[key] = _text(cell(key))
            if texts[key] is not None and len(texts[key]) > TEXT_LIMIT:  # type: ignore[arg-type]
                err("too_long", key, length=len(texts[key]), max_length=TEXT_LIMIT)  # type: ignore[arg-type]

        if len(issues) == before and status is not None and percent is not None:
            parsed.append(
                ParsedEntry(
                    sheet_row=row,
                    plan_item_id=item.id,
                    status=status,
                    percent_complete=percent,
                    disbursed=disbursed,
                    problems=texts["problems"],
                    proposals=texts["proposals"],
                )
            )
    for item in context.items:
        if item.id not in seen:
            issues.append(progress_issue("missing_item", sheet=sheet, name=item.name, ref=item.id))
    return parsed


def _parse_indicators(
    values_ws: Worksheet, formulas_ws: Worksheet, context: ProgressContext, issues: list[ValidationIssue]
) -> list[ParsedIndicatorValue]:
    sheet = values_ws.title
    columns = indicator_columns(context)
    col_of = {c.key: c for c in columns}
    header_issues = _header_issues(values_ws, columns, {"*": INDICATORS_HEADER_ROW})
    if header_issues:
        issues.extend(header_issues)
        return []
    rows = _grid(values_ws, formulas_ws, first_row=INDICATORS_DATA_START_ROW, columns=columns, issues=issues)
    content_keys = {"code", "value", "note"}
    issues.extend(
        _structure_issues(
            values_ws,
            first_row=INDICATORS_DATA_START_ROW,
            columns=columns,
            rows=rows,
            content_keys=content_keys,
        )
    )
    by_code = {_loose_key(i.code): i for i in context.indicators}
    seen: dict[int, int] = {}
    parsed: list[ParsedIndicatorValue] = []
    for row, values in rows:
        if not _has_content(values, columns, content_keys):
            continue
        before = len(issues)

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(
                progress_issue(key, sheet=sheet, row=row, column=col_of.get(column_key or ""), **params)
            )

        code = _text(values[col_of["code"].index - 1])
        indicator = by_code.get(_loose_key(code)) if code else None
        if indicator is None:
            err("unknown_indicator", "code", value=code or "")
            continue
        if indicator.id in seen:
            err("duplicate_indicator", "code", first_row=seen[indicator.id])
            continue
        seen[indicator.id] = row
        raw_value = values[col_of["value"].index - 1]
        value = None
        if _is_blank(raw_value):
            err("required", "value", column_label=col_of["value"].header)
        elif raw_value is not UNREADABLE:
            value = read_decimal(raw_value)
            if value is None:
                err("indicator_value_invalid", "value", value=_text(raw_value))
            elif (indicator.measure_unit or "").strip() == "%" and not 0 <= value <= 100:
                err("indicator_percent_range", "value", value=_text(raw_value))
        note = _text(values[col_of["note"].index - 1])
        if note is not None and len(note) > NOTE_LIMIT:
            err("too_long", "note", length=len(note), max_length=NOTE_LIMIT)
        if len(issues) == before and value is not None:
            parsed.append(
                ParsedIndicatorValue(
                    sheet_row=row,
                    indicator_id=indicator.id,
                    value=value.quantize(Decimal("0.0001")),
                    note=note,
                )
            )
    for indicator in context.indicators:
        if indicator.id not in seen:
            issues.append(
                progress_issue("missing_indicator", sheet=sheet, name=indicator.name, code=indicator.code)
            )
    return parsed


def validate_progress_sheets(
    content: bytes, values_wb: Workbook, context: ProgressContext
) -> ProgressValidation:
    """Every error of the items and indicators sheets, in reading order (the metadata is checked already)."""
    formulas_wb = _load(content, data_only=False) if has_formulas(content) else values_wb
    sheets = progress_texts()["sheets"]
    issues: list[ValidationIssue] = [
        progress_issue("sheet_missing", sheet=sheets[key])
        for key in ("items", "indicators")
        if sheets[key] not in values_wb.sheetnames
    ]
    if issues:
        return ProgressValidation(errors=issues)
    entries = _parse_items(values_wb[sheets["items"]], formulas_wb[sheets["items"]], context, issues)
    values = _parse_indicators(
        values_wb[sheets["indicators"]], formulas_wb[sheets["indicators"]], context, issues
    )
    order = {sheets["items"]: 0, sheets["indicators"]: 1}
    issues.sort(
        key=lambda i: (order.get(i.sheet or "", 2), i.row or 10**9, len(i.column or ""), i.column or "")
    )
    if issues:
        return ProgressValidation(errors=issues)
    return ProgressValidation(entries=entries, values=values)


def open_progress_workbook(content: bytes) -> tuple[Workbook | None, list[ValidationIssue]]:
    """The workbook's cached values, or the file-level issue that stops everything."""
    issues = check_file(content)
    if issues:
        return None, issues
    try:
        return _load(content, data_only=True), []
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        return None, [make_issue("file_unreadable", reason=f"{type(exc).__name__}: {exc}")]
