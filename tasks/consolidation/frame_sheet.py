"""The consolidated plan's sheet of totals per KH&CN / ĐMST / CĐS class and per funding source, with the
shares of the province's budget and the minimums in force for the plan year (``legal_frame``)."""

from __future__ import annotations

from xlsxwriter.worksheet import Worksheet

from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.legal_frame import frame_for, frame_texts, shares
from tasks.consolidation.sheets import SheetFormats, plan_annex_texts, print_setup, write_line, write_text
from tasks.excel.layout import render_text


def has_class_sheet(plan: ConsolidatedPlan) -> bool:
    """Plans from the 2026 frame on carry classes: their workbook has the sheet."""
    return frame_for(plan.year) is not None and len(plan.by_class) > 0


def write_class_sheet(ws: Worksheet, plan: ConsolidatedPlan, fmt: SheetFormats) -> None:
    texts = frame_texts()["annex"]
    frame = frame_for(plan.year)
    assert frame is not None
    columns = texts["columns"]
    last_col = 2 + len(plan.sources) + 2
    ws.set_column(0, 0, 36)
    ws.set_column(1, last_col, 16)
    print_setup(ws, plan_annex_texts())
    write_line(ws, 0, last_col, render_text(texts["title"], year=plan.year), fmt.title, height=36)
    write_line(ws, 1, last_col, render_text(texts["source_line"], source=frame.source), fmt.reference)
    budget = (
        render_text(
            texts["budget_line"],
            year=plan.year,
            budget=plan.money(plan.budget_total),
            money_unit=plan.money_unit_label,
        )
        if plan.budget_total
        else render_text(texts["no_budget_line"], year=plan.year)
    )
    write_line(ws, 2, last_col, budget, fmt.note)
    headers = [
        columns["class"],
        columns["items"],
        *(s.name for s in plan.sources),
        columns["total"],
        columns["share"],
    ]
    for col, header in enumerate(headers):
        ws.write_string(4, col, header, fmt.header)
    row = 5
    for record in plan.by_class.to_dict("records"):
        write_text(ws, row, 0, record["class_name"], fmt.text)
        ws.write_number(row, 1, record["items"], fmt.count)
        for col, source in enumerate(plan.sources, start=2):
            ws.write_number(row, col, record[source.code], fmt.amount)
        ws.write_number(row, 2 + len(plan.sources), record["total"], fmt.amount)
        if plan.budget_total:
            ws.write_number(row, 3 + len(plan.sources), record["total"] / plan.budget_total, fmt.share)
        else:
            ws.write_blank(row, 3 + len(plan.sources), None, fmt.text)
        row += 1
    row += 1
    write_line(ws, row, last_col, texts["thresholds"], fmt.section)
    for share in shares(plan, plan.budget_total):
        row += 1
        names = frame.class_names()
        line = (
            f"{', '.join(names.get(c, c) for c in share.classes)}: ≥ {share.min_percent:g}% — {share.basis}"
        )
        if share.percent is not None:
            line += f" ({share.percent:.2f}%)".replace(".", ",")
        write_line(ws, row, last_col, line, fmt.plain)
