"""The per-unit submission workbook: layout, hidden signed metadata, and generation with openpyxl.

One layout serves both directions: `item_columns` / `status_columns` say where every value sits, so the
generator writes and `tasks.submissions.validation` reads the same cells. Every text comes from
``templates/workbook/workbook.vi.yaml``; changing a sheet name or a header there (or the column order
here) changes what an uploaded file must look like, so ``WORKBOOK_TEMPLATE_VERSION`` is bumped with it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from models.base import ItemStatus
from models.cycle import (
    PlanningCycle,
    get_cycle_by_year,
    list_application_fields,
    list_funding_sources,
)
from models.items import PlanItem
from models.registry import Unit, predecessor_ids
from tasks.consolidation.legal_frame import frame_for, frame_texts
from tasks.excel.cells import write_cell
from tasks.excel.context import UnitWorkbookContext, unit_context_fields, unit_metadata_fields
from tasks.excel.files import finish_workbook
from tasks.excel.layout import ColumnSpec, plain_columns, render_text
from tasks.excel.metadata import sign_fields, signing_secret, write_signed_metadata
from tasks.excel.styles import (
    FONT,
    PREFILL_FILL,
    REF_FILL,
    UNLOCKED,
    add_status_validations,
    amount_number_format,
    fit_row,
    header_row,
    instruction_line,
    instructions_sheet,
    list_validation,
    money_line,
    note_row,
    print_on_a4,
    protect_sheet,
    sheet_ref,
    style_data,
    style_header,
    title_row,
    whole_number_validation,
)
from templates import load_yaml

# Bump when the layout (sheets, columns, rows, metadata) changes: older files are then refused.
WORKBOOK_TEMPLATE_VERSION = "1"
SIGNATURE_CONTEXT = b"plancycle-workbook-metadata\x00"
SIGNED_FIELDS = ("template_version", "cycle_id", "cycle_year", "unit_id", "unit_code", "issued_at")

# Items sheet rows. The header spans two rows so the funding sources sit under one heading, as in
# real annexes; the third header row numbers the columns (1), (2), … like official forms do.
ITEMS_TITLE_ROW = 1
ITEMS_UNIT_ROW = 2
ITEMS_MONEY_ROW = 3
ITEMS_HEADER_ROW = 5
ITEMS_SUBHEADER_ROW = 6
ITEMS_NUMBER_ROW = 7
ITEMS_DATA_START_ROW = 8
STATUS_TITLE_ROW = 1
STATUS_UNIT_ROW = 2
STATUS_HEADER_ROW = 4
STATUS_DATA_START_ROW = 5

BLANK_ROWS = 30  # bordered empty rows offered below the prefilled ones
VALIDATION_ROWS = 1000  # data validations cover this many rows below the header
YEAR_WINDOW = 10  # start ≥ year − 10, end ≤ year + 10

# Statuses a unit may report for last year's items (the six in the issue), in display order.
REPORTABLE_STATUSES: tuple[str, ...] = (
    ItemStatus.not_started,
    ItemStatus.in_progress,
    ItemStatus.partly_done,
    ItemStatus.completed,
    ItemStatus.suspended,
    ItemStatus.cancelled,
)
CLOSED_STATUSES: frozenset[str] = frozenset({ItemStatus.completed, ItemStatus.cancelled})


# ---------------------------------------------------------------- texts


def workbook_texts() -> dict[str, Any]:
    """The workbook's texts (labels, instructions, drop-down values) from the YAML template."""
    return load_yaml("workbook/workbook.vi.yaml")


# ---------------------------------------------------------------- context


class FieldSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    name: str


class PreviousItem(BaseModel):
    """One item of the unit's plan for the previous year, as the workbook and the validation see it."""

    model_config = ConfigDict(frozen=True)
    id: int
    name: str
    field_code: str | None = None
    coordinating_units: str | None = None
    objective: str | None = None
    scope: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    status: str
    percent_complete: int | None = None
    class_code: str | None = None
    subfield_code: str | None = None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class WorkbookContext(UnitWorkbookContext):
    """Everything needed to generate or validate one unit's workbook, read from the database once."""

    template_version: str = WORKBOOK_TEMPLATE_VERSION
    submission_deadline: date | None = None
    previous_year: int
    previous_cycle_id: int | None = None
    fields: list[FieldSpec]
    previous_items: list[PreviousItem] = []
    # The KH&CN / ĐMST / CĐS classes and their sub-fields in force for the plan year (templates/frame/),
    # empty before the 2026 frame: the workbook then has no class columns.
    classes: list[FieldSpec] = []
    subfields: list[FieldSpec] = []

    @property
    def carry_over_candidates(self) -> list[PreviousItem]:
        """Last year's items that are not completed or cancelled: prefilled as carry-over."""
        return [item for item in self.previous_items if not item.closed]


def previous_cycle_of(*, session: Session, cycle: PlanningCycle) -> PlanningCycle | None:
    if cycle.previous_cycle_id is not None:
        return session.get(PlanningCycle, cycle.previous_cycle_id)
    return get_cycle_by_year(session=session, year=cycle.year - 1)


def led_items(*, session: Session, cycle_id: int, unit_id: int) -> list[PlanItem]:
    """The items of a cycle's plan a unit leads, rejected ones excluded, in plan order: last year's items a
    unit's workbook prefills, this year's items its progress reports cover."""
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


def load_workbook_context(*, session: Session, cycle: PlanningCycle, unit: Unit) -> WorkbookContext:
    """Read the cycle's sources and fields and the unit's items of the previous cycle."""
    assert cycle.id is not None and unit.id is not None
    previous = previous_cycle_of(session=session, cycle=cycle)
    previous_items: list[PreviousItem] = []
    if previous is not None:
        # A merged unit's items live on under its successor (models.registry.predecessor_ids).
        rows = sorted(
            (
                row
                for unit_id in predecessor_ids(session=session, unit=unit)
                for row in led_items(session=session, cycle_id=previous.id, unit_id=unit_id)  # type: ignore[arg-type]
            ),
            key=lambda row: (row.position, row.id or 0),
        )
        previous_items = [
            PreviousItem(
                id=row.id,  # type: ignore[arg-type]
                name=row.name,
                field_code=row.field_code,
                coordinating_units=row.coordinating_units,
                objective=row.objective,
                scope=row.scope,
                start_year=row.start_year,
                end_year=row.end_year,
                status=row.status,
                percent_complete=row.percent_complete,
                class_code=row.class_code,
                subfield_code=row.subfield_code,
            )
            for row in rows
        ]
    frame = frame_for(cycle.year)
    return WorkbookContext(
        **unit_context_fields(
            cycle=cycle, unit=unit, sources=list_funding_sources(session=session, cycle_id=cycle.id)
        ),
        submission_deadline=cycle.submission_deadline,
        previous_year=previous.year if previous is not None else cycle.year - 1,
        previous_cycle_id=previous.id if previous is not None else None,
        fields=[
            FieldSpec(code=f.code, name=f.name)
            for f in list_application_fields(session=session, cycle_id=cycle.id)
        ],
        previous_items=previous_items,
        classes=[FieldSpec(code=c.code, name=c.name) for c in frame.classes] if frame else [],
        subfields=[FieldSpec(code=k, name=v) for k, v in frame.subfield_names().items()] if frame else [],
    )


# ---------------------------------------------------------------- layout


def _texts_values(context: WorkbookContext) -> dict[str, Any]:
    texts = workbook_texts()
    return {
        "year": context.cycle_year,
        "previous_year": context.previous_year,
        "cycle_title": context.cycle_title,
        "unit_name": context.unit_name,
        "unit_code": context.unit_code,
        "deadline": context.submission_deadline,
        "money_unit_label": texts["money_units"][context.money_unit],
        "template_version": context.template_version,
        "items_sheet": texts["sheets"]["items"],
        "status_sheet": texts["sheets"]["status"],
        "data_start_row": ITEMS_DATA_START_ROW,
        "sources": "; ".join(f"{s.name} ({s.code})" for s in context.funding_sources),
    }


def item_columns(context: WorkbookContext) -> list[ColumnSpec]:
    """The items sheet's columns in order; one amount column per funding source of the cycle."""
    texts = workbook_texts()["items"]
    values = _texts_values(context)
    mark = texts["required_mark"]

    frame_words = frame_texts()["workbook"]

    def header(key: str, required: bool = False) -> str:
        if key in ("frame_class", "frame_subfield"):
            return frame_words["class_column" if key == "frame_class" else "subfield_column"]
        return render_text(texts["columns"][key], **values) + (mark if required else "")

    plan: list[tuple[str, float, bool]] = [
        ("stt", 6, False),
        ("name", 40, True),
        ("lead_unit", 20, False),
        ("coordinating_units", 22, False),
        ("field", 28, True),
        ("origin", 15, True),
        ("objective", 42, False),
        ("scope", 24, False),
        ("start_year", 9, True),
        ("end_year", 9, True),
    ]
    columns = [
        ColumnSpec(key, i + 1, header(key, req), width, req) for i, (key, width, req) in enumerate(plan)
    ]
    for source in context.funding_sources:
        columns.append(
            ColumnSpec(
                "amount",
                len(columns) + 1,
                render_text(texts["funding_source"], name=source.name, code=source.code),
                15,
                source_code=source.code,
            )
        )
    # The KH&CN / ĐMST / CĐS class comes last, so the columns every year has keep their place.
    frame_columns = (("frame_class", 22), ("frame_subfield", 24)) if context.classes else ()
    for key, width in (("total", 15), ("basis", 30), ("previous_ref", 13), *frame_columns):
        columns.append(ColumnSpec(key, len(columns) + 1, header(key), width))
    return columns


def status_columns(context: WorkbookContext) -> list[ColumnSpec]:
    plan: list[tuple[str, float]] = [
        ("stt", 6),
        ("ref", 12),
        ("name", 50),
        ("period", 14),
        ("status", 22),
        ("percent", 13),
        ("note", 45),
    ]
    return plain_columns(
        workbook_texts()["status"]["columns"], plan, required="status", **_texts_values(context)
    )


# ---------------------------------------------------------------- metadata


def sign_metadata(fields: dict[str, str], secret: bytes) -> str:
    """The signature of a submission workbook's metadata."""
    return sign_fields(fields, secret, signed=SIGNED_FIELDS, context=SIGNATURE_CONTEXT)


def metadata_fields(context: WorkbookContext, *, issued_at: datetime) -> dict[str, str]:
    return {
        "template_version": context.template_version,
        **unit_metadata_fields(context, issued_at=issued_at),
    }


# ---------------------------------------------------------------- generation


def _list_values(context: WorkbookContext) -> dict[str, list[str]]:
    texts = workbook_texts()
    return {
        "fields": [f.name for f in context.fields],
        "origins": [texts["origins"][k] for k in ("new", "carry_over")],
        "statuses": [texts["statuses"][k] for k in REPORTABLE_STATUSES],
    } | (
        {"classes": [c.name for c in context.classes], "subfields": [f.name for f in context.subfields]}
        if context.classes
        else {}
    )


def _list_refs(context: WorkbookContext) -> dict[str, str]:
    """Drop-downs point at ranges of the hidden list sheet (inline lists are capped at 255 characters)."""
    quoted = sheet_ref(workbook_texts()["sheets"]["lists"])
    refs = {}
    for index, (key, values) in enumerate(_list_values(context).items(), start=1):
        letter = get_column_letter(index)
        refs[key] = f"{quoted}!${letter}$2:${letter}${max(2, len(values) + 1)}"
    return refs


def _write_lists(wb: Workbook, context: WorkbookContext) -> None:
    texts = workbook_texts()
    ws = wb.create_sheet(texts["sheets"]["lists"])
    ws.sheet_state = "hidden"
    for index, (key, values) in enumerate(_list_values(context).items(), start=1):
        frame_lists = {"classes": "class_list", "subfields": "subfield_list"}
        label = texts["lists"][key] if key in texts["lists"] else frame_texts()["workbook"][frame_lists[key]]
        write_cell(ws, 1, index, label).font = Font(name=FONT, bold=True)
        for row, value in enumerate(values, start=2):
            write_cell(ws, row, index, value)
        ws.column_dimensions[get_column_letter(index)].width = 60 if key == "fields" else 24
    protect_sheet(ws)


def _write_instructions(wb: Workbook, context: WorkbookContext) -> None:
    texts = workbook_texts()
    spec = texts["instructions"]
    values = _texts_values(context)
    ws = instructions_sheet(wb, texts["sheets"]["instructions"])
    row = 1

    def line(
        text: str, *, bold: bool = False, size: int = 12, italic: bool = False, center: bool = False
    ) -> None:
        nonlocal row
        instruction_line(
            ws,
            row,
            render_text(text, **values),
            size=size,
            bold=bold,
            italic=italic,
            horizontal="center" if center else "left",
        )
        row += 1

    line(spec["title"], bold=True, size=14, center=True)
    line(spec["subtitle"], italic=True, center=True)
    row += 1
    for fact in spec["facts"]:
        line(fact, bold=True)
    row += 1
    line(spec["steps_heading"], bold=True)
    for step in spec["steps"]:
        line(step)
    row += 1
    line(spec["fields_heading"], bold=True)
    for field in context.fields:
        line(f"• {field.name}")
    row += 1
    line(spec["sources_heading"], bold=True)
    for source in context.funding_sources:
        line(f"• {source.name} ({source.code})")
    row += 1
    line(spec["warning"], italic=True, bold=True)
    print_on_a4(ws, "portrait")
    ws.protection.sheet = True


def _write_items(wb: Workbook, context: WorkbookContext, refs: dict[str, str]) -> None:
    texts = workbook_texts()
    spec = texts["items"]
    values = _texts_values(context)
    columns = item_columns(context)
    by_key = {c.key: c for c in columns if c.key != "amount"}
    amounts = [c for c in columns if c.key == "amount"]
    ws = wb.create_sheet(texts["sheets"]["items"])

    for row, key, size in ((ITEMS_TITLE_ROW, "title", 14), (ITEMS_UNIT_ROW, "unit_line", 12)):
        title_row(ws, row, len(columns), render_text(spec[key], **values), size)
    ws.row_dimensions[ITEMS_TITLE_ROW].height = 30
    money_line(ws, ITEMS_MONEY_ROW, columns[-1].index, render_text(spec["money_line"], **values))

    # Two header rows: single columns span both, funding sources sit under one group heading.
    for column in columns:
        if column.key == "amount":
            style_header(write_cell(ws, ITEMS_SUBHEADER_ROW, column.index, column.header))
            style_header(ws.cell(row=ITEMS_HEADER_ROW, column=column.index))
        else:
            style_header(write_cell(ws, ITEMS_HEADER_ROW, column.index, column.header))
            style_header(ws.cell(row=ITEMS_SUBHEADER_ROW, column=column.index))
            ws.merge_cells(
                start_row=ITEMS_HEADER_ROW,
                start_column=column.index,
                end_row=ITEMS_SUBHEADER_ROW,
                end_column=column.index,
            )
        number = write_cell(ws, ITEMS_NUMBER_ROW, column.index, f"({column.index})")
        style_header(number)
        number.font = Font(name=FONT, size=10, italic=True)
        ws.column_dimensions[column.letter].width = column.width
    if amounts:
        write_cell(ws, ITEMS_HEADER_ROW, amounts[0].index, render_text(spec["funding_group"], **values))
        ws.merge_cells(
            start_row=ITEMS_HEADER_ROW,
            start_column=amounts[0].index,
            end_row=ITEMS_HEADER_ROW,
            end_column=amounts[-1].index,
        )
    ws.row_dimensions[ITEMS_HEADER_ROW].height = 30
    ws.row_dimensions[ITEMS_SUBHEADER_ROW].height = 45

    amount_format = amount_number_format(context.money_unit)
    field_names = {f.code: f.name for f in context.fields}
    prefilled = context.carry_over_candidates
    carry_label = texts["origins"]["carry_over"]
    for offset in range(len(prefilled) + BLANK_ROWS):
        row = ITEMS_DATA_START_ROW + offset
        item = prefilled[offset] if offset < len(prefilled) else None
        for column in columns:
            cell = ws.cell(row=row, column=column.index)
            numeric = column.key in ("amount", "total")
            style_data(
                cell,
                number_format=amount_format if numeric else ("0" if "year" in column.key else None),
                center=column.key in ("stt", "start_year", "end_year", "origin", "previous_ref"),
            )
            if column.key == "previous_ref":
                cell.fill = REF_FILL
        if item is None:
            continue
        prefill = {
            "stt": offset + 1,
            "name": item.name,
            "lead_unit": context.unit_name,
            "coordinating_units": item.coordinating_units,
            "field": field_names.get(item.field_code or ""),
            **(
                {
                    "frame_class": {c.code: c.name for c in context.classes}.get(item.class_code or ""),
                    "frame_subfield": {f.code: f.name for f in context.subfields}.get(
                        item.subfield_code or ""
                    ),
                }
                if context.classes
                else {}
            ),
            "origin": carry_label,
            "objective": item.objective,
            "scope": item.scope,
            "start_year": item.start_year,
            "end_year": max(item.end_year or context.cycle_year, context.cycle_year),
            "previous_ref": item.id,
        }
        for key, value in prefill.items():
            cell = write_cell(ws, row, by_key[key].index, value)
            if key != "previous_ref":
                cell.fill = PREFILL_FILL
        fit_row(ws, row, [(prefill[k], by_key[k].width) for k in ("name", "field", "objective", "scope")])
    if prefilled:
        ws.cell(row=ITEMS_HEADER_ROW, column=by_key["previous_ref"].index).comment = Comment(
            spec["ref_comment"], "plancycle"
        )

    prompts = texts["validation_prompts"]
    low, high = context.cycle_year - YEAR_WINDOW, context.cycle_year + YEAR_WINDOW
    last_row = ITEMS_DATA_START_ROW + VALIDATION_ROWS
    field_dv = list_validation(
        refs["fields"], prompts["field_title"], prompts["field"], prompts["error_title"]
    )
    origin_dv = list_validation(
        refs["origins"], prompts["origin_title"], prompts["origin"], prompts["error_title"]
    )
    year_prompt = render_text(prompts["year"], min_year=low, max_year=high)
    year_dv = whole_number_validation(low, high, prompts["year_title"], year_prompt, prompts["error_title"])
    validations = [(field_dv, ["field"]), (origin_dv, ["origin"]), (year_dv, ["start_year", "end_year"])]
    if context.classes:
        words = frame_texts()["workbook"]
        for key, title, prompt in (
            ("classes", "class_title", "class_prompt"),
            ("subfields", "subfield_title", "subfield_prompt"),
        ):
            dv = list_validation(refs[key], words[title], words[prompt], prompts["error_title"])
            validations.append((dv, ["frame_class" if key == "classes" else "frame_subfield"]))
    for dv, keys in validations:
        for key in keys:
            letter = by_key[key].letter
            dv.add(f"{letter}{ITEMS_DATA_START_ROW}:{letter}{last_row}")
        ws.add_data_validation(dv)

    # Unlocked column styles let units type below the bordered rows in the protected sheet.
    for column in columns:
        ws.column_dimensions[column.letter].protection = UNLOCKED
    ws.freeze_panes = ws.cell(row=ITEMS_DATA_START_ROW, column=by_key["name"].index + 1)
    ws.print_title_rows = f"{ITEMS_HEADER_ROW}:{ITEMS_NUMBER_ROW}"
    print_on_a4(ws, "landscape")
    protect_sheet(ws)


def _write_status(wb: Workbook, context: WorkbookContext, refs: dict[str, str]) -> None:
    texts = workbook_texts()
    spec = texts["status"]
    values = _texts_values(context)
    columns = status_columns(context)
    by_key = {c.key: c for c in columns}
    ws = wb.create_sheet(texts["sheets"]["status"])
    for row, key, size in ((STATUS_TITLE_ROW, "title", 14), (STATUS_UNIT_ROW, "unit_line", 12)):
        title_row(ws, row, len(columns), render_text(spec[key], **values), size)
    ws.row_dimensions[STATUS_TITLE_ROW].height = 30
    header_row(ws, STATUS_HEADER_ROW, columns, 32)
    if not context.previous_items:
        note_row(ws, STATUS_DATA_START_ROW, render_text(spec["none_line"], **values))
    status_labels = workbook_texts()["statuses"]
    for offset, item in enumerate(context.previous_items):
        row = STATUS_DATA_START_ROW + offset
        period = (
            f"{item.start_year}-{item.end_year}"
            if item.start_year and item.end_year and item.start_year != item.end_year
            else str(item.start_year or item.end_year or "")
        )
        prefill: dict[str, Any] = {
            "stt": offset + 1,
            "ref": item.id,
            "name": item.name,
            "period": period,
            "status": status_labels.get(item.status) if item.status in REPORTABLE_STATUSES else None,
            "percent": item.percent_complete,
            "note": None,
        }
        for column in columns:
            cell = write_cell(ws, row, column.index, prefill[column.key])
            style_data(
                cell,
                number_format="0" if column.key == "percent" else None,
                center=column.key in ("stt", "ref", "period", "percent"),
            )
            if column.key in ("ref", "name", "period"):
                cell.fill = REF_FILL
        fit_row(ws, row, [(item.name, by_key["name"].width)])
    if context.previous_items:
        add_status_validations(
            ws,
            refs["statuses"],
            texts["validation_prompts"],
            status_letter=by_key["status"].letter,
            percent_letter=by_key["percent"].letter,
            first_row=STATUS_DATA_START_ROW,
            last_row=STATUS_DATA_START_ROW + max(len(context.previous_items), 1) - 1,
        )
    ws.freeze_panes = ws.cell(row=STATUS_DATA_START_ROW, column=1)
    print_on_a4(ws, "landscape")
    protect_sheet(ws)


def _write_metadata(wb: Workbook, context: WorkbookContext, *, issued_at: datetime, secret: bytes) -> None:
    write_signed_metadata(wb, metadata_fields(context, issued_at=issued_at), sign_metadata, secret)


def build_workbook(
    context: WorkbookContext, *, issued_at: datetime | None = None, secret: bytes | None = None
) -> bytes:
    """The unit's workbook as .xlsx bytes: instructions, items (carry-over prefilled), last year's
    status, a hidden list sheet for the drop-downs and the very-hidden signed metadata sheet."""
    wb = Workbook()
    refs = _list_refs(context)
    _write_instructions(wb, context)
    _write_items(wb, context, refs)
    _write_status(wb, context, refs)
    _write_lists(wb, context)
    _write_metadata(
        wb,
        context,
        issued_at=issued_at or datetime.now(UTC),
        secret=secret if secret is not None else signing_secret(),
    )
    return finish_workbook(wb, workbook_texts()["sheets"]["items"])


def workbook_filename(context: WorkbookContext) -> str:
    return render_text(workbook_texts()["file_name"], year=context.cycle_year, unit_code=context.unit_code)


def generate_unit_workbook(
    *, session: Session, cycle: PlanningCycle, unit: Unit, issued_at: datetime | None = None
) -> tuple[str, bytes]:
    """File name and bytes of the workbook to send to one unit for one cycle."""
    context = load_workbook_context(session=session, cycle=cycle, unit=unit)
    return workbook_filename(context), build_workbook(context, issued_at=issued_at)
