"""Read and validate a workbook a unit uploaded, against its cycle and the unit it was issued to.

`validate_workbook` never stops at the first problem inside the sheets: it returns every error, each
with its sheet, row, column (letter and header) and a message in Vietnamese (for the officer) and
English (for the logs). Problems with the file itself (not an .xlsx, too big, a zip bomb) or with the
hidden metadata (missing, tampered, another unit, another year, an old template) are reported alone,
because the cells of such a file cannot be trusted to mean what the columns say.

Messages live in ``templates/workbook/messages.yaml``; the key of each rule is the YAML key.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel
from sqlmodel import Session

from models.base import ItemOrigin, ItemStatus, nfc
from models.cycle import PlanningCycle
from models.items import SubmissionItem
from models.registry import Unit
from tasks.common.money import MONEY_UNIT_LABELS, MoneyFormatError, format_money, parse_money
from tasks.submissions.workbook import (
    CLOSED_STATUSES,
    ITEMS_DATA_START_ROW,
    ITEMS_HEADER_ROW,
    ITEMS_SUBHEADER_ROW,
    META_SHEET,
    REPORTABLE_STATUSES,
    STATUS_DATA_START_ROW,
    STATUS_HEADER_ROW,
    YEAR_WINDOW,
    ColumnSpec,
    PreviousItem,
    WorkbookContext,
    item_columns,
    load_workbook_context,
    render_text,
    sign_metadata,
    signature_verifies,
    status_columns,
    workbook_texts,
)
from templates import TEMPLATES_DIR

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # all zip members together, as declared in the directory
MAX_MEMBER_RATIO = 100  # uncompressed / compressed for one member larger than 1 MB
MAX_ZIP_MEMBERS = 1000
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected Office file
XLSX_MAIN_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def _max_length(name: str) -> int:
    length = SubmissionItem.__table__.columns[name].type.length  # type: ignore[attr-defined]
    assert isinstance(length, int)
    return length


# Text columns of the items sheet and their limits, taken from the model so they cannot drift.
ITEM_TEXT_LIMITS = {
    key: _max_length(key) for key in ("name", "coordinating_units", "objective", "scope", "basis", "row_ref")
}
STATUS_NOTE_LIMIT = _max_length("status_note")


# ---------------------------------------------------------------- results


class ValidationIssue(BaseModel):
    """One problem, located as precisely as the workbook allows."""

    key: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None  # letter, e.g. "K"
    column_name: str | None = None  # header text of that column
    message_vi: str
    message_en: str

    @property
    def cell(self) -> str | None:
        return f"{self.column}{self.row}" if self.column and self.row else None


class ParsedItem(BaseModel):
    """One proposed task or project, with amounts in integer đồng per funding source code."""

    sheet_row: int
    row_ref: str | None = None
    name: str
    coordinating_units: str | None = None
    field_code: str
    origin: str
    objective: str | None = None
    scope: str | None = None
    start_year: int
    end_year: int
    basis: str | None = None
    carry_over_from_id: int | None = None
    amounts: dict[str, int | None]
    stated_total: int | None = None

    @property
    def total(self) -> int:
        return sum(a for a in self.amounts.values() if a is not None)


class ParsedStatus(BaseModel):
    """The year-end status of one item of last year's plan, as the unit reported it."""

    sheet_row: int
    plan_item_id: int
    status: str
    percent_complete: int | None = None
    note: str | None = None


class ParsedSubmission(BaseModel):
    cycle_id: int
    cycle_year: int
    unit_code: str
    template_version: str
    issued_at: str
    money_unit: str
    items: list[ParsedItem]
    statuses: list[ParsedStatus]
    source_codes: list[str]

    @property
    def totals(self) -> dict[str, int]:
        """Đồng per funding source code (every source of the cycle, zero when nothing was proposed)."""
        totals = dict.fromkeys(self.source_codes, 0)
        for item in self.items:
            for code, amount in item.amounts.items():
                if amount is not None:
                    totals[code] += amount
        return totals


class ValidationResult(BaseModel):
    submission: ParsedSubmission | None = None
    errors: list[ValidationIssue] = []

    @property
    def ok(self) -> bool:
        return self.submission is not None and not self.errors


# ---------------------------------------------------------------- messages


@lru_cache
def validation_messages() -> dict[str, dict[str, str]]:
    with (TEMPLATES_DIR / "workbook" / "messages.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def make_issue(
    key: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: ColumnSpec | None = None,
    **params: Any,
) -> ValidationIssue:
    texts = validation_messages()[key]
    return ValidationIssue(
        key=key,
        sheet=sheet,
        row=row,
        column=column.letter if column else None,
        column_name=column.header if column else None,
        message_vi=render_text(texts["vi"], sheet=sheet, row=row, **params),
        message_en=render_text(texts["en"], sheet=sheet, row=row, **params),
    )


# ---------------------------------------------------------------- cell readers


class _Unreadable:
    """A cell already reported (formula without value): no further rule looks at it."""


UNREADABLE = _Unreadable()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, _Unreadable):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        value = value.strftime("%d/%m/%Y")
    text = nfc(str(value))
    return text or None


def _loose_key(text: str) -> str:
    """Case-, spacing- and punctuation-insensitive key (diacritics kept: they tell Vietnamese words apart)."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(r"[\s.,;:!?\"'()\[\]\-–—/]+", " ", text)
    return text.strip()


def item_name_key(name: str) -> str:
    """The key used to find duplicates within a submission and to match carry-over items by name."""
    return _loose_key(name)


def _whole_number(value: Any) -> int | None:
    """An int from an int, an integral float or a digit string; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ---------------------------------------------------------------- the file


def check_file(content: bytes) -> list[ValidationIssue]:
    """Refuse anything that is not a reasonable .xlsx before openpyxl opens it: size, signature, the
    zip directory (declared sizes and ratios, which zipfile enforces when reading) and content types."""
    if not content:
        return [make_issue("file_empty")]
    if len(content) > MAX_UPLOAD_BYTES:
        return [
            make_issue(
                "file_too_large",
                size_mb=f"{len(content) / 1024 / 1024:.1f}".replace(".", ","),
                limit_mb=MAX_UPLOAD_BYTES // 1024 // 1024,
            )
        ]
    if content.startswith(OLE2_SIGNATURE):
        return [make_issue("file_is_xls")]
    if not content.startswith(b"PK\x03\x04"):
        return [make_issue("file_not_xlsx")]
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return [make_issue("file_not_xlsx")]
    with archive:
        if len(members) > MAX_ZIP_MEMBERS:
            return [make_issue("file_zip_bomb", reason=f"{len(members)} members")]
        declared = sum(m.file_size for m in members)
        if declared > MAX_UNCOMPRESSED_BYTES:
            return [make_issue("file_zip_bomb", reason=f"{declared} bytes uncompressed")]
        for member in members:
            if member.file_size > 1024 * 1024 and member.file_size > MAX_MEMBER_RATIO * max(
                member.compress_size, 1
            ):
                return [make_issue("file_zip_bomb", reason=f"ratio of {member.filename}")]
        names = {m.filename for m in members}
        try:
            if "mimetype" in names and b"opendocument" in archive.read("mimetype")[:200]:
                return [make_issue("file_is_ods")]
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                return [make_issue("file_not_xlsx")]
            content_types = archive.read("[Content_Types].xml")
        except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError):
            return [make_issue("file_not_xlsx")]
    if b"macroEnabled" in content_types:
        return [make_issue("file_macro_enabled")]
    if XLSX_MAIN_TYPE not in content_types:
        return [make_issue("file_not_xlsx")]
    return []


_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s>/]")  # <f>, <f t="shared" …>, <x:f>; not <formula1>


def has_formulas(content: bytes) -> bool:
    """Whether any worksheet of an (already checked) .xlsx holds a formula element."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return any(
            _FORMULA_ELEMENT.search(archive.read(name))
            for name in archive.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        )


def _load(content: bytes, *, data_only: bool) -> Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops; not the unit's problem
        return load_workbook(io.BytesIO(content), data_only=data_only, keep_links=False, rich_text=False)


# ---------------------------------------------------------------- metadata


def read_metadata_sheet(wb: Workbook) -> dict[str, str] | None:
    """The name/value pairs of a generated workbook's hidden metadata sheet (None when it has none)."""
    if META_SHEET not in wb.sheetnames:
        return None
    fields: dict[str, str] = {}
    for name, value in wb[META_SHEET].iter_rows(min_col=1, max_col=2, values_only=True):
        if isinstance(name, str) and value is not None:
            fields[name] = str(value)
    return fields


@dataclass(frozen=True)
class WorkbookIdentity:
    year: int
    unit_code: str


def identify_workbook(content: bytes) -> WorkbookIdentity | None:
    """Year and unit code from a workbook's hidden metadata, after the container checks (size, zip bomb,
    not an xlsx). ``None`` when it cannot be read; the signature itself is checked by the intake."""
    if check_file(content):
        return None
    try:
        fields = read_metadata_sheet(_load(content, data_only=True)) or {}
        return WorkbookIdentity(year=int(fields["cycle_year"]), unit_code=str(fields["unit_code"]))
    except Exception:  # an unreadable workbook is simply not identified; the caller says so
        return None


def check_metadata(wb: Workbook, context: WorkbookContext, secret: bytes | None) -> list[ValidationIssue]:
    """The signed metadata says which unit, year and template version the workbook was issued for. Without
    an explicit ``secret``, the current and previous signing secrets are accepted."""
    fields = read_metadata_sheet(wb)
    if not fields or "signature" not in fields:
        return [make_issue("meta_missing", sheet=META_SHEET)]
    found_version = fields.get("template_version", "")
    if found_version != context.template_version:
        return [
            make_issue(
                "meta_old_version", sheet=META_SHEET, found=found_version, expected=context.template_version
            )
        ]
    if not signature_verifies(fields["signature"], lambda key: sign_metadata(fields, key), secret):
        return [make_issue("meta_tampered", sheet=META_SHEET)]
    if fields.get("cycle_year") != str(context.cycle_year) or fields.get("cycle_id") != str(context.cycle_id):
        return [
            make_issue(
                "meta_wrong_year",
                sheet=META_SHEET,
                found=fields.get("cycle_year"),
                expected=context.cycle_year,
            )
        ]
    if fields.get("unit_code") != context.unit_code or fields.get("unit_id") != str(context.unit_id):
        return [
            make_issue(
                "meta_wrong_unit",
                sheet=META_SHEET,
                found=fields.get("unit_code"),
                expected=context.unit_code,
                expected_name=context.unit_name,
            )
        ]
    return []


# ---------------------------------------------------------------- sheet helpers


def _header_issues(
    ws: Worksheet, columns: list[ColumnSpec], header_row_of: dict[str, int]
) -> list[ValidationIssue]:
    issues = []
    for column in columns:
        row = header_row_of.get(column.key, header_row_of["*"])
        found = _text(ws.cell(row=row, column=column.index).value) or ""
        if _loose_key(found) != _loose_key(column.header):
            issues.append(
                make_issue(
                    "header_changed",
                    sheet=ws.title,
                    row=row,
                    column=column,
                    expected=column.header,
                    found=found,
                )
            )
    return issues


def _grid(
    values_ws: Worksheet, formulas_ws: Worksheet, *, first_row: int, columns: list[ColumnSpec], issues: list
) -> list[tuple[int, list[Any]]]:
    """Rows of cached values from ``first_row``; formula cells without a cached value are reported and
    replaced by UNREADABLE, so no later rule reads them as empty."""
    width = columns[-1].index
    rows: list[tuple[int, list[Any]]] = []
    value_rows = values_ws.iter_rows(min_row=first_row, max_col=width, values_only=True)
    formula_rows = formulas_ws.iter_rows(min_row=first_row, max_col=width)
    for offset, (values, cells) in enumerate(zip(value_rows, formula_rows, strict=False)):
        row_values = list(values) + [None] * (width - len(values))
        for cell in cells:
            if cell.data_type == "f":
                index = cell.column - 1
                if row_values[index] is None:
                    formula = cell.value if isinstance(cell.value, str) else getattr(cell.value, "text", "")
                    issues.append(
                        make_issue(
                            "formula_without_value",
                            sheet=values_ws.title,
                            row=first_row + offset,
                            column=columns[index],
                            formula=formula,
                        )
                    )
                    row_values[index] = UNREADABLE
        rows.append((first_row + offset, row_values))
    return rows


def _structure_issues(
    ws: Worksheet,
    *,
    first_row: int,
    columns: list[ColumnSpec],
    rows: list[tuple[int, list[Any]]],
    content_keys,
) -> list[ValidationIssue]:
    """Merged cells over the data area and hidden rows holding data: both hide what the unit meant.
    Cells under a merge are marked UNREADABLE in ``rows``."""
    issues = []
    by_index = {c.index: c for c in columns}
    by_row = dict(rows)
    for merged in sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col)):
        if merged.max_row >= first_row:
            # Which row a merged value belongs to is a guess: no rule reads these cells.
            for row in range(max(merged.min_row, first_row), merged.max_row + 1):
                for index in range(merged.min_col, min(merged.max_col, len(columns)) + 1):
                    if row in by_row:
                        by_row[row][index - 1] = UNREADABLE
            issues.append(
                make_issue(
                    "merged_cells",
                    sheet=ws.title,
                    row=max(merged.min_row, first_row),
                    column=by_index.get(merged.min_col),
                    range=merged.coord,
                )
            )
    for row, values in rows:
        dimension = ws.row_dimensions.get(row)
        if dimension is not None and dimension.hidden and _has_content(values, columns, content_keys):
            issues.append(make_issue("hidden_row", sheet=ws.title, row=row))
    return issues


def _has_content(values: list[Any], columns: list[ColumnSpec], content_keys: set[str] | None) -> bool:
    return any(
        not _is_blank(values[c.index - 1]) for c in columns if content_keys is None or c.key in content_keys
    )


# ---------------------------------------------------------------- the items sheet


def _choice_map(pairs: dict[str, str]) -> dict[str, str]:
    return {_loose_key(label): key for key, label in pairs.items()} | {_loose_key(k): k for k in pairs}


def _parse_items(
    values_ws: Worksheet,
    formulas_ws: Worksheet,
    context: WorkbookContext,
    reported_status: dict[int, str],
    issues: list[ValidationIssue],
) -> list[ParsedItem]:
    texts = workbook_texts()
    sheet = values_ws.title
    columns = item_columns(context)
    col = {c.key: c for c in columns if c.key != "amount"}
    amount_columns = [c for c in columns if c.key == "amount"]
    header_issues = _header_issues(values_ws, columns, {"*": ITEMS_HEADER_ROW, "amount": ITEMS_SUBHEADER_ROW})
    if header_issues:
        issues.extend(header_issues)
        return []
    rows = _grid(values_ws, formulas_ws, first_row=ITEMS_DATA_START_ROW, columns=columns, issues=issues)
    content_keys = {c.key for c in columns} - {"stt", "lead_unit"}
    issues.extend(
        _structure_issues(
            values_ws, first_row=ITEMS_DATA_START_ROW, columns=columns, rows=rows, content_keys=content_keys
        )
    )

    fields = {_loose_key(f.name): f.code for f in context.fields} | {
        _loose_key(f.code): f.code for f in context.fields
    }
    origins = _choice_map(texts["origins"])
    origin_choices = " hoặc ".join(f"«{label}»" for label in texts["origins"].values())
    previous_by_id = {p.id: p for p in context.previous_items}
    previous_by_name = {item_name_key(p.name): p for p in context.previous_items}
    status_labels = texts["statuses"]
    year = context.cycle_year
    unit_label = MONEY_UNIT_LABELS[context.money_unit]
    seen_names: dict[str, int] = {}
    seen_refs: dict[int, int] = {}
    items: list[ParsedItem] = []

    for row, values in rows:
        if not _has_content(values, columns, content_keys):
            continue
        before = len(issues)

        def cell(key: str, values: list[Any] = values) -> Any:
            return values[col[key].index - 1]

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(make_issue(key, sheet=sheet, row=row, column=col.get(column_key or ""), **params))

        def text(key: str, required: bool = False, limit_key: str | None = None) -> str | None:
            raw = cell(key)
            value = _text(raw)
            if value is None:
                if required and not isinstance(raw, _Unreadable):
                    err("required", key, column_label=col[key].header)
                return None
            limit = ITEM_TEXT_LIMITS.get(limit_key or key)
            if limit is not None and len(value) > limit:
                err("too_long", key, length=len(value), max_length=limit)
            return value

        name = text("name", required=True)
        row_ref = text("stt", limit_key="row_ref")
        coordinating = text("coordinating_units")
        objective = text("objective")
        scope = text("scope")
        basis = text("basis")

        field_code = None
        field_text = text("field", required=True)
        if field_text is not None:
            field_code = fields.get(_loose_key(field_text))
            if field_code is None:
                err("field_unknown", "field", value=field_text)

        origin = None
        origin_text = text("origin", required=True)
        if origin_text is not None:
            origin = origins.get(_loose_key(origin_text)) or origins.get(_loose_key("dự án " + origin_text))
            if origin is None:
                err("origin_unknown", "origin", value=origin_text, choices=origin_choices)

        years: dict[str, int | None] = {}
        for key in ("start_year", "end_year"):
            raw = cell(key)
            years[key] = None
            if _is_blank(raw):
                err("required", key, column_label=col[key].header)
            elif not isinstance(raw, _Unreadable):
                years[key] = _whole_number(raw)
                if years[key] is None:
                    err("year_not_integer", key, value=_text(raw))
        start, end = years["start_year"], years["end_year"]
        if start is not None and start < year - YEAR_WINDOW:
            err("start_year_too_early", "start_year", value=start, min_year=year - YEAR_WINDOW)
        if end is not None and end > year + YEAR_WINDOW:
            err("end_year_too_late", "end_year", value=end, max_year=year + YEAR_WINDOW)
        if start is not None and end is not None:
            if end < start:
                err("end_before_start", "end_year", start=start, end=end)
            elif not start <= year <= end:
                err(
                    "not_in_cycle_year",
                    "start_year" if start > year else "end_year",
                    start=start,
                    end=end,
                    year=year,
                )

        amounts: dict[str, int | None] = {}
        amounts_ok = True
        for column in amount_columns:
            raw = values[column.index - 1]
            assert column.source_code is not None
            amounts[column.source_code] = None
            if isinstance(raw, _Unreadable):
                amounts_ok = False
                continue
            try:
                amounts[column.source_code], other_unit = read_amount(raw, context.money_unit)
            except MoneyFormatError as exc:
                amounts_ok = False
                issues.append(
                    make_issue(
                        "amount_invalid",
                        sheet=sheet,
                        row=row,
                        column=column,
                        detail_vi=exc.message_vi,
                        detail_en=str(exc),
                    )
                )
                continue
            if other_unit is not None:
                amounts_ok = False
                issues.append(
                    make_issue(
                        "amount_unit_mismatch",
                        sheet=sheet,
                        row=row,
                        column=column,
                        value=_text(raw),
                        found=MONEY_UNIT_LABELS[other_unit],
                        expected=unit_label,
                    )
                )
        stated_total = None
        raw_total = cell("total")
        if not isinstance(raw_total, _Unreadable):
            try:
                stated_total, other_unit = read_amount(raw_total, context.money_unit)
            except MoneyFormatError as exc:
                err("amount_invalid", "total", detail_vi=exc.message_vi, detail_en=str(exc))
            else:
                if other_unit is not None:
                    err(
                        "amount_unit_mismatch",
                        "total",
                        value=_text(raw_total),
                        found=MONEY_UNIT_LABELS[other_unit],
                        expected=unit_label,
                    )
        if stated_total is not None and amounts_ok:
            computed = sum(a for a in amounts.values() if a is not None)
            if computed != stated_total:
                err(
                    "total_mismatch",
                    "total",
                    stated=format_money(stated_total, context.money_unit),
                    computed=format_money(computed, context.money_unit),
                    unit=unit_label,
                )

        if name is not None:
            key = item_name_key(name)
            if key in seen_names:
                err("duplicate_name", "name", first_row=seen_names[key])
            else:
                seen_names[key] = row

        carry_over_from: PreviousItem | None = None
        raw_ref = cell("previous_ref")
        ref_text = _text(raw_ref)
        if ref_text is not None:
            ref_id = _whole_number(raw_ref)
            carry_over_from = previous_by_id.get(ref_id) if ref_id is not None else None
            if carry_over_from is None:
                err(
                    "carry_over_unknown_ref",
                    "previous_ref",
                    value=ref_text,
                    previous_year=context.previous_year,
                )
            elif origin == ItemOrigin.new:
                err("carry_over_ref_on_new", "origin")
        elif origin == ItemOrigin.carry_over and name is not None:
            if not context.previous_items and context.previous_cycle_id is None:
                err("carry_over_no_previous_plan", "origin")
            else:
                carry_over_from = previous_by_name.get(item_name_key(name))
                if carry_over_from is None:
                    err("carry_over_no_match", "name", previous_year=context.previous_year)
        if carry_over_from is not None and origin == ItemOrigin.carry_over:
            if carry_over_from.id in seen_refs:
                err("carry_over_duplicate", "previous_ref", first_row=seen_refs[carry_over_from.id])
            else:
                seen_refs[carry_over_from.id] = row
            status = reported_status.get(carry_over_from.id, carry_over_from.status)
            if status in CLOSED_STATUSES:
                err("carry_over_closed", "origin", status=status_labels[status])

        if len(issues) == before and name and field_code and origin and start is not None and end is not None:
            items.append(
                ParsedItem(
                    sheet_row=row,
                    row_ref=row_ref,
                    name=name,
                    coordinating_units=coordinating,
                    field_code=field_code,
                    origin=origin,
                    objective=objective,
                    scope=scope,
                    start_year=start,
                    end_year=end,
                    basis=basis,
                    carry_over_from_id=carry_over_from.id if carry_over_from else None,
                    amounts=amounts,
                    stated_total=stated_total,
                )
            )
    return items


# A unit word after a number ("12 tỷ", "500 triệu đồng", "1.000đ"); not the end of any other word.
_UNIT_SUFFIX = re.compile(r"(?i)(?<=[\d\s.,])\s*(triệu\s*đồng|tỷ\s*đồng|triệu|tỷ|đồng|vnđ|vnd|đ)\s*$")
_SUFFIX_UNITS = {"triệu": "trieu", "tỷ": "ty", "đồng": "dong", "vnđ": "dong", "vnd": "dong", "đ": "dong"}


def read_amount(raw: Any, money_unit: str) -> tuple[int | None, str | None]:
    """Exact đồng from a cell written in ``money_unit``, or the key and parameters of what is wrong.

    A unit word after the number must be the column's unit: "12 tỷ" in a column in triệu would
    otherwise be read as 12 triệu, a thousand times too little."""
    if isinstance(raw, str):
        raw = unicodedata.normalize("NFC", raw)
        suffix = _UNIT_SUFFIX.search(raw)
        if suffix is not None:
            word = re.sub(r"\s+", " ", suffix.group(1).casefold()).split(" ")[0]
            if _SUFFIX_UNITS[word] != money_unit:
                return None, _SUFFIX_UNITS[word]
            raw = raw[: suffix.start()]
    return parse_money(raw, money_unit), None


# ---------------------------------------------------------------- the status sheet


def _parse_statuses(
    values_ws: Worksheet, formulas_ws: Worksheet, context: WorkbookContext, issues: list[ValidationIssue]
) -> list[ParsedStatus]:
    texts = workbook_texts()
    sheet = values_ws.title
    columns = status_columns(context)
    col = {c.key: c for c in columns}
    header_issues = _header_issues(values_ws, columns, {"*": STATUS_HEADER_ROW})
    if header_issues:
        issues.extend(header_issues)
        return []
    rows = _grid(values_ws, formulas_ws, first_row=STATUS_DATA_START_ROW, columns=columns, issues=issues)
    content_keys = {"ref", "status", "percent", "note"}
    issues.extend(
        _structure_issues(
            values_ws, first_row=STATUS_DATA_START_ROW, columns=columns, rows=rows, content_keys=content_keys
        )
    )
    statuses = _choice_map({k: v for k, v in texts["statuses"].items() if k in REPORTABLE_STATUSES})
    previous_by_id = {p.id: p for p in context.previous_items}
    seen: dict[int, int] = {}
    parsed: list[ParsedStatus] = []
    for row, values in rows:
        if not _has_content(values, columns, content_keys):
            continue
        before = len(issues)

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(make_issue(key, sheet=sheet, row=row, column=col.get(column_key or ""), **params))

        raw_ref = values[col["ref"].index - 1]
        ref_id = _whole_number(raw_ref)
        if ref_id is None or ref_id not in previous_by_id:
            err("status_unknown_ref", "ref", value=_text(raw_ref) or "", previous_year=context.previous_year)
            continue
        if ref_id in seen:
            err("status_duplicate_ref", "ref", first_row=seen[ref_id])
            continue
        seen[ref_id] = row
        raw_status = values[col["status"].index - 1]
        status_text = _text(raw_status)
        status = None
        if status_text is None:
            if not isinstance(raw_status, _Unreadable):
                err("required", "status", column_label=col["status"].header)
        else:
            status = statuses.get(_loose_key(status_text))
            if status is None:
                err("status_unknown", "status", value=status_text)
        raw_percent = values[col["percent"].index - 1]
        percent = None
        if not _is_blank(raw_percent) and not isinstance(raw_percent, _Unreadable):
            percent = _whole_number(raw_percent.rstrip("% ") if isinstance(raw_percent, str) else raw_percent)
            if percent is None or not 0 <= percent <= 100:
                err("percent_invalid", "percent", value=_text(raw_percent))
                percent = None
        if status == ItemStatus.completed:
            if percent is not None and percent != 100:
                err("status_percent_mismatch", "percent", status=texts["statuses"][status], percent=percent)
            percent = 100
        note = _text(values[col["note"].index - 1])
        if note is not None and len(note) > STATUS_NOTE_LIMIT:
            err("too_long", "note", length=len(note), max_length=STATUS_NOTE_LIMIT)
        if len(issues) == before and status is not None:
            parsed.append(
                ParsedStatus(
                    sheet_row=row, plan_item_id=ref_id, status=status, percent_complete=percent, note=note
                )
            )
    for item in context.previous_items:
        if item.id not in seen:
            issues.append(make_issue("status_missing_item", sheet=sheet, name=item.name, ref=item.id))
    return parsed


# ---------------------------------------------------------------- entry points


def validate_workbook(
    source: bytes | Path, *, context: WorkbookContext, secret: bytes | None = None
) -> ValidationResult:
    """Validate an uploaded workbook for ``context`` (one cycle, one unit). Collects every error."""
    content = source.read_bytes() if isinstance(source, Path) else source
    issues = check_file(content)
    if issues:
        return ValidationResult(errors=issues)
    try:
        values_wb = _load(content, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        return ValidationResult(errors=[make_issue("file_unreadable", reason=f"{type(exc).__name__}: {exc}")])
    issues = check_metadata(values_wb, context, secret)
    if issues:
        return ValidationResult(errors=issues)
    # The second load sees formulas: one without a cached value is reported, not read as empty. A file
    # whose sheets hold no formula element at all would show nothing more, so it is not loaded twice.
    formulas_wb = _load(content, data_only=False) if has_formulas(content) else values_wb
    sheets = workbook_texts()["sheets"]
    for key in ("items", "status"):
        if sheets[key] not in values_wb.sheetnames:
            issues.append(make_issue("sheet_missing", sheet=sheets[key]))
    if issues:
        return ValidationResult(errors=issues)
    statuses = _parse_statuses(values_wb[sheets["status"]], formulas_wb[sheets["status"]], context, issues)
    reported = {s.plan_item_id: s.status for s in statuses}
    items = _parse_items(values_wb[sheets["items"]], formulas_wb[sheets["items"]], context, reported, issues)
    if not items and not any(i.sheet == sheets["items"] for i in issues):
        issues.append(make_issue("no_items", sheet=sheets["items"], row=ITEMS_DATA_START_ROW))
    # Report in reading order: items sheet first, then the status sheet, each top to bottom.
    order = {sheets["items"]: 0, sheets["status"]: 1}
    issues.sort(
        key=lambda i: (order.get(i.sheet or "", 2), i.row or 10**9, len(i.column or ""), i.column or "")
    )
    if issues:
        return ValidationResult(errors=issues)
    metadata = read_metadata_sheet(values_wb) or {}
    return ValidationResult(
        submission=ParsedSubmission(
            cycle_id=context.cycle_id,
            cycle_year=context.cycle_year,
            unit_code=context.unit_code,
            template_version=metadata.get("template_version", ""),
            issued_at=metadata.get("issued_at", ""),
            money_unit=context.money_unit,
            items=items,
            statuses=statuses,
            source_codes=[s.code for s in context.funding_sources],
        )
    )


def validate_upload(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    content: bytes,
    context: WorkbookContext | None = None,
) -> ValidationResult:
    """Validate an upload for ``unit`` in ``cycle``, reading the context from the database."""
    context = context or load_workbook_context(session=session, cycle=cycle, unit=unit)
    return validate_workbook(content, context=context)
