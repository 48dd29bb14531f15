"""What every sheet of the consolidated plan's workbook shares: its texts (``plan_annexes.yaml``), the values
its headings are rendered with, the reference line under the titles, the cell formats and the small writers
that keep xlsxwriter's ``constant_memory`` mode happy (rows written strictly in order)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from tasks.common.money import MONEY_UNIT_LABELS
from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.excel.layout import render_text
from templates import load_yaml

# Display formats of amount cells holding đồng: each "," after the digits divides by 1,000 for display.
AMOUNT_FORMATS: dict[str, str] = {"dong": "#,##0", "trieu": "#,##0,,", "ty": "#,##0.000,,,"}

FONT = "Times New Roman"
_HEADER_FILL = "#DDEBF7"
_GROUP_FILL = "#F2F2F2"
_TOTAL_FILL = "#FFF2CC"
_RED_FILL = "#FFC7CE"
_RED = "#9C0006"
_ORANGE = "#9C5700"


def plan_annex_texts() -> dict[str, Any]:
    """The workbook's texts (sheet names, titles, headers): templates/workbook/plan_annexes.yaml."""
    return load_yaml("workbook/plan_annexes.yaml")


def amount_format(money_unit: str) -> str:
    """The Excel number format showing đồng in ``money_unit`` (the cell keeps the exact đồng)."""
    return AMOUNT_FORMATS[money_unit]


def signed_format(money_unit: str) -> str:
    """The amount format with negatives in red and a real minus sign (changes, gaps)."""
    positive = AMOUNT_FORMATS[money_unit]
    return f"{positive};[Red]\\−{positive}"


def heading_values(plan: ConsolidatedPlan, province_name: str) -> dict[str, Any]:
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
    return render_text(texts[key], **heading_values(plan, province_name))


# ---------------------------------------------------------------- formats and small writers


class SheetFormats:
    """Every cell format of the workbook, created once (xlsxwriter formats are workbook-wide)."""

    def __init__(self, wb: Workbook, money_unit: str) -> None:
        amount = amount_format(money_unit)
        signed = signed_format(money_unit)
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


def text_column(frame: pd.DataFrame, name: str) -> list[str]:
    """A column as display strings, "" for missing values (fast: one vectorised pass)."""
    if name not in frame.columns:
        return [""] * len(frame)
    column = frame[name].astype(object)
    return column.where(column.notna(), "").astype(str).tolist()


def as_text(value: Any) -> str:
    """One value as display text, "" when missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def write_text(ws: Worksheet, row: int, col: int, text: str, fmt: Format) -> None:
    if text:
        ws.write_string(row, col, text, fmt)
    else:
        ws.write_blank(row, col, None, fmt)


def write_amount(ws: Worksheet, row: int, col: int, value: Any, fmt: Format) -> None:
    """An exact đồng amount as a Python int (never a float division); empty for <NA>."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_number(row, col, int(value), fmt)


def write_line(
    ws: Worksheet, row: int, last_col: int, text: str, fmt: Format, *, height: float | None = None
) -> None:
    """One line of text across the table (merged in its own row: safe in constant_memory mode)."""
    if height is not None:
        ws.set_row(row, height)
    if last_col == 0:
        ws.write_string(row, 0, text, fmt)
    else:
        ws.merge_range(row, 0, row, last_col, text, fmt)


def merge_down(ws: Worksheet, row: int, col: int) -> None:
    """Merge a written cell with the written cell below it. ``merge_range`` cannot in constant_memory
    mode: writing the lower cell flushes the upper row, after which the upper row is refused. So the range
    goes straight into the sheet's merge list, the list ``merge_range`` fills and the writer emits as
    ``<mergeCells>`` (both cells are already written with the same format)."""
    ws.merge.append([row, col, row + 1, col])


def wrapped_height(text: str, width_chars: float, *, line_height: float = 15.0) -> float:
    """Row height for text wrapped in a merged cell: spreadsheet programs never auto-fit merged cells."""
    per_line = max(width_chars * 1.15 - 2, 10)
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    return round(lines * line_height + 4, 1)


def print_setup(ws: Worksheet, texts: dict[str, Any], *, repeat: tuple[int, int] | None = None) -> None:
    """Landscape A3, one page wide, page numbers; the header rows repeated on every page."""
    ws.set_landscape()
    ws.set_paper(8)  # A3
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer(texts["footer"])
    if repeat is not None:
        ws.repeat_rows(*repeat)
