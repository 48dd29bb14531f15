"""The consolidated plan as an Excel workbook, in the form of the published appendices.

Four sheets, in this order (names and every text from ``templates/workbook/plan_annexes.yaml``):

1. "Tổng hợp": totals by funding source, new vs carry-over, field, lead unit; comparison with last year;
   envelopes; counts of findings; three native charts (written by ``summary_sheet.py``).
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

   Amount cells hold exact integer đồng; only the number format scales the display
   (``sheets.AMOUNT_FORMATS``).
4. "Kiểm tra": one row per finding, errors first.

Written with xlsxwriter in ``constant_memory`` mode (rows are streamed to disk in order), so 100,000 items
take seconds and little memory; the file is written beside ``path`` and renamed into place.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.common.numbers import format_percent
from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.frame_sheet import has_class_sheet, write_class_sheet
from tasks.consolidation.layouts import annex02_spec, items_annexes
from tasks.consolidation.legal_frame import frame_texts
from tasks.consolidation.sheets import (
    FONT,
    SheetFormats,
    as_text,
    heading_values,
    merge_down,
    plan_annex_texts,
    print_setup,
    reference_line,
    text_column,
    wrapped_height,
    write_line,
    write_text,
)
from tasks.consolidation.summary_sheet import SummarySheet
from tasks.excel.layout import render_text

ANNEX02_HEADER_ROW = 6  # 1-based: the first of the two header rows of "Phụ lục 02"
ANNEX02_FIXED_COLUMNS = 8  # STT … Thời gian triển khai, before the amount columns (default layout)


def annex02_heading_lines(plan: ConsolidatedPlan, *, province_name: str) -> list[str]:
    """Rows 1-5 of "Phụ lục 02": label, title, reference line, money unit line, rounding rule."""
    texts = plan_annex_texts()["annex02"]
    values = heading_values(plan, province_name)
    return [
        plan.annex_label or texts["label"],
        render_text(plan.annex_title or texts["title"], **values),
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


# ---------------------------------------------------------------- Phụ lục 02


# The descriptive columns Annex 02 can show: (label key, width, the items frame's column). A cycle's
# layout (``layout.annex02.columns``) picks and orders them after "STT" and the name; default: as listed.
ANNEX02_COLUMNS: dict[str, tuple[int, str]] = {
    "lead_unit": (22, "lead_unit_name"),
    "partners": (22, "coordinating_units"),
    "field": (20, "field_name"),
    "origin": (13, "origin_label"),
    "objective": (42, "objective"),
    "scope": (20, "scope"),
    "period": (11, "period"),
}
ANNEX02_DEFAULT_COLUMNS = ["lead_unit", "field", "origin", "objective", "scope", "period"]


def annex02_columns(plan: ConsolidatedPlan) -> list[str]:
    """The descriptive columns of the plan's Annex 02 after STT and name, in order (the cycle's layout)."""
    chosen = annex02_spec(plan).get("columns") or ANNEX02_DEFAULT_COLUMNS
    unknown = [c for c in chosen if c not in ANNEX02_COLUMNS]
    if unknown:
        raise ValueError(f"unknown Annex 02 columns {unknown}; known: {sorted(ANNEX02_COLUMNS)}")
    return list(dict.fromkeys(chosen))


def _write_annex02(ws: Worksheet, plan: ConsolidatedPlan, fmt: SheetFormats, province_name: str) -> None:
    texts = plan_annex_texts()["annex02"]
    columns = texts["columns"]
    values = heading_values(plan, province_name)
    sources = plan.sources
    shown = annex02_columns(plan)
    amount_first = 2 + len(shown)
    total_col = amount_first + len(sources)
    notes_col = total_col + 1
    fixed = [(columns["stt"], 7), (columns["name"], 38)] + [
        (columns[key], ANNEX02_COLUMNS[key][0]) for key in shown
    ]
    for col, (_label, width) in enumerate(fixed):
        ws.set_column(col, col, width)
    if sources:
        ws.set_column(amount_first, total_col - 1, 16)
    ws.set_column(total_col, total_col, 17)
    ws.set_column(notes_col, notes_col, 30)
    table_width = sum(w for _l, w in fixed) + 16 * len(sources) + 17 + 30

    lines = annex02_heading_lines(plan, province_name=province_name)
    write_line(ws, 0, notes_col, lines[0], fmt.label)
    write_line(
        ws,
        1,
        notes_col,
        lines[1],
        fmt.title,
        height=wrapped_height(lines[1], table_width / 1.2, line_height=18),
    )
    write_line(ws, 2, notes_col, lines[2], fmt.reference, height=18)
    write_line(ws, 3, notes_col, lines[3], fmt.unit_line)
    write_line(ws, 4, notes_col, lines[4], fmt.note, height=wrapped_height(lines[4], table_width))

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
        merge_down(ws, top, col)
    first_data = top + 2
    ws.freeze_panes(first_data, 0)
    print_setup(ws, plan_annex_texts(), repeat=(top, top + 1))

    items = plan.items
    groups = {
        int(g["group_no"]): g
        for g in plan.groups[
            ["group_no", "group_roman", "group_label", *plan.amount_columns, "total"]
        ].to_dict("records")
    }
    text_names = ["ref", "name"] + [ANNEX02_COLUMNS[key][1] for key in shown]
    text_columns = [text_column(items, name) for name in text_names]
    notes = text_column(items, "basis")
    # partners go in the notes cell unless the layout gives them a column of their own
    partners = [""] * len(items) if "partners" in shown else text_column(items, "coordinating_units")
    partner_line = texts["partners"]
    notes = [
        "\n".join(part for part in (note, render_text(partner_line, names=names) if names else "") if part)
        for note, names in zip(notes, partners, strict=True)
    ]
    amounts = [items[s.column].tolist() for s in sources]
    codes = [s.code for s in sources]
    totals = items["total"].tolist()
    unstated = text_column(items, "unstated_sources")
    group_nos = items["group_no"].tolist()
    unstated_text = texts["unstated"]

    # The hot loop (100,000 rows): bound methods and plain lists, one call per cell.
    write_string, write_blank, write_number = ws.write_string, ws.write_blank, ws.write_number
    cell_formats = [fmt.center, fmt.text] + [fmt.center if key == "period" else fmt.text for key in shown]
    row = first_data
    current = None
    for index in range(len(items)):
        group_no = int(group_nos[index])
        if group_no != current and plan.grouping == "none":
            current = group_no  # a flat list: no group heading rows
        if group_no != current:
            current = group_no
            group = groups[group_no]
            write_string(row, 0, str(group["group_roman"]), fmt.group_center)
            write_text(ws, row, 1, as_text(group["group_label"]), fmt.group_text)
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
        write_text(ws, row, notes_col, notes[index], fmt.text)
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
    write_line(ws, row + 2, notes_col, paragraph, fmt.plain, height=wrapped_height(paragraph, table_width))


# ---------------------------------------------------------------- Phụ lục 01


def _write_annex01(ws: Worksheet, plan: ConsolidatedPlan, fmt: SheetFormats, province_name: str) -> None:
    all_texts = plan_annex_texts()
    texts = all_texts["annex01"]
    columns = texts["columns"]
    values = heading_values(plan, province_name)
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
    print_setup(ws, all_texts)
    table_width = sum(w for _k, w in widths)
    write_line(ws, 0, last_col, texts["label"], fmt.label)
    title_values = values | {"previous_year": plan.previous_year or plan.year - 1}
    title = render_text(texts["title"], **title_values)
    write_line(
        ws, 1, last_col, title, fmt.title, height=wrapped_height(title, table_width / 1.2, line_height=18)
    )
    write_line(ws, 2, last_col, reference_line(plan, province_name=province_name), fmt.reference, height=18)
    annex = plan.annex01
    if plan.previous_year is None or annex is None or annex.empty:  # a sentence across the table
        key = "none" if plan.previous_year is None else "empty"
        write_line(ws, 4, last_col, render_text(texts[key], **values), fmt.plain, height=24)
        return
    ws.set_row(4, 32)
    for col, (key, _width) in enumerate(widths):
        ws.write_string(4, col, render_text(columns[key], **values), fmt.header)
    ws.freeze_panes(5, 0)
    ws.repeat_rows(4)

    texts_by_column = [
        text_column(annex, name)
        for name in ("ref", "name", "lead_unit_name", "field_name", "objective", "scope", "period", "sources")
    ]
    labels = text_column(annex, "status_label")
    percents = (
        annex["percent_complete"].tolist() if "percent_complete" in annex.columns else [None] * len(annex)
    )
    notes = text_column(annex, "note")
    carried = annex["carried_over"].tolist() if "carried_over" in annex.columns else [False] * len(annex)
    carried_text = render_text(texts["carried_over"], **values)
    statuses: dict[tuple[str, str], str] = {}  # (label, percent) → text: a few dozen, rendered once each
    for index in range(len(annex)):
        row = 5 + index
        write_text(ws, row, 0, texts_by_column[0][index], fmt.center)
        for col in range(1, 6):
            write_text(ws, row, col, texts_by_column[col][index], fmt.text)
        write_text(ws, row, 6, texts_by_column[6][index], fmt.center)
        write_text(ws, row, 7, texts_by_column[7][index], fmt.text)
        status = labels[index]
        percent = percents[index]
        if (
            percent is not None
            and percent is not pd.NA
            and not (isinstance(percent, float) and math.isnan(percent))
        ):
            key = (status, format_percent(float(percent)))
            if key not in statuses:
                statuses[key] = render_text(texts["status_with_percent"], status=key[0], percent=key[1])
            status = statuses[key]
        write_text(ws, row, 8, status, fmt.text)
        note_parts = [notes[index]] if notes[index] else []
        if bool(carried[index]):
            note_parts.append(carried_text)
        write_text(ws, row, 9, "; ".join(note_parts), fmt.text)


# ---------------------------------------------------------------- Kiểm tra


def _write_findings(ws: Worksheet, plan: ConsolidatedPlan, fmt: SheetFormats) -> None:
    all_texts = plan_annex_texts()
    texts = all_texts["findings"]
    columns = texts["columns"]
    widths = [("stt", 6), ("severity", 12), ("kind", 30), ("message", 80), ("refs", 22), ("units", 34)]
    for col, (_key, width) in enumerate(widths):
        ws.set_column(col, col, width)
    last_col = len(widths) - 1
    print_setup(ws, all_texts)
    write_line(ws, 0, last_col, render_text(texts["title"], year=plan.year), fmt.title, height=20)
    subtitle = render_text(
        texts["subtitle"], as_of=plan.as_of, errors=len(plan.errors), warnings=len(plan.warnings)
    )
    write_line(ws, 1, last_col, subtitle, fmt.reference)
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
        write_text(ws, row, 2, texts["kinds"].get(finding.kind, finding.kind), fmt.text)
        write_text(ws, row, 3, finding.message_vi, fmt.text)
        write_text(ws, row, 4, ", ".join(finding.refs), fmt.text)
        write_text(ws, row, 5, "; ".join(u for u in finding.units if u), fmt.text)


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
            "default_format_properties": {"font_name": FONT, "font_size": 11},
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        wb.set_properties(
            {"title": plan.title, "subject": texts["annex02"]["label"], "company": province_name}
        )
        fmt = SheetFormats(wb, plan.money_unit)
        sheets = texts["sheets"]
        summary_ws = wb.add_worksheet(sheets["summary"])
        annex01_ws = wb.add_worksheet(sheets["annex01"])
        annexes = [
            (wb.add_worksheet(part.sheet or sheets["annex02"]), part.plan) for part in items_annexes(plan)
        ]
        annex02_ws = annexes[0][0]
        class_ws = wb.add_worksheet(frame_texts()["annex"]["sheet"]) if has_class_sheet(plan) else None
        findings_ws = wb.add_worksheet(sheets["findings"])
        SummarySheet(wb, summary_ws, plan, fmt, province_name).write()
        _write_annex01(annex01_ws, plan, fmt, province_name)
        for ws, part in annexes:
            part_fmt = fmt if part.money_unit == plan.money_unit else SheetFormats(wb, part.money_unit)
            _write_annex02(ws, part, part_fmt, province_name)
        if class_ws is not None:
            write_class_sheet(class_ws, plan, fmt)
        _write_findings(findings_ws, plan, fmt)
        annex02_ws.activate()
    finally:
        wb.close()
    os.replace(partial, path)
    return path
