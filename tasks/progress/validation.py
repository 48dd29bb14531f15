"""Reading a progress-report workbook back: its signed identity, then every sheet, row and column.

`read_progress_metadata` says which report a file belongs to (or the one issue that makes it unusable);
`validate_progress_sheets` returns every error of the items and indicators sheets, each with its sheet, row
and column, like the submission validation, with the same file and cell checks (`tasks.excel`).
Progress-specific messages live in ``templates/errors/progress.yaml``, the shared ones (file, metadata,
cells) in ``templates/workbook/messages.yaml``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

from openpyxl.workbook.workbook import Workbook
from pydantic import BaseModel

from models.base import ItemStatus
from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.excel.checks import check_amount, check_choice, check_percent
from tasks.excel.files import check_file, sheet_part
from tasks.excel.grid import (
    UNREADABLE,
    cell_text,
    choice_map,
    is_blank,
    loose_key,
    read_decimal,
    read_table,
    sort_issues,
    whole_number,
)
from tasks.excel.issues import ValidationIssue, issue_from, make_issue
from tasks.excel.layout import ColumnSpec
from tasks.excel.metadata import META_SHEET, read_metadata_sheet, signature_verifies
from tasks.excel.stream import StreamedSheet, StreamedWorkbook, read_metadata_fields
from tasks.progress.workbook import (
    INDICATORS_DATA_START_ROW,
    INDICATORS_HEADER_ROW,
    ITEMS_DATA_START_ROW,
    ITEMS_HEADER_ROW,
    PROGRESS_TEMPLATE_VERSION,
    WORKBOOK_KIND,
    ProgressContext,
    indicator_columns,
    item_columns,
    progress_texts,
    sign_progress_metadata,
    status_labels,
)
from tasks.submissions.workbook import REPORTABLE_STATUSES
from templates import load_yaml

TEXT_LIMIT = 4000  # ProgressEntry.problems / proposals
NOTE_LIMIT = 2000  # IndicatorValue.note
VALUE_LIMIT = Decimal(10) ** 14  # IndicatorValue.value is NUMERIC(18, 4): 14 digits before the point
UNFINISHED = frozenset({ItemStatus.in_progress, ItemStatus.partly_done})


def progress_messages() -> dict[str, dict[str, str]]:
    return load_yaml("errors/progress.yaml")


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
    return issue_from(key, texts, sheet=sheet, row=row, column=column, values=params)


# ---------------------------------------------------------------- metadata


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
    if check_file(content) or not _may_name(content, WORKBOOK_KIND):
        return False
    try:
        return (read_metadata_fields(content, META_SHEET) or {}).get("kind") == WORKBOOK_KIND
    except Exception:  # an unreadable file is not one; the submission intake reports why
        return False


def _may_name(content: bytes, text: str) -> bool:
    """Whether ``text`` can be in the metadata sheet at all: in the shared strings, or in that sheet's own
    part when the file was written with inline strings. Most uploads are proposals, not progress reports,
    and this parses nothing: only the metadata sheet's part is read, not the sheets units fill (a 50-row
    proposal cost about 0.5 ms here when every sheet was decompressed). Where the workbook's structure
    cannot be followed, every sheet is searched as before."""
    needle = text.encode("utf-8")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        try:
            part: str | None = sheet_part(archive, META_SHEET)
        except (KeyError, ElementTree.ParseError):
            part = ""
        if part is None:  # no metadata sheet: not a workbook of ours (read_metadata_fields says None)
            return False
        names = set(archive.namelist())
        if "xl/sharedStrings.xml" in names and needle in archive.read("xl/sharedStrings.xml"):
            return True
        parts = (
            [part] if part else [n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        )
        return any(
            needle in archive.read(name)
            for name in parts
            if name in names and archive.getinfo(name).file_size < 1 << 20
        )


def read_progress_metadata(
    wb: Workbook | StreamedWorkbook, secret: bytes | None = None
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


def _parse_items(
    values_ws: StreamedSheet, context: ProgressContext, issues: list[ValidationIssue]
) -> list[ParsedEntry]:
    sheet = values_ws.title
    columns = item_columns(context)
    col_of = {c.key: c for c in columns if c.key != "approved"}
    rows = read_table(
        values_ws,
        columns=columns,
        header_rows={"*": ITEMS_HEADER_ROW},
        first_row=ITEMS_DATA_START_ROW,
        content_keys={"ref", "status", "percent", "disbursed", "problems", "proposals"},
        issues=issues,
    )
    if rows is None:
        return []
    labels = status_labels()
    statuses = choice_map({k: v for k, v in labels.items() if k in REPORTABLE_STATUSES})
    items_by_id = {item.id: item for item in context.items}
    unit_label = MONEY_UNIT_LABELS[context.money_unit]
    seen: dict[int, int] = {}
    parsed: list[ParsedEntry] = []
    for row, values in rows:
        before = len(issues)

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(
                progress_issue(key, sheet=sheet, row=row, column=col_of.get(column_key or ""), **params)
            )

        def cell(key: str, values: list[Any] = values) -> Any:
            return values[col_of[key].index - 1]

        raw_ref = cell("ref")
        ref = whole_number(raw_ref)
        item = items_by_id.get(ref) if ref is not None else None
        if item is None:
            err("unknown_item", "ref", value=cell_text(raw_ref) or "")
            continue
        if item.id in seen:
            err("duplicate_item", "ref", first_row=seen[item.id])
            continue
        seen[item.id] = row

        status, problem = check_choice(
            cell("status"), statuses, unknown_key="status_unknown", column_label=col_of["status"].header
        )
        if problem is not None:
            err(problem[0], "status", **problem[1])

        raw_percent = cell("percent")
        percent, problem = check_percent(raw_percent)
        if problem is not None:
            err(problem[0], "percent", **problem[1])
        elif percent is not None and status is not None:
            label = labels[status]
            if status == ItemStatus.completed and percent != 100:
                err("completed_not_100", "percent", status=label, percent=percent)
            elif status == ItemStatus.not_started and percent != 0:
                err("not_started_not_0", "percent", status=label, percent=percent)
            elif status in UNFINISHED and percent == 100:
                err("unfinished_at_100", "percent", status=label)
        elif is_blank(raw_percent) and status is not None:
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
        if raw_disbursed is not UNREADABLE and not is_blank(raw_disbursed):
            negative = (isinstance(raw_disbursed, int | float) and raw_disbursed < 0) or (
                isinstance(raw_disbursed, str) and raw_disbursed.strip().startswith("-")
            )
            if negative:
                err("disbursed_negative", "disbursed", value=cell_text(raw_disbursed))
            else:
                disbursed, problem = check_amount(
                    raw_disbursed,
                    context.money_unit,
                    context.max_item_amount * max(len(context.funding_sources), 1),
                )
                if problem is not None:
                    err(problem[0], "disbursed", **problem[1])
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
            texts[key] = cell_text(cell(key))
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
    values_ws: StreamedSheet, context: ProgressContext, issues: list[ValidationIssue]
) -> list[ParsedIndicatorValue]:
    sheet = values_ws.title
    columns = indicator_columns(context)
    col_of = {c.key: c for c in columns}
    rows = read_table(
        values_ws,
        columns=columns,
        header_rows={"*": INDICATORS_HEADER_ROW},
        first_row=INDICATORS_DATA_START_ROW,
        content_keys={"code", "value", "note"},
        issues=issues,
    )
    if rows is None:
        return []
    by_code = {loose_key(i.code): i for i in context.indicators}
    seen: dict[int, int] = {}
    parsed: list[ParsedIndicatorValue] = []
    for row, values in rows:
        before = len(issues)

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(
                progress_issue(key, sheet=sheet, row=row, column=col_of.get(column_key or ""), **params)
            )

        code = cell_text(values[col_of["code"].index - 1])
        indicator = by_code.get(loose_key(code)) if code else None
        if indicator is None:
            err("unknown_indicator", "code", value=code or "")
            continue
        if indicator.id in seen:
            err("duplicate_indicator", "code", first_row=seen[indicator.id])
            continue
        seen[indicator.id] = row
        raw_value = values[col_of["value"].index - 1]
        value = None
        if is_blank(raw_value):
            err("required", "value", column_label=col_of["value"].header)
        elif raw_value is not UNREADABLE:
            value = read_decimal(raw_value)
            if value is None:
                err("indicator_value_invalid", "value", value=cell_text(raw_value))
            elif not -VALUE_LIMIT < value < VALUE_LIMIT:
                err("indicator_value_too_large", "value", value=cell_text(raw_value))
                value = None
            elif (indicator.measure_unit or "").strip() == "%" and not 0 <= value <= 100:
                err("indicator_percent_range", "value", value=cell_text(raw_value))
        note = cell_text(values[col_of["note"].index - 1])
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
    content: bytes, values_wb: StreamedWorkbook, context: ProgressContext
) -> ProgressValidation:
    """Every error of the items and indicators sheets, in reading order (the metadata is checked already)."""
    sheets = progress_texts()["sheets"]
    issues: list[ValidationIssue] = [
        progress_issue("sheet_missing", sheet=sheets[key])
        for key in ("items", "indicators")
        if sheets[key] not in values_wb.sheetnames
    ]
    if issues:
        return ProgressValidation(errors=issues)
    entries = _parse_items(values_wb[sheets["items"]], context, issues)
    values = _parse_indicators(values_wb[sheets["indicators"]], context, issues)
    sort_issues(issues, [sheets["items"], sheets["indicators"]])
    if issues:
        return ProgressValidation(errors=issues)
    return ProgressValidation(entries=entries, values=values)
