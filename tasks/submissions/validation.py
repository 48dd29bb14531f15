"""Read and validate a workbook a unit uploaded, against its cycle and the unit it was issued to.

`validate_workbook` never stops at the first problem inside the sheets: it returns every error, each
with its sheet, row, column (letter and header) and a message in Vietnamese (for the officer) and
English (for the logs). Problems with the file itself (not an .xlsx, too big, a zip bomb) or with the
hidden metadata (missing, tampered, another unit, another year, an old template) are reported alone,
because the cells of such a file cannot be trusted to mean what the columns say.

Messages live in ``templates/workbook/messages.yaml``; the key of each rule is the YAML key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from models.base import ItemOrigin, ItemStatus
from models.items import SubmissionItem
from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.consolidation.legal_frame import frame_for
from tasks.excel.checks import check_amount, check_choice, check_percent
from tasks.excel.files import check_file, open_checked
from tasks.excel.grid import (
    UNREADABLE,
    cell_text,
    choice_map,
    is_blank,
    loose_key,
    read_table,
    sort_issues,
    whole_number,
)
from tasks.excel.issues import ValidationIssue, make_issue
from tasks.excel.metadata import META_SHEET, read_metadata_sheet, signature_verifies
from tasks.excel.stream import StreamedSheet, StreamedWorkbook, read_metadata_fields
from tasks.submissions.workbook import (
    CLOSED_STATUSES,
    ITEMS_DATA_START_ROW,
    ITEMS_HEADER_ROW,
    ITEMS_SUBHEADER_ROW,
    REPORTABLE_STATUSES,
    STATUS_DATA_START_ROW,
    STATUS_HEADER_ROW,
    YEAR_WINDOW,
    PreviousItem,
    WorkbookContext,
    item_columns,
    sign_metadata,
    status_columns,
    workbook_texts,
)


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


class ParsedItem(BaseModel):
    """One proposed task or project, with amounts in integer đồng per funding source code."""

    sheet_row: int
    row_ref: str | None = None
    name: str
    lead_unit: str | None = None  # the "Đơn vị chủ trì" cell as written (blank: the unit itself)
    coordinating_units: str | None = None
    field_code: str
    class_code: str | None = None
    subfield_code: str | None = None
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


def item_name_key(name: str) -> str:
    """The key used to find duplicates within a submission and to match carry-over items by name."""
    return loose_key(name)


# ---------------------------------------------------------------- metadata


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
        fields = read_metadata_fields(content, META_SHEET) or {}
        return WorkbookIdentity(year=int(fields["cycle_year"]), unit_code=str(fields["unit_code"]))
    except Exception:  # an unreadable workbook is simply not identified; the caller says so
        return None


def check_metadata(
    wb: StreamedWorkbook, context: WorkbookContext, secret: bytes | None
) -> list[ValidationIssue]:
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


def _parse_items(
    values_ws: StreamedSheet,
    context: WorkbookContext,
    reported_status: dict[int, str],
    issues: list[ValidationIssue],
) -> list[ParsedItem]:
    texts = workbook_texts()
    sheet = values_ws.title
    columns = item_columns(context)
    col = {c.key: c for c in columns if c.key != "amount"}
    amount_columns = [c for c in columns if c.key == "amount"]
    rows = read_table(
        values_ws,
        columns=columns,
        header_rows={"*": ITEMS_HEADER_ROW, "amount": ITEMS_SUBHEADER_ROW},
        first_row=ITEMS_DATA_START_ROW,
        content_keys={c.key for c in columns} - {"stt", "lead_unit"},
        issues=issues,
    )
    if rows is None:
        return []

    fields = {loose_key(f.name): f.code for f in context.fields} | {
        loose_key(f.code): f.code for f in context.fields
    }
    origins = choice_map(texts["origins"])
    origin_choices = list(texts["origins"].values())
    previous_by_id = {p.id: p for p in context.previous_items}
    previous_by_name = {item_name_key(p.name): p for p in context.previous_items}
    status_labels = texts["statuses"]
    year = context.cycle_year
    unit_label = MONEY_UNIT_LABELS[context.money_unit]
    seen_names: dict[str, int] = {}
    seen_refs: dict[int, int] = {}
    items: list[ParsedItem] = []

    for row, values in rows:
        before = len(issues)

        def cell(key: str, values: list[Any] = values) -> Any:
            return values[col[key].index - 1]

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(make_issue(key, sheet=sheet, row=row, column=col.get(column_key or ""), **params))

        def text(key: str, required: bool = False, limit_key: str | None = None) -> str | None:
            raw = cell(key)
            value = cell_text(raw)
            if value is None:
                if required and raw is not UNREADABLE:
                    err("required", key, column_label=col[key].header)
                return None
            limit = ITEM_TEXT_LIMITS.get(limit_key or key)
            if limit is not None and len(value) > limit:
                err("too_long", key, length=len(value), max_length=limit)
            return value

        name = text("name", required=True)
        row_ref = text("stt", limit_key="row_ref")
        coordinating = text("coordinating_units")
        lead_text = cell_text(cell("lead_unit"))
        objective = text("objective")
        scope = text("scope")
        basis = text("basis")

        field_code = None
        field_text = text("field", required=True)
        if field_text is not None:
            field_code = fields.get(loose_key(field_text))
            if field_code is None:
                err("field_unknown", "field", value=field_text)

        class_code, subfield_code = _frame_codes(context, text, err)

        origin = None
        origin_text = text("origin", required=True)
        if origin_text is not None:
            origin = origins.get(loose_key(origin_text)) or origins.get(loose_key("dự án " + origin_text))
            if origin is None:
                err("origin_unknown", "origin", value=origin_text, choices=origin_choices)

        years: dict[str, int | None] = {}
        for key in ("start_year", "end_year"):
            raw = cell(key)
            years[key] = None
            if is_blank(raw):
                err("required", key, column_label=col[key].header)
            elif raw is not UNREADABLE:
                years[key] = whole_number(raw)
                if years[key] is None:
                    err("year_not_integer", key, value=cell_text(raw))
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
            if raw is UNREADABLE:
                amounts_ok = False
                continue
            amounts[column.source_code], problem = check_amount(
                raw, context.money_unit, context.max_item_amount
            )
            if problem is not None:
                amounts_ok = False
                issues.append(make_issue(problem[0], sheet=sheet, row=row, column=column, **problem[1]))
        stated_total = None
        raw_total = cell("total")
        if raw_total is not UNREADABLE:
            stated_total, problem = check_amount(
                raw_total, context.money_unit, context.max_item_amount * max(len(amount_columns), 1)
            )
            if problem is not None:
                err(problem[0], "total", **problem[1])
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
        ref_text = cell_text(raw_ref)
        if ref_text is not None:
            ref_id = whole_number(raw_ref)
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
                    lead_unit=lead_text,
                    coordinating_units=coordinating,
                    field_code=field_code,
                    class_code=class_code,
                    subfield_code=subfield_code,
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


def _frame_codes(context: WorkbookContext, text: Any, err: Any) -> tuple[str | None, str | None]:
    """The row's KH&CN / ĐMST / CĐS class and sub-field codes (optional; a sub-field alone gives its
    class), or the problems with them."""
    if not context.classes:
        return None, None
    classes = {loose_key(c.name): c.code for c in context.classes} | {
        loose_key(c.code): c.code for c in context.classes
    }
    class_names = {c.code: c.name for c in context.classes}
    subfields = {loose_key(f.name): f.code for f in context.subfields} | {
        loose_key(f.code): f.code for f in context.subfields
    }
    frame = frame_for(context.cycle_year)
    owner = frame.subfield_class() if frame else {}
    class_code = subfield_code = None
    class_text = text("frame_class")
    if class_text is not None:
        class_code = classes.get(loose_key(class_text))
        if class_code is None:
            err(
                "frame_class_unknown",
                "frame_class",
                value=class_text,
                choices=", ".join(class_names.values()),
            )
    subfield_text = text("frame_subfield")
    if subfield_text is not None:
        subfield_code = subfields.get(loose_key(subfield_text))
        if subfield_code is None:
            err("frame_subfield_unknown", "frame_subfield", value=subfield_text)
        elif class_code is None and class_text is None:
            class_code = owner.get(subfield_code)
        elif class_code is not None and owner.get(subfield_code) != class_code:
            err(
                "frame_subfield_mismatch",
                "frame_subfield",
                value=subfield_text,
                class_name=class_names[class_code],
            )
            subfield_code = None
    return class_code, subfield_code


# ---------------------------------------------------------------- the status sheet


def _parse_statuses(
    values_ws: StreamedSheet, context: WorkbookContext, issues: list[ValidationIssue]
) -> list[ParsedStatus]:
    texts = workbook_texts()
    sheet = values_ws.title
    columns = status_columns(context)
    col = {c.key: c for c in columns}
    rows = read_table(
        values_ws,
        columns=columns,
        header_rows={"*": STATUS_HEADER_ROW},
        first_row=STATUS_DATA_START_ROW,
        content_keys={"ref", "status", "percent", "note"},
        issues=issues,
    )
    if rows is None:
        return []
    statuses = choice_map({k: v for k, v in texts["statuses"].items() if k in REPORTABLE_STATUSES})
    previous_by_id = {p.id: p for p in context.previous_items}
    seen: dict[int, int] = {}
    parsed: list[ParsedStatus] = []
    for row, values in rows:
        before = len(issues)

        def err(key: str, column_key: str | None = None, row: int = row, **params: Any) -> None:
            issues.append(make_issue(key, sheet=sheet, row=row, column=col.get(column_key or ""), **params))

        raw_ref = values[col["ref"].index - 1]
        ref_id = whole_number(raw_ref)
        if ref_id is None or ref_id not in previous_by_id:
            err(
                "status_unknown_ref",
                "ref",
                value=cell_text(raw_ref) or "",
                previous_year=context.previous_year,
            )
            continue
        if ref_id in seen:
            err("status_duplicate_ref", "ref", first_row=seen[ref_id])
            continue
        seen[ref_id] = row
        status, problem = check_choice(
            values[col["status"].index - 1],
            statuses,
            unknown_key="status_unknown",
            column_label=col["status"].header,
        )
        if problem is not None:
            err(problem[0], "status", **problem[1])
        percent, problem = check_percent(values[col["percent"].index - 1])
        if problem is not None:
            err(problem[0], "percent", **problem[1])
        if status == ItemStatus.completed:
            if percent is not None and percent != 100:
                err("status_percent_mismatch", "percent", status=texts["statuses"][status], percent=percent)
            percent = 100
        note = cell_text(values[col["note"].index - 1])
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
    values_wb, issues = open_checked(content)
    if values_wb is None:
        return ValidationResult(errors=issues)
    issues = check_metadata(values_wb, context, secret)
    if issues:
        return ValidationResult(errors=issues)
    sheets = workbook_texts()["sheets"]
    for key in ("items", "status"):
        if sheets[key] not in values_wb.sheetnames:
            issues.append(make_issue("sheet_missing", sheet=sheets[key]))
    if issues:
        return ValidationResult(errors=issues)
    statuses = _parse_statuses(values_wb[sheets["status"]], context, issues)
    reported = {s.plan_item_id: s.status for s in statuses}
    items = _parse_items(values_wb[sheets["items"]], context, reported, issues)
    if not items and not any(i.sheet == sheets["items"] for i in issues):
        issues.append(make_issue("no_items", sheet=sheets["items"], row=ITEMS_DATA_START_ROW))
    # Report in reading order: items sheet first, then the status sheet, each top to bottom.
    sort_issues(issues, [sheets["items"], sheets["status"]])
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
