"""The consolidated plan as an Excel workbook, in the form of the published appendices.

Four sheets, in this order (names and every text from ``templates/workbook/plan_annexes.yaml``):

1. "Tổng hợp": totals by funding source, new vs carry-over, field, lead unit; comparison with last year;
   envelopes; counts of findings; three native charts.
2. "Phụ lục 01": last year's items and the status units reported.
3. "Phụ lục 02": the list of tasks and projects, in the layout that
   ``tasks/consolidation/totals_check.py`` reads back
   (rows are 1-based, as in Excel):

   - rows 1-3: "PHỤ LỤC 02", the title, the reference line (the issued plan, or the draft's date);
   - row 4: "Đơn vị tính: …"; row 5: the rounding rule;
   - rows 6-7 (``ANNEX02_HEADER_ROW``): the two-row header. Columns A-H "STT", "Tên nhiệm vụ, dự án",
     "Đơn vị chủ trì", "Lĩnh vực ứng dụng", "Dự án mới / chuyển tiếp", "Mục tiêu, nội dung thực hiện",
     "Phạm vi thực hiện", "Thời gian triển khai" (each merged over both rows); then one amount column
     per funding source under a cell "Kinh phí năm {year} ({unit})" merged across all amount columns,
     row 7 naming each "{name} ({code})" and the last amount column "Tổng cộng"; then "Ghi chú"
     (merged over both rows);
   - from row 8: per group a bold heading row (STT = Roman numeral, amounts = the group's sums), then its
     items (STT = "I.1", amounts per source, an empty cell for no amount, the text "chưa ghi số" for a
     source named without an amount, then the row total); last a bold row "TỔNG CỘNG" (STT empty);
   - one empty row, then the summary paragraph "Tổng kinh phí năm …: …; trong đó: + …: …".

   Amount cells hold exact integer đồng; only the number format scales the display (``AMOUNT_FORMATS``).
4. "Kiểm tra": one row per finding, errors first.

Written with xlsxwriter in ``constant_memory`` mode (rows are streamed to disk in order), so 100,000 items
take seconds and little memory; the file is written beside ``path`` and renamed into place.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
import yaml
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.consolidation.plan import ConsolidatedPlan
from tasks.submissions.workbook import render_text
from templates import TEMPLATES_DIR

# Display formats of amount cells holding đồng: each "," after the digits divides by 1,000 for display.
AMOUNT_FORMATS: dict[str, str] = {"dong": "#,##0", "trieu": "#,##0,,", "ty": "#,##0.000,,,"}
ANNEX02_HEADER_ROW = 6  # 1-based: the first of the two header rows of "Phụ lục 02"
ANNEX02_FIXED_COLUMNS = 8  # STT … Thời gian triển khai, before the amount columns
SUMMARY_TOP_UNITS = 15  # units shown one by one in the summary table and chart; the rest in one row

_FONT = "Times New Roman"
_HEADER_FILL = "#DDEBF7"
_GROUP_FILL = "#F2F2F2"
_TOTAL_FILL = "#FFF2CC"
_RED_FILL = "#FFC7CE"
_RED = "#9C0006"
_ORANGE = "#9C5700"


@lru_cache
def plan_annex_texts() -> dict[str, Any]:
    """The workbook's texts (sheet names, titles, headers) from the YAML template, read once."""
    with (TEMPLATES_DIR / "workbook" / "plan_annexes.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def amount_format(money_unit: str) -> str:
    """The Excel number format showing đồng in ``money_unit`` (the cell keeps the exact đồng)."""
    return AMOUNT_FORMATS[money_unit]


def _signed_format(money_unit: str) -> str:
    """The amount format with negatives in red and a real minus sign (changes, gaps)."""
    positive = AMOUNT_FORMATS[money_unit]
    return f"{positive};[Red]\\−{positive}"


def _values(plan: ConsolidatedPlan, province_name: str) -> dict[str, Any]:
    """What every heading template may use."""
    title = " ".join(plan.title.split())
    return {
        "year": plan.year,
        "title": title,
        "title_upper": title.upper(),
        "title_has_year": title.rstrip(". ").endswith(str(plan.year)),
        "previous_year": plan.previous_year,
        "money_unit_label": MONEY_UNIT_LABELS[plan.money_unit],
        "decision_number": plan.decision_number,
        "decision_date": plan.decision_date,
        "as_of": plan.as_of,
        "province_name": province_name,
    }


def reference_line(plan: ConsolidatedPlan, *, province_name: str) -> str:
    """ "(Kèm theo Kế hoạch số … ngày … của UBND tỉnh …)" once decided, else "(Dự thảo tổng hợp ngày …)"."""
    texts = plan_annex_texts()["reference"]
    key = "decision" if plan.decision_number else "draft"
    return render_text(texts[key], **_values(plan, province_name))


def annex02_heading_lines(plan: ConsolidatedPlan, *, province_name: str) -> list[str]:
    """Rows 1-5 of "Phụ lục 02": label, title, reference line, money unit line, rounding rule."""
    texts = plan_annex_texts()["annex02"]
    values = _values(plan, province_name)
    return [
        texts["label"],
        render_text(texts["title"], **values),
        reference_line(plan, province_name=province_name),
        render_text(texts["money_line"], **values),
        plan.rounding_rule_vi,
    ]


def annex02_summary_paragraph(plan: ConsolidatedPlan) -> str:
    """ "Tổng kinh phí năm 2027: 261.221 triệu đồng; trong đó: + Ngân sách địa phương: 249.921 triệu
    đồng; + …" (amounts in the plan's unit, display rounding of format_money)."""
    texts = plan_annex_texts()["annex02"]
    unit = MONEY_UNIT_LABELS[plan.money_unit]
    total = render_text(
        texts["summary_total"],
        year=plan.year,
        amount=format_money(plan.grand_totals.get("total", 0), plan.money_unit),
        unit=unit,
    )
    parts = [
        render_text(
            texts["summary_part"],
            name=source.name,
            code=source.code,
            amount=format_money(plan.grand_totals.get(source.code, 0), plan.money_unit),
            unit=unit,
        )
        for source in plan.sources
    ]
    if not parts:
        return f"{total}."
    return f"{total}{texts['summary_joiner']}{'; '.join(parts)}."


def plan_workbook_filename(plan: ConsolidatedPlan) -> str:
    """The file name offered for the consolidated workbook ("KH2027_tong-hop_phu-luc.xlsx")."""
    return render_text(plan_annex_texts()["file_name"], year=plan.year)


# ---------------------------------------------------------------- formats and small writers


class _Formats:
    """Every cell format of the workbook, created once (xlsxwriter formats are workbook-wide)."""

    def __init__(self, wb: Workbook, money_unit: str) -> None:
        amount = amount_format(money_unit)
        signed = _signed_format(money_unit)
        cell = {"border": 1, "valign": "top", "text_wrap": True}
        header = {"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True, "border": 1}

        def add(**properties: Any) -> Format:
            return wb.add_format(properties)

        self.label = add(bold=True, font_size=13, align="center", valign="vcenter")
        self.title = add(bold=True, font_size=13, align="center", valign="vcenter", text_wrap=True)
        self.reference = add(italic=True, font_size=12, align="center", valign="vcenter", text_wrap=True)
        self.unit_line = add(italic=True, align="right", valign="vcenter")
        self.note = add(italic=True, align="left", valign="top", text_wrap=True)
        self.plain = add(valign="top", text_wrap=True)
        self.section = add(bold=True, font_size=12, valign="vcenter")
        self.header = add(**header, bg_color=_HEADER_FILL)
        self.text = add(**cell)
        self.center = add(**cell, align="center")
        self.amount = add(**cell, align="right", num_format=amount)
        self.signed = add(**cell, align="right", num_format=signed)
        self.over = add(
            **cell, align="right", num_format=signed, bg_color=_RED_FILL, font_color=_RED, bold=True
        )
        self.unstated = add(**cell, align="right", italic=True)
        self.count = add(**cell, align="right", num_format="#,##0")
        self.share = add(**cell, align="right", num_format="0.0%")
        self.group_text = add(**cell, bold=True, bg_color=_GROUP_FILL)
        self.group_center = add(**cell, bold=True, bg_color=_GROUP_FILL, align="center")
        self.group_amount = add(**cell, bold=True, bg_color=_GROUP_FILL, align="right", num_format=amount)
        self.total_text = add(**cell, bold=True, bg_color=_TOTAL_FILL)
        self.total_center = add(**cell, bold=True, bg_color=_TOTAL_FILL, align="center")
        self.total_amount = add(**cell, bold=True, bg_color=_TOTAL_FILL, align="right", num_format=amount)
        self.total_count = add(**cell, bold=True, bg_color=_TOTAL_FILL, align="right", num_format="#,##0")
        self.total_share = add(**cell, bold=True, bg_color=_TOTAL_FILL, align="right", num_format="0.0%")
        self.total_signed = add(**cell, bold=True, bg_color=_TOTAL_FILL, align="right", num_format=signed)
        self.error = add(**cell, bold=True, font_color=_RED, bg_color=_RED_FILL, align="center")
        self.warning = add(**cell, bold=True, font_color=_ORANGE, bg_color="#FFEB9C", align="center")


def _text_column(frame: pd.DataFrame, name: str) -> list[str]:
    """A column as display strings, "" for missing values (fast: one vectorised pass)."""
    if name not in frame.columns:
        return [""] * len(frame)
    column = frame[name].astype(object)
    return column.where(column.notna(), "").astype(str).tolist()


def _as_text(value: Any) -> str:
    """One value as display text, "" when missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _write_text(ws: Worksheet, row: int, col: int, text: str, fmt: Format) -> None:
    if text:
        ws.write_string(row, col, text, fmt)
    else:
        ws.write_blank(row, col, None, fmt)


def _write_amount(ws: Worksheet, row: int, col: int, value: Any, fmt: Format) -> None:
    """An exact đồng amount as a Python int (never a float division); empty for <NA>."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_number(row, col, int(value), fmt)


def _line(
    ws: Worksheet, row: int, last_col: int, text: str, fmt: Format, *, height: float | None = None
) -> None:
    """One line of text across the table (merged in its own row: safe in constant_memory mode)."""
    if height is not None:
        ws.set_row(row, height)
    if last_col == 0:
        ws.write_string(row, 0, text, fmt)
    else:
        ws.merge_range(row, 0, row, last_col, text, fmt)


def _merge_down(ws: Worksheet, row: int, col: int) -> None:
    """Merge a written cell with the written cell below it. ``merge_range`` cannot in constant_memory
    mode: writing the lower cell flushes the upper row, after which the upper row is refused. So the range
    goes straight into the sheet's merge list, the list ``merge_range`` fills and the writer emits as
    ``<mergeCells>`` (both cells are already written with the same format)."""
    ws.merge.append([row, col, row + 1, col])


def _wrapped_height(text: str, width_chars: float, *, line_height: float = 15.0) -> float:
    """Row height for text wrapped in a merged cell: spreadsheet programs never auto-fit merged cells."""
    per_line = max(width_chars * 1.15 - 2, 10)
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    return round(lines * line_height + 4, 1)


def _print_setup(ws: Worksheet, texts: dict[str, Any], *, repeat: tuple[int, int] | None = None) -> None:
    """Landscape A3, one page wide, page numbers; the header rows repeated on every page."""
    ws.set_landscape()
    ws.set_paper(8)  # A3
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer(texts["footer"])
    if repeat is not None:
        ws.repeat_rows(*repeat)


# ---------------------------------------------------------------- Phụ lục 02


def _write_annex02(ws: Worksheet, plan: ConsolidatedPlan, fmt: _Formats, province_name: str) -> None:
    texts = plan_annex_texts()["annex02"]
    columns = texts["columns"]
    values = _values(plan, province_name)
    sources = plan.sources
    amount_first = ANNEX02_FIXED_COLUMNS
    total_col = amount_first + len(sources)
    notes_col = total_col + 1
    fixed = [
        (columns["stt"], 7),
        (columns["name"], 38),
        (columns["lead_unit"], 22),
        (columns["field"], 20),
        (columns["origin"], 13),
        (columns["objective"], 42),
        (columns["scope"], 20),
        (columns["period"], 11),
    ]
    for col, (_label, width) in enumerate(fixed):
        ws.set_column(col, col, width)
    if sources:
        ws.set_column(amount_first, total_col - 1, 16)
    ws.set_column(total_col, total_col, 17)
    ws.set_column(notes_col, notes_col, 30)
    table_width = sum(w for _l, w in fixed) + 16 * len(sources) + 17 + 30

    lines = annex02_heading_lines(plan, province_name=province_name)
    _line(ws, 0, notes_col, lines[0], fmt.label)
    _line(
        ws,
        1,
        notes_col,
        lines[1],
        fmt.title,
        height=_wrapped_height(lines[1], table_width / 1.2, line_height=18),
    )
    _line(ws, 2, notes_col, lines[2], fmt.reference, height=18)
    _line(ws, 3, notes_col, lines[3], fmt.unit_line)
    _line(ws, 4, notes_col, lines[4], fmt.note, height=_wrapped_height(lines[4], table_width))

    # The two-row header, written row by row (constant_memory mode streams rows in order).
    top = ANNEX02_HEADER_ROW - 1
    ws.set_row(top, 30)
    ws.set_row(top + 1, 45)
    for col, (label, _width) in enumerate(fixed):
        ws.write_string(top, col, label, fmt.header)
    funding = render_text(texts["funding_group"], **values)
    if total_col > amount_first:
        ws.merge_range(top, amount_first, top, total_col, funding, fmt.header)
    else:
        ws.write_string(top, amount_first, funding, fmt.header)
    ws.write_string(top, notes_col, columns["notes"], fmt.header)
    for col in range(amount_first):
        ws.write_blank(top + 1, col, None, fmt.header)
    for col, source in enumerate(sources, start=amount_first):
        ws.write_string(
            top + 1, col, render_text(texts["funding_source"], name=source.name, code=source.code), fmt.header
        )
    ws.write_string(top + 1, total_col, texts["total_column"], fmt.header)
    ws.write_blank(top + 1, notes_col, None, fmt.header)
    for col in [*range(amount_first), notes_col]:
        _merge_down(ws, top, col)
    first_data = top + 2
    ws.freeze_panes(first_data, 0)
    _print_setup(ws, plan_annex_texts(), repeat=(top, top + 1))

    items = plan.items
    groups = {
        int(g["group_no"]): g
        for g in plan.groups[
            ["group_no", "group_roman", "group_label", *plan.amount_columns, "total"]
        ].to_dict("records")
    }
    text_names = [
        "ref",
        "name",
        "lead_unit_name",
        "field_name",
        "origin_label",
        "objective",
        "scope",
        "period",
    ]
    text_columns = [_text_column(items, name) for name in text_names]
    notes = _text_column(items, "basis")
    amounts = [items[s.column].tolist() for s in sources]
    codes = [s.code for s in sources]
    totals = items["total"].tolist()
    unstated = _text_column(items, "unstated_sources")
    group_nos = items["group_no"].tolist()
    unstated_text = texts["unstated"]

    # The hot loop (100,000 rows): bound methods and plain lists, one call per cell.
    write_string, write_blank, write_number = ws.write_string, ws.write_blank, ws.write_number
    cell_formats = [fmt.center, *[fmt.text] * 6, fmt.center]
    row = first_data
    current = None
    for index in range(len(items)):
        group_no = int(group_nos[index])
        if group_no != current:
            current = group_no
            group = groups[group_no]
            write_string(row, 0, str(group["group_roman"]), fmt.group_center)
            _write_text(ws, row, 1, _as_text(group["group_label"]), fmt.group_text)
            for col in range(2, amount_first):
                write_blank(row, col, None, fmt.group_text)
            for col, source in enumerate(sources, start=amount_first):
                write_number(row, col, int(group[source.column]), fmt.group_amount)
            write_number(row, total_col, int(group["total"]), fmt.group_amount)
            write_blank(row, notes_col, None, fmt.group_text)
            row += 1
        for col in range(amount_first):
            text = text_columns[col][index]
            if text:
                write_string(row, col, text, cell_formats[col])
            else:
                write_blank(row, col, None, cell_formats[col])
        named_without_amount = unstated[index].split(", ") if unstated[index] else ()
        for offset in range(len(codes)):
            value = amounts[offset][index]
            if value is pd.NA or value is None:
                if codes[offset] in named_without_amount:
                    write_string(row, amount_first + offset, unstated_text, fmt.unstated)
                else:
                    write_blank(row, amount_first + offset, None, fmt.amount)
            else:
                write_number(row, amount_first + offset, int(value), fmt.amount)
        write_number(row, total_col, int(totals[index]), fmt.amount)
        _write_text(ws, row, notes_col, notes[index], fmt.text)
        row += 1

    ws.write_blank(row, 0, None, fmt.total_center)
    ws.write_string(row, 1, texts["grand_total"], fmt.total_text)
    for col in range(2, amount_first):
        ws.write_blank(row, col, None, fmt.total_text)
    for col, source in enumerate(sources, start=amount_first):
        ws.write_number(row, col, int(plan.grand_totals.get(source.code, 0)), fmt.total_amount)
    ws.write_number(row, total_col, int(plan.grand_totals.get("total", 0)), fmt.total_amount)
    ws.write_blank(row, notes_col, None, fmt.total_text)

    paragraph = annex02_summary_paragraph(plan)
    _line(ws, row + 2, notes_col, paragraph, fmt.plain, height=_wrapped_height(paragraph, table_width))


# ---------------------------------------------------------------- Phụ lục 01


def _write_annex01(ws: Worksheet, plan: ConsolidatedPlan, fmt: _Formats, province_name: str) -> None:
    all_texts = plan_annex_texts()
    texts = all_texts["annex01"]
    columns = texts["columns"]
    values = _values(plan, province_name)
    widths = [
        ("stt", 7),
        ("name", 38),
        ("lead_unit", 22),
        ("field", 22),
        ("objective", 42),
        ("scope", 22),
        ("period", 11),
        ("sources", 22),
        ("status", 24),
        ("note", 32),
    ]
    last_col = len(widths) - 1
    for col, (_key, width) in enumerate(widths):
        ws.set_column(col, col, width)
    _print_setup(ws, all_texts)
    if plan.previous_year is None:
        ws.write_string(0, 0, render_text(texts["none"], **values), fmt.plain)
        return
    table_width = sum(w for _k, w in widths)
    _line(ws, 0, last_col, texts["label"], fmt.label)
    title = render_text(texts["title"], **values)
    _line(ws, 1, last_col, title, fmt.title, height=_wrapped_height(title, table_width / 1.2, line_height=18))
    _line(ws, 2, last_col, reference_line(plan, province_name=province_name), fmt.reference, height=18)
    annex = plan.annex01
    if annex is None or annex.empty:
        ws.write_string(4, 0, render_text(texts["empty"], **values), fmt.plain)
        return
    ws.set_row(4, 32)
    for col, (key, _width) in enumerate(widths):
        ws.write_string(4, col, render_text(columns[key], **values), fmt.header)
    ws.freeze_panes(5, 0)
    ws.repeat_rows(4)

    texts_by_column = [
        _text_column(annex, name)
        for name in ("ref", "name", "lead_unit_name", "field_name", "objective", "scope", "period", "sources")
    ]
    labels = _text_column(annex, "status_label")
    percents = (
        annex["percent_complete"].tolist() if "percent_complete" in annex.columns else [None] * len(annex)
    )
    notes = _text_column(annex, "note")
    carried = annex["carried_over"].tolist() if "carried_over" in annex.columns else [False] * len(annex)
    carried_text = render_text(texts["carried_over"], **values)
    statuses: dict[tuple[str, str], str] = {}  # (label, percent) → text: a few dozen, rendered once each
    for index in range(len(annex)):
        row = 5 + index
        _write_text(ws, row, 0, texts_by_column[0][index], fmt.center)
        for col in range(1, 6):
            _write_text(ws, row, col, texts_by_column[col][index], fmt.text)
        _write_text(ws, row, 6, texts_by_column[6][index], fmt.center)
        _write_text(ws, row, 7, texts_by_column[7][index], fmt.text)
        status = labels[index]
        percent = percents[index]
        if (
            percent is not None
            and percent is not pd.NA
            and not (isinstance(percent, float) and math.isnan(percent))
        ):
            key = (status, _percent_text(percent))
            if key not in statuses:
                statuses[key] = render_text(texts["status_with_percent"], status=key[0], percent=key[1])
            status = statuses[key]
        _write_text(ws, row, 8, status, fmt.text)
        note_parts = [notes[index]] if notes[index] else []
        if bool(carried[index]):
            note_parts.append(carried_text)
        _write_text(ws, row, 9, "; ".join(note_parts), fmt.text)


def _percent_text(value: Any) -> str:
    """40 → "40", 37.5 → "37,5" (Vietnamese decimal comma)."""
    number = float(value)
    if number.is_integer():
        return str(int(number))
    return f"{number:.1f}".replace(".", ",")


# ---------------------------------------------------------------- Kiểm tra


def _write_findings(ws: Worksheet, plan: ConsolidatedPlan, fmt: _Formats) -> None:
    all_texts = plan_annex_texts()
    texts = all_texts["findings"]
    columns = texts["columns"]
    widths = [("stt", 6), ("severity", 12), ("kind", 30), ("message", 80), ("refs", 22), ("units", 34)]
    for col, (_key, width) in enumerate(widths):
        ws.set_column(col, col, width)
    last_col = len(widths) - 1
    _print_setup(ws, all_texts)
    _line(ws, 0, last_col, render_text(texts["title"], year=plan.year), fmt.title, height=20)
    subtitle = render_text(
        texts["subtitle"], as_of=plan.as_of, errors=len(plan.errors), warnings=len(plan.warnings)
    )
    _line(ws, 1, last_col, subtitle, fmt.reference)
    if not plan.findings:
        ws.write_string(3, 0, texts["none"], fmt.plain)
        return
    ws.set_row(3, 20)
    for col, (key, _width) in enumerate(widths):
        ws.write_string(3, col, columns[key], fmt.header)
    ws.freeze_panes(4, 0)
    ws.repeat_rows(3)
    ordered = sorted(plan.findings, key=lambda f: 0 if f.severity == "error" else 1)
    for index, finding in enumerate(ordered):
        row = 4 + index
        ws.write_number(row, 0, index + 1, fmt.center)
        severity_format = fmt.error if finding.severity == "error" else fmt.warning
        ws.write_string(row, 1, texts["severities"][finding.severity], severity_format)
        _write_text(ws, row, 2, texts["kinds"].get(finding.kind, finding.kind), fmt.text)
        _write_text(ws, row, 3, finding.message_vi, fmt.text)
        _write_text(ws, row, 4, ", ".join(finding.refs), fmt.text)
        _write_text(ws, row, 5, "; ".join(u for u in finding.units if u), fmt.text)


# ---------------------------------------------------------------- Tổng hợp


@dataclass
class _Range:
    """Rows (0-based, inclusive) of a table's body on the summary sheet, for a chart's series."""

    first: int
    last: int


class _Summary:
    """Writes the summary sheet top to bottom (constant_memory mode: rows strictly in order)."""

    FIRST_AMOUNT = 2  # column A: label, B: item count (or code), then one column per source

    def __init__(
        self, wb: Workbook, ws: Worksheet, plan: ConsolidatedPlan, fmt: _Formats, province_name: str
    ) -> None:
        self.wb = wb
        self.ws = ws
        self.plan = plan
        self.fmt = fmt
        self.all_texts = plan_annex_texts()
        self.texts = self.all_texts["summary"]
        self.values = _values(plan, province_name)
        self.province_name = province_name
        self.sources = plan.sources
        self.total_col = self.FIRST_AMOUNT + len(self.sources)
        self.share_col = self.total_col + 1
        self.chart_col = self.share_col + 2
        self.row = 0

    # -- helpers

    def _header(self, labels: list[str]) -> None:
        self.ws.set_row(self.row, 32)
        for col, label in enumerate(labels):
            self.ws.write_string(self.row, col, label, self.fmt.header)
        self.row += 1

    def _section(self, text: str) -> None:
        self.row += 1
        self.ws.set_row(self.row, 20)
        self.ws.write_string(self.row, 0, text, self.fmt.section)
        self.row += 1

    def _source_headers(self) -> list[str]:
        funding = plan_annex_texts()["annex02"]["funding_source"]
        return [render_text(funding, name=s.name, code=s.code) for s in self.sources]

    def _breakdown(self, label_header: str, labels: list[str], frame: pd.DataFrame) -> _Range:
        """A table label | items | one column per source | total | share, with a total row."""
        fmt = self.fmt
        grand = self.plan.grand_totals.get("total", 0)
        self._header(
            [
                label_header,
                self.texts["items"],
                *self._source_headers(),
                self.texts["total"],
                self.texts["share"],
            ]
        )
        first = self.row
        counts = frame["items"].tolist() if len(frame) else []
        columns = [frame[s.column].tolist() for s in self.sources] if len(frame) else []
        totals = frame["total"].tolist() if len(frame) else []
        for index, label in enumerate(labels):
            self.ws.write_string(self.row, 0, label, fmt.text)
            self.ws.write_number(self.row, 1, int(counts[index]), fmt.count)
            for offset in range(len(self.sources)):
                _write_amount(
                    self.ws, self.row, self.FIRST_AMOUNT + offset, columns[offset][index], fmt.amount
                )
            self.ws.write_number(self.row, self.total_col, int(totals[index]), fmt.amount)
            self._share(self.row, int(totals[index]), grand, fmt.share)
            self.row += 1
        last = self.row - 1
        self._total_row(int(sum(int(c) for c in counts)))
        return _Range(first, last)

    def _share(self, row: int, amount: int, grand: int, share_format: Format) -> None:
        if grand:
            self.ws.write_number(row, self.share_col, amount / grand, share_format)  # a ratio, display only
        else:
            self.ws.write_blank(row, self.share_col, None, share_format)

    def _total_row(self, items: int) -> None:
        fmt = self.fmt
        grand = self.plan.grand_totals
        self.ws.write_string(self.row, 0, self.texts["total"], fmt.total_text)
        self.ws.write_number(self.row, 1, items, fmt.total_count)
        for offset, source in enumerate(self.sources):
            self.ws.write_number(
                self.row, self.FIRST_AMOUNT + offset, int(grand.get(source.code, 0)), fmt.total_amount
            )
        self.ws.write_number(self.row, self.total_col, int(grand.get("total", 0)), fmt.total_amount)
        self._share(self.row, int(grand.get("total", 0)), int(grand.get("total", 0)), fmt.total_share)
        self.row += 1

    # -- the sheet

    def write(self) -> None:
        ws, fmt, plan = self.ws, self.fmt, self.plan
        ws.set_column(0, 0, 48)
        ws.set_column(1, 1, 16)
        ws.set_column(self.FIRST_AMOUNT, self.total_col, 17)
        ws.set_column(self.share_col, self.share_col, 10)
        _print_setup(ws, self.all_texts)
        width = 48 + 16 + 17 * (len(self.sources) + 1) + 10
        title = render_text(self.texts["title"], **self.values)
        _line(
            ws,
            0,
            self.share_col,
            title,
            fmt.title,
            height=_wrapped_height(title, width / 1.2, line_height=18),
        )
        self.row = 1
        _line(
            ws,
            self.row,
            self.share_col,
            reference_line(plan, province_name=self.province_name),
            fmt.reference,
        )
        self.row += 1
        _line(
            ws, self.row, self.share_col, render_text(self.texts["money_line"], **self.values), fmt.unit_line
        )
        self.row += 1
        _line(
            ws,
            self.row,
            self.share_col,
            plan.rounding_rule_vi,
            fmt.note,
            height=_wrapped_height(plan.rounding_rule_vi, width),
        )
        self.row += 1
        counts = render_text(
            self.texts["items_count"],
            items=len(plan.items),
            units=len(plan.by_unit),
            groups=len(plan.groups),
        )
        _line(ws, self.row, self.share_col, counts, fmt.plain)
        self.row += 1

        source_range = self._by_source()
        self._section(self.texts["by_origin"]["heading"])
        origins = self.all_texts["origins"]
        by_origin = plan.by_origin
        origin_labels = [origins.get(str(o), str(o)) for o in by_origin["origin"]] if len(by_origin) else []
        self._breakdown(self.texts["by_origin"]["label"], origin_labels, by_origin)

        self._section(self.texts["by_field"]["heading"])
        by_field = plan.by_field
        no_field = self.all_texts["no_field"]
        field_labels = [str(n) if n else no_field for n in _text_column(by_field, "field_name")]
        field_range = self._breakdown(self.texts["by_field"]["label"], field_labels, by_field)

        unit_range, full_units = self._by_unit()
        self._previous()
        self._envelopes()
        self._findings()
        if full_units is not None:
            self._full_unit_list(full_units)
        self._charts(source_range, field_range, unit_range)

    def _by_source(self) -> _Range:
        ws, fmt, plan = self.ws, self.fmt, self.plan
        texts = self.texts["by_source"]
        self._section(texts["heading"])
        self._header(
            [texts["label"], texts["code"], render_text(texts["amount"], **self.values), self.texts["share"]]
        )
        grand = int(plan.grand_totals.get("total", 0))
        first = self.row
        for source in self.sources:
            amount = int(plan.grand_totals.get(source.code, 0))
            ws.write_string(self.row, 0, source.name, fmt.text)
            ws.write_string(self.row, 1, source.code, fmt.center)
            ws.write_number(self.row, 2, amount, fmt.amount)
            if grand:
                ws.write_number(self.row, 3, amount / grand, fmt.share)
            else:
                ws.write_blank(self.row, 3, None, fmt.share)
            self.row += 1
        last = self.row - 1
        ws.write_string(self.row, 0, self.texts["total"], fmt.total_text)
        ws.write_blank(self.row, 1, None, fmt.total_center)
        ws.write_number(self.row, 2, grand, fmt.total_amount)
        if grand:
            ws.write_number(self.row, 3, 1, fmt.total_share)
        else:
            ws.write_blank(self.row, 3, None, fmt.total_share)
        self.row += 1
        return _Range(first, last)

    def _by_unit(self) -> tuple[_Range, pd.DataFrame | None]:
        texts = self.texts["by_unit"]
        by_unit = self.plan.by_unit
        ordered = by_unit.assign(_name=by_unit["lead_unit_name"].fillna("").astype(str)).sort_values(
            ["total", "_name"], ascending=[False, True], kind="stable"
        )
        top = ordered.head(SUMMARY_TOP_UNITS)
        rest = ordered.iloc[SUMMARY_TOP_UNITS:]
        self._section(render_text(texts["heading"], shown=len(top), others=len(rest) > 0))
        labels = _text_column(top, "lead_unit_name")
        frame = top
        if len(rest):
            columns = ["items", *self.plan.amount_columns, "total"]
            others = {c: int(rest[c].fillna(0).astype("int64").sum()) for c in columns}
            frame = pd.concat([top[columns], pd.DataFrame([others])], ignore_index=True)
            labels = [*labels, render_text(texts["others"], count=len(rest))]
        unit_range = self._breakdown(texts["label"], labels, frame)
        return unit_range, (ordered if len(rest) else None)

    def _full_unit_list(self, ordered: pd.DataFrame) -> None:
        texts = self.texts["by_unit"]
        self._section(render_text(texts["full_heading"], count=len(ordered)))
        labels = [
            f"{name} ({code})" if code else name
            for name, code in zip(
                _text_column(ordered, "lead_unit_name"), _text_column(ordered, "lead_unit_code"), strict=True
            )
        ]
        self._breakdown(texts["label"], labels, ordered)

    def _previous(self) -> None:
        ws, fmt, plan = self.ws, self.fmt, self.plan
        texts = self.texts["previous"]
        if plan.previous_year is None or plan.previous_totals is None:
            self._section(render_text(texts["none"], **self.values))
            return
        self._section(render_text(texts["heading"], **self.values))
        header = [
            render_text(texts["previous"], **self.values),
            render_text(texts["current"], **self.values),
            texts["change"],
        ]
        ws.write_string(self.row, 0, texts["by_source"], fmt.section)
        self.row += 1
        self._header([texts["label_source"], *header])
        previous = plan.previous_totals
        rows: list[tuple[str, int, int]] = []
        for source in self.sources:
            rows.append(
                (source.name, int(previous.get(source.code, 0)), int(plan.grand_totals.get(source.code, 0)))
            )
        current_codes = {s.code for s in self.sources}
        for code, amount in previous.items():
            if code != "total" and code not in current_codes:
                rows.append((code, int(amount), 0))
        for label, before, now in rows:
            ws.write_string(self.row, 0, label, fmt.text)
            ws.write_number(self.row, 1, before, fmt.amount)
            ws.write_number(self.row, 2, now, fmt.amount)
            ws.write_number(self.row, 3, now - before, fmt.signed)
            self.row += 1
        before_total = int(previous.get("total", 0))
        now_total = int(plan.grand_totals.get("total", 0))
        ws.write_string(self.row, 0, self.texts["total"], fmt.total_text)
        ws.write_number(self.row, 1, before_total, fmt.total_amount)
        ws.write_number(self.row, 2, now_total, fmt.total_amount)
        ws.write_number(self.row, 3, now_total - before_total, fmt.total_signed)
        self.row += 1

        by_group = plan.previous_by_group
        if by_group is None or by_group.empty:
            return
        self.row += 1
        ws.write_string(self.row, 0, texts["by_group"], fmt.section)
        self.row += 1
        self._header([texts["label_group"], *header])
        romans = dict(zip(plan.groups["group_key"], plan.groups["group_roman"], strict=True))
        for record in by_group.to_dict("records"):
            roman_numeral = romans.get(record["group_key"])
            label = (
                f"{roman_numeral}. {record['group_label']}" if roman_numeral else str(record["group_label"])
            )
            ws.write_string(self.row, 0, label, fmt.text)
            ws.write_number(self.row, 1, int(record["previous_total"]), fmt.amount)
            ws.write_number(self.row, 2, int(record["total"]), fmt.amount)
            ws.write_number(self.row, 3, int(record["change"]), fmt.signed)
            self.row += 1

    def _envelopes(self) -> None:
        ws, fmt, plan = self.ws, self.fmt, self.plan
        texts = self.texts["envelopes"]
        if not plan.envelopes:
            self._section(render_text(texts["none"], **self.values))
            return
        self._section(texts["heading"])
        self._header([texts["scope"], texts["source"], texts["ceiling"], texts["planned"], texts["gap"]])
        for envelope in plan.envelopes:
            scope = envelope.unit_name or envelope.unit_code or texts["whole_plan"]
            ws.write_string(self.row, 0, scope, fmt.text)
            ws.write_string(self.row, 1, envelope.source_code, fmt.center)
            ws.write_number(self.row, 2, int(envelope.ceiling), fmt.amount)
            ws.write_number(self.row, 3, int(envelope.planned), fmt.amount)
            ws.write_number(self.row, 4, int(envelope.gap), fmt.over if envelope.gap < 0 else fmt.signed)
            self.row += 1

    def _findings(self) -> None:
        ws, fmt, plan = self.ws, self.fmt, self.plan
        texts = self.texts["findings"]
        finding_texts = self.all_texts["findings"]
        self._section(texts["heading"])
        if not plan.findings:
            ws.write_string(self.row, 0, texts["none"], fmt.plain)
            self.row += 1
            return
        self._header([texts["kind"], texts["severity"], texts["count"]])
        counts: dict[tuple[str, str], int] = {}
        for finding in plan.findings:
            key = (finding.severity, finding.kind)
            counts[key] = counts.get(key, 0) + 1
        for (severity, kind), count in sorted(counts.items(), key=lambda kv: (kv[0][0] != "error", kv[0][1])):
            ws.write_string(self.row, 0, finding_texts["kinds"].get(kind, kind), fmt.text)
            ws.write_string(
                self.row,
                1,
                finding_texts["severities"][severity],
                fmt.error if severity == "error" else fmt.warning,
            )
            ws.write_number(self.row, 2, count, fmt.count)
            self.row += 1
        ws.write_string(
            self.row, 0, render_text(texts["see_sheet"], sheet=self.all_texts["sheets"]["findings"]), fmt.note
        )
        self.row += 1

    def _charts(self, sources: _Range, fields: _Range, units: _Range) -> None:
        """Native charts right of the tables, fed by the tables' cells: a doughnut of funding sources,
        bars by field and by lead unit."""
        sheet = self.ws.get_name()
        texts = self.texts["charts"]
        number_format = amount_format(self.plan.money_unit)
        col = self.chart_col
        anchor_row = 5
        if sources.last >= sources.first:
            doughnut = self.wb.add_chart({"type": "doughnut"})
            doughnut.add_series(
                {
                    "name": texts["by_source"],
                    "categories": [sheet, sources.first, 0, sources.last, 0],
                    "values": [sheet, sources.first, 2, sources.last, 2],
                    "data_labels": {"percentage": True, "leader_lines": True},
                }
            )
            doughnut.set_title({"name": texts["by_source"], "name_font": {"name": _FONT, "size": 12}})
            doughnut.set_legend({"position": "right", "font": {"name": _FONT}})
            doughnut.set_size({"width": 620, "height": 300})
            self.ws.insert_chart(anchor_row, col, doughnut)
        if fields.last >= fields.first:
            chart = self._bars(texts["by_field"], fields, 320, number_format)
            self.ws.insert_chart(anchor_row + 16, col, chart)
        if units.last >= units.first:
            height = max(320, 28 * (units.last - units.first + 1) + 80)
            self.ws.insert_chart(
                anchor_row + 33, col, self._bars(texts["by_unit"], units, height, number_format)
            )

    def _bars(self, title: str, rows: _Range, height: int, number_format: str) -> Any:
        sheet = self.ws.get_name()
        chart = self.wb.add_chart({"type": "bar"})
        chart.add_series(
            {
                "name": title,
                "categories": [sheet, rows.first, 0, rows.last, 0],
                "values": [sheet, rows.first, self.total_col, rows.last, self.total_col],
                "fill": {"color": "#2F5597"},
                "data_labels": {
                    "value": True,
                    "num_format": number_format,
                    "font": {"name": _FONT, "size": 9},
                },
            }
        )
        chart.set_title({"name": title, "name_font": {"name": _FONT, "size": 12}})
        chart.set_legend({"none": True})
        chart.set_x_axis({"num_format": number_format, "num_font": {"name": _FONT, "size": 9}})
        # Bar charts draw the first category at the bottom: reversed, they read top-down like the table.
        chart.set_y_axis({"reverse": True, "num_font": {"name": _FONT, "size": 9}})
        chart.set_size({"width": 620, "height": height})
        return chart


# ---------------------------------------------------------------- the workbook


def write_plan_workbook(plan: ConsolidatedPlan, path: Path, *, province_name: str) -> Path:
    """Write the consolidated plan's workbook (summary, Annex 01, Annex 02, findings) to ``path``.

    Amount cells hold exact integer đồng; number formats show them in the plan's unit. The file is
    written next to ``path`` and renamed into place, so a reader never sees half a workbook and
    running it twice gives the same file. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    texts = plan_annex_texts()
    wb = xlsxwriter.Workbook(
        str(partial),
        {
            "constant_memory": True,
            "default_format_properties": {"font_name": _FONT, "font_size": 11},
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        wb.set_properties(
            {"title": plan.title, "subject": texts["annex02"]["label"], "company": province_name}
        )
        fmt = _Formats(wb, plan.money_unit)
        sheets = texts["sheets"]
        summary_ws = wb.add_worksheet(sheets["summary"])
        annex01_ws = wb.add_worksheet(sheets["annex01"])
        annex02_ws = wb.add_worksheet(sheets["annex02"])
        findings_ws = wb.add_worksheet(sheets["findings"])
        _Summary(wb, summary_ws, plan, fmt, province_name).write()
        _write_annex01(annex01_ws, plan, fmt, province_name)
        _write_annex02(annex02_ws, plan, fmt, province_name)
        _write_findings(findings_ws, plan, fmt)
        annex02_ws.activate()
    finally:
        wb.close()
    os.replace(partial, path)
    return path
