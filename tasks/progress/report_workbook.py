"""The progress report as an Excel workbook (xlsxwriter), from a `ProgressSnapshot`: sheets Tổng hợp with
charts, Theo nhiệm vụ, Theo đơn vị, Chỉ tiêu, Chưa báo cáo. Texts in
``templates/workbook/progress_report.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xlsxwriter

from tasks.consolidation.plan import STATUS_LABELS
from tasks.consolidation.sheets import amount_format
from tasks.excel.layout import render_text
from tasks.excel.styles import FONT
from tasks.progress.report import STATUS_ORDER, ProgressSnapshot, report_texts


class _Formats:
    def __init__(self, wb: Any, money_unit: str) -> None:
        font = {"font_name": FONT, "font_size": 11}
        cell = font | {"border": 1, "valign": "top", "text_wrap": True}

        def add(**properties: Any) -> Any:
            return wb.add_format(font | properties)

        self.title = add(bold=True, font_size=13, align="center", valign="vcenter", text_wrap=True)
        self.subtitle = add(italic=True, align="center")
        self.section = add(bold=True, font_size=12)
        self.note = add(italic=True, text_wrap=True, valign="top")
        self.header = add(**(cell | {"valign": "vcenter"}), bold=True, align="center", bg_color="#DDEBF7")
        self.text = add(**cell)
        self.center = add(**cell, align="center")
        self.amount = add(**cell, align="right", num_format=amount_format(money_unit))
        self.count = add(**cell, align="right", num_format="#,##0")
        self.percent = add(**cell, align="right", num_format="0.0")
        self.rate = add(**cell, align="right", num_format="0.0%")
        self.decimal = add(**cell, align="right", num_format="#,##0.##")
        self.total_text = add(**cell, bold=True, bg_color="#FFF2CC")
        self.total_amount = add(
            **cell, bold=True, bg_color="#FFF2CC", align="right", num_format=amount_format(money_unit)
        )
        self.total_count = add(**cell, bold=True, bg_color="#FFF2CC", align="right", num_format="#,##0")
        self.total_percent = add(**cell, bold=True, bg_color="#FFF2CC", align="right", num_format="0.0")
        self.total_rate = add(**cell, bold=True, bg_color="#FFF2CC", align="right", num_format="0.0%")
        self.good = add(**cell, align="center", bold=True, font_color="#006100", bg_color="#C6EFCE")
        self.bad = add(**cell, align="center", bold=True, font_color="#9C0006", bg_color="#FFC7CE")
        self.warn = add(**cell, align="center", bold=True, font_color="#9C5700", bg_color="#FFEB9C")


def _text(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _number(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, int):
        ws.write_number(row, col, value, fmt)  # exact đồng, never divided
    else:
        ws.write_number(row, col, float(value), fmt)  # display-only ratios and indicator values


HEADER_ROW = 3  # under the title and subtitle of _heading (rows 0 and 1) and a blank row


def _table_head(
    ws: Any,
    snapshot: ProgressSnapshot,
    title: str,
    labels: list[str],
    widths: list[float],
    fmt: _Formats,
    *,
    frozen_columns: int = 2,
) -> None:
    """A table sheet's heading, its column headers on ``HEADER_ROW`` and the panes frozen below them."""
    _heading(ws, snapshot, title, len(labels) - 1, fmt)
    for c, (label, width) in enumerate(zip(labels, widths, strict=True)):
        ws.set_column(c, c, width)
        ws.write_string(HEADER_ROW, c, label, fmt.header)
    ws.set_row(HEADER_ROW, 32)
    ws.freeze_panes(HEADER_ROW + 1, frozen_columns)


def _heading(ws: Any, snapshot: ProgressSnapshot, title: str, last_col: int, fmt: _Formats) -> None:
    texts = report_texts()
    values = _values(snapshot)
    ws.merge_range(0, 0, 0, last_col, render_text(title, **values), fmt.title)
    ws.set_row(0, 36)
    ws.merge_range(1, 0, 1, last_col, render_text(texts["subtitle"], **values), fmt.subtitle)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_footer(texts["footer"])


def _values(snapshot: ProgressSnapshot) -> dict[str, Any]:
    return {
        "year": snapshot.year,
        "title": snapshot.title,
        "period": snapshot.period_label,
        "as_of": snapshot.as_of,
        "deadline": snapshot.period_deadline,
        "ends_on": snapshot.period_ends_on,
        "money_unit_label": snapshot.money_unit_label,
    }


def _write_summary(wb: Any, ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = report_texts()["summary"]
    sheet = report_texts()["sheets"]["summary"]
    values = _values(snapshot)
    _heading(ws, snapshot, texts["title"], 5, fmt)
    plan = snapshot.plan
    ws.set_column(0, 0, 42)
    ws.set_column(1, 5, 16)
    row = 3
    ws.write_string(row, 0, texts["overview"], fmt.section)
    facts = [
        (texts["items"], plan.items, fmt.count),
        (texts["approved"].format(**values), plan.approved, fmt.amount),
        (texts["disbursed"].format(**values), plan.disbursed, fmt.amount),
        (texts["disbursement_rate"], plan.disbursement_rate, fmt.rate),
        (texts["weighted_percent"], plan.weighted_percent, fmt.percent),
        (texts["reports_late"], len(snapshot.late), fmt.count),
        (texts["reports_missing"], len(snapshot.missing), fmt.count),
        (texts["indicators_met"], snapshot.indicators_met, fmt.count),
        (texts["indicators_not_met"], snapshot.indicators_not_met, fmt.count),
    ]
    for label, value, number_format in facts:
        row += 1
        ws.write_string(row, 0, label, fmt.text)
        _number(ws, row, 1, value, number_format)
    # by status: the table feeding the doughnut
    row += 2
    ws.write_string(row, 0, texts["by_status"], fmt.section)
    row += 1
    ws.write_string(row, 0, texts["status"], fmt.header)
    ws.write_string(row, 1, texts["count"], fmt.header)
    status_first = row + 1
    for status, count in plan.by_status.items():
        row += 1
        ws.write_string(row, 0, STATUS_LABELS.get(status, status), fmt.text)
        ws.write_number(row, 1, count, fmt.count)
    status_last = row
    # by unit: the table feeding the bars (percent and disbursement)
    row += 2
    ws.write_string(row, 0, texts["by_unit"], fmt.section)
    row += 1
    unit_headers = [texts["unit"], texts["percent"], texts["disbursement_rate"]]
    for c, label in enumerate(unit_headers):
        ws.write_string(row, c, label, fmt.header)
    unit_first = row + 1
    for unit in snapshot.units:
        row += 1
        ws.write_string(row, 0, unit.unit_name, fmt.text)
        _number(ws, row, 1, unit.totals.weighted_percent, fmt.percent)
        _number(ws, row, 2, unit.totals.disbursement_rate, fmt.rate)
    unit_last = row
    charts = texts["charts"]
    if plan.by_status:
        doughnut = _chart(
            wb,
            "doughnut",
            charts["by_status"],
            {
                "name": charts["by_status"],
                "categories": [sheet, status_first, 0, status_last, 0],
                "values": [sheet, status_first, 1, status_last, 1],
                "data_labels": {"value": True},
            },
        )
        doughnut.set_size({"width": 480, "height": 300})
        ws.insert_chart(3, 7, doughnut)
    if snapshot.units:
        bars = _chart(
            wb,
            "bar",
            charts["by_unit"],
            {
                "name": texts["percent"],
                "categories": [sheet, unit_first, 0, unit_last, 0],
                "values": [sheet, unit_first, 1, unit_last, 1],
                "data_labels": {"value": True, "num_format": "0"},
            },
        )
        bars.set_x_axis({"min": 0, "max": 100})
        bars.set_y_axis({"reverse": True})
        bars.set_legend({"none": True})
        bars.set_size({"width": 620, "height": max(240, 40 + 28 * len(snapshot.units))})
        ws.insert_chart(20, 7, bars)
        units_sheet, last_unit_row = report_texts()["sheets"]["units"], 3 + len(snapshot.units)
        money = _chart(
            wb,
            "column",
            charts["money_by_unit"].format(**values),
            *(
                {
                    "name": texts[f"chart_{key}"],
                    "categories": [sheet, unit_first, 0, unit_last, 0],
                    "values": [units_sheet, 4, 3 + c, last_unit_row, 3 + c],
                }
                for c, key in ((1, "approved"), (2, "disbursed"))
            ),
        )
        money.set_y_axis({"num_format": amount_format(snapshot.money_unit)})
        money.set_size({"width": 620, "height": 320})
        ws.insert_chart(20 + max(12, 2 + len(snapshot.units) * 2), 7, money)
    ws.write_string(unit_last + 2, 0, texts["rounding"], fmt.note)


def _chart(wb: Any, kind: str, title: str, *series: dict[str, Any]) -> Any:
    """A native Excel chart of ``kind`` with its series and title (sizes and axes are the caller's)."""
    chart = wb.add_chart({"type": kind})
    for one in series:
        chart.add_series(one)
    chart.set_title({"name": title})
    return chart


def _write_items(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = report_texts()["items"]
    columns = texts["columns"]
    labels = [render_text(columns[k], **_values(snapshot)) for k in columns]
    widths = [7, 40, 24, 18, 10, 16, 16, 10, 14, 30, 30]
    _table_head(ws, snapshot, texts["title"], labels, widths, fmt)
    row = HEADER_ROW
    for item in snapshot.items:
        row += 1
        _text(ws, row, 0, item.ref, fmt.center)
        _text(ws, row, 1, item.name, fmt.text)
        _text(ws, row, 2, item.unit_name, fmt.text)
        _text(ws, row, 3, item.status_label, fmt.text)
        _number(ws, row, 4, item.percent, fmt.count)
        _number(ws, row, 5, item.approved, fmt.amount)
        _number(ws, row, 6, item.disbursed, fmt.amount)
        _number(ws, row, 7, item.disbursement_rate, fmt.rate)
        source = item.reported_in or ""
        if item.reported_in and not item.current:
            source = render_text(texts["stale"], period=item.reported_in)
        _text(ws, row, 8, source, fmt.center if item.current else fmt.warn)
        _text(ws, row, 9, item.problems, fmt.text)
        _text(ws, row, 10, item.proposals, fmt.text)
    plan = snapshot.plan
    row += 1
    ws.write_blank(row, 0, None, fmt.total_text)
    ws.write_string(row, 1, texts["total"], fmt.total_text)
    for c in (2, 3):
        ws.write_blank(row, c, None, fmt.total_text)
    _number(ws, row, 4, plan.weighted_percent, fmt.total_percent)
    ws.write_number(row, 5, plan.approved, fmt.total_amount)
    ws.write_number(row, 6, plan.disbursed, fmt.total_amount)
    _number(ws, row, 7, plan.disbursement_rate, fmt.total_rate)
    for c in (8, 9, 10):
        ws.write_blank(row, c, None, fmt.total_text)
    ws.autofilter(3, 0, row - 1, len(labels) - 1)


def _write_units(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = report_texts()["units"]
    columns = texts["columns"]
    statuses = [s for s in STATUS_ORDER if snapshot.plan.by_status.get(s)]
    labels = [render_text(columns[k], **_values(snapshot)) for k in columns]
    labels += [STATUS_LABELS.get(s, s) for s in statuses]
    widths = [12, 36, 10, 12, 17, 17, 12, 22] + [12] * len(statuses)
    _table_head(ws, snapshot, texts["title"], labels, widths, fmt)
    row = HEADER_ROW
    for unit in snapshot.units:
        row += 1
        _text(ws, row, 0, unit.unit_code, fmt.center)
        _text(ws, row, 1, unit.unit_name, fmt.text)
        ws.write_number(row, 2, unit.totals.items, fmt.count)
        _number(ws, row, 3, unit.totals.weighted_percent, fmt.percent)
        ws.write_number(row, 4, unit.totals.approved, fmt.amount)
        ws.write_number(row, 5, unit.totals.disbursed, fmt.amount)
        _number(ws, row, 6, unit.totals.disbursement_rate, fmt.rate)
        state_format = {"missing": fmt.bad, "late": fmt.warn, "on_time": fmt.good}.get(
            unit.report.state, fmt.center
        )
        _text(ws, row, 7, unit.report.label, state_format)
        for c, status in enumerate(statuses, start=8):
            ws.write_number(row, c, unit.totals.by_status.get(status, 0), fmt.count)
    plan = snapshot.plan
    row += 1
    ws.write_blank(row, 0, None, fmt.total_text)
    ws.write_string(row, 1, texts["total"], fmt.total_text)
    ws.write_number(row, 2, plan.items, fmt.total_count)
    _number(ws, row, 3, plan.weighted_percent, fmt.total_percent)
    ws.write_number(row, 4, plan.approved, fmt.total_amount)
    ws.write_number(row, 5, plan.disbursed, fmt.total_amount)
    _number(ws, row, 6, plan.disbursement_rate, fmt.total_rate)
    ws.write_blank(row, 7, None, fmt.total_text)
    for c, status in enumerate(statuses, start=8):
        ws.write_number(row, c, plan.by_status.get(status, 0), fmt.total_count)


def _write_indicators(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = report_texts()["indicators"]
    columns = texts["columns"]
    labels = [columns[k] for k in columns]
    widths = [10, 44, 12, 12, 14, 30, 12, 14, 16, 30]
    _table_head(ws, snapshot, texts["title"], labels, widths, fmt)
    if not snapshot.indicators:
        ws.write_string(HEADER_ROW + 1, 0, texts["none"], fmt.note)
        return
    levels = report_texts()["levels"]
    row = HEADER_ROW
    for result in snapshot.indicators:
        row += 1
        _text(ws, row, 0, result.code, fmt.center)
        _text(ws, row, 1, result.name, fmt.text)
        _text(ws, row, 2, levels.get(result.level, result.level), fmt.center)
        _text(ws, row, 3, result.comparator, fmt.center)
        _number(ws, row, 4, result.target, fmt.decimal)
        _text(ws, row, 5, result.unit_name, fmt.text)
        _number(ws, row, 6, result.value, fmt.decimal)
        met_text = (
            texts["met"] if result.met else texts["not_met"] if result.met is False else texts["no_value"]
        )
        met_format = fmt.good if result.met else fmt.bad if result.met is False else fmt.warn
        _text(ws, row, 7, met_text, met_format)
        _text(ws, row, 8, result.reported_in, fmt.center)
        _text(ws, row, 9, result.note, fmt.text)


def _write_missing(ws: Any, snapshot: ProgressSnapshot, fmt: _Formats) -> None:
    texts = report_texts()["missing"]
    columns = texts["columns"]
    labels = [columns[k] for k in columns]
    widths = [12, 40, 14, 14, 26, 12, 14]
    _table_head(ws, snapshot, texts["title"], labels, widths, fmt, frozen_columns=0)
    rows = [r for r in snapshot.reports if r.state in ("missing", "late", "not_due")]
    if not rows:
        ws.write_string(HEADER_ROW + 1, 0, texts["none"], fmt.note)
        return
    row = HEADER_ROW
    for state in rows:
        row += 1
        _text(ws, row, 0, state.unit_code, fmt.center)
        _text(ws, row, 1, state.unit_name, fmt.text)
        _text(ws, row, 2, state.deadline.strftime("%d/%m/%Y"), fmt.center)
        _text(ws, row, 3, state.submitted_on.strftime("%d/%m/%Y") if state.submitted_on else "", fmt.center)
        _text(ws, row, 4, state.label, fmt.bad if state.state == "missing" else fmt.warn)
        ws.write_number(row, 5, state.days_late, fmt.count)
        ws.write_number(row, 6, state.working_days_late, fmt.count)


def report_workbook_filename(snapshot: ProgressSnapshot) -> str:
    """ "BC-tien-do_2027_quarterly-2027-03-14_2027-04-01.xlsx": year, period and the day it was made."""
    return render_text(report_texts()["file_name"], **_values(snapshot) | {"slug": period_file_key(snapshot)})


def period_file_key(snapshot: ProgressSnapshot) -> str:
    """A file-name-safe key of the period from its kind and cut-off: ``quarterly-2027-03-14``."""
    return f"{snapshot.period_kind}-{snapshot.period_ends_on.isoformat()}"


def write_progress_workbook(snapshot: ProgressSnapshot, path: Path) -> Path:
    """Write the report to ``path`` (beside it first, then renamed: a reader never sees half a file)."""
    sheets = report_texts()["sheets"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    wb = xlsxwriter.Workbook(str(partial))
    fmt = _Formats(wb, snapshot.money_unit)
    summary = wb.add_worksheet(sheets["summary"])
    items = wb.add_worksheet(sheets["items"])
    units = wb.add_worksheet(sheets["units"])
    indicators = wb.add_worksheet(sheets["indicators"])
    missing = wb.add_worksheet(sheets["missing"])
    _write_summary(wb, summary, snapshot, fmt)
    _write_items(items, snapshot, fmt)
    _write_units(units, snapshot, fmt)
    _write_indicators(indicators, snapshot, fmt)
    _write_missing(missing, snapshot, fmt)
    wb.close()
    os.replace(partial, path)
    return path
