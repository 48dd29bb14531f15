"""The summary sheet ("Tổng hợp") of the consolidated plan's workbook: totals by funding source, new vs
carry-over, field and lead unit; the comparison with last year; envelopes; counts of findings; three native
charts fed by the tables' cells. Written top to bottom (xlsxwriter ``constant_memory`` mode)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.sheets import (
    FONT,
    SheetFormats,
    amount_format,
    heading_values,
    plan_annex_texts,
    print_setup,
    reference_line,
    text_column,
    wrapped_height,
    write_amount,
    write_line,
)
from tasks.excel.layout import render_text

SUMMARY_TOP_UNITS = 15  # units shown one by one in the summary table and chart; the rest in one row


@dataclass
class Range:
    """Rows (0-based, inclusive) of a table's body on the summary sheet, for a chart's series."""

    first: int
    last: int


class SummarySheet:
    """Writes the summary sheet top to bottom (constant_memory mode: rows strictly in order)."""

    FIRST_AMOUNT = 2  # column A: label, B: item count (or code), then one column per source

    def __init__(
        self, wb: Workbook, ws: Worksheet, plan: ConsolidatedPlan, fmt: SheetFormats, province_name: str
    ) -> None:
        self.wb = wb
        self.ws = ws
        self.plan = plan
        self.fmt = fmt
        self.all_texts = plan_annex_texts()
        self.texts = self.all_texts["summary"]
        self.values = heading_values(plan, province_name)
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

    def _breakdown(self, label_header: str, labels: list[str], frame: pd.DataFrame) -> Range:
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
                write_amount(
                    self.ws, self.row, self.FIRST_AMOUNT + offset, columns[offset][index], fmt.amount
                )
            self.ws.write_number(self.row, self.total_col, int(totals[index]), fmt.amount)
            self._share(self.row, int(totals[index]), grand, fmt.share)
            self.row += 1
        last = self.row - 1
        self._total_row(int(sum(int(c) for c in counts)))
        return Range(first, last)

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
        print_setup(ws, self.all_texts)
        width = 48 + 16 + 17 * (len(self.sources) + 1) + 10
        title = render_text(self.texts["title"], **self.values)
        write_line(
            ws,
            0,
            self.share_col,
            title,
            fmt.title,
            height=wrapped_height(title, width / 1.2, line_height=18),
        )
        self.row = 1
        write_line(
            ws,
            self.row,
            self.share_col,
            reference_line(plan, province_name=self.province_name),
            fmt.reference,
        )
        self.row += 1
        write_line(
            ws, self.row, self.share_col, render_text(self.texts["money_line"], **self.values), fmt.unit_line
        )
        self.row += 1
        write_line(
            ws,
            self.row,
            self.share_col,
            plan.rounding_rule_vi,
            fmt.note,
            height=wrapped_height(plan.rounding_rule_vi, width),
        )
        self.row += 1
        counts = render_text(
            self.texts["items_count"],
            items=len(plan.items),
            units=len(plan.by_unit),
            groups=len(plan.groups),
        )
        write_line(ws, self.row, self.share_col, counts, fmt.plain)
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
        field_labels = [str(n) if n else no_field for n in text_column(by_field, "field_name")]
        field_range = self._breakdown(self.texts["by_field"]["label"], field_labels, by_field)

        unit_range, full_units = self._by_unit()
        self._previous()
        self._envelopes()
        self._findings()
        if full_units is not None:
            self._full_unit_list(full_units)
        self._charts(source_range, field_range, unit_range)

    def _by_source(self) -> Range:
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
        return Range(first, last)

    def _by_unit(self) -> tuple[Range, pd.DataFrame | None]:
        texts = self.texts["by_unit"]
        by_unit = self.plan.by_unit
        ordered = by_unit.assign(_name=by_unit["lead_unit_name"].fillna("").astype(str)).sort_values(
            ["total", "_name"], ascending=[False, True], kind="stable"
        )
        top = ordered.head(SUMMARY_TOP_UNITS)
        rest = ordered.iloc[SUMMARY_TOP_UNITS:]
        self._section(render_text(texts["heading"], shown=len(top), others=len(rest) > 0))
        labels = text_column(top, "lead_unit_name")
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
                text_column(ordered, "lead_unit_name"), text_column(ordered, "lead_unit_code"), strict=True
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

    def _charts(self, sources: Range, fields: Range, units: Range) -> None:
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
            doughnut.set_title({"name": texts["by_source"], "name_font": {"name": FONT, "size": 12}})
            doughnut.set_legend({"position": "right", "font": {"name": FONT}})
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

    def _bars(self, title: str, rows: Range, height: int, number_format: str) -> Any:
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
                    "font": {"name": FONT, "size": 9},
                },
            }
        )
        chart.set_title({"name": title, "name_font": {"name": FONT, "size": 12}})
        chart.set_legend({"none": True})
        chart.set_x_axis({"num_format": number_format, "num_font": {"name": FONT, "size": 9}})
        # Bar charts draw the first category at the bottom: reversed, they read top-down like the table.
        chart.set_y_axis({"reverse": True, "num_font": {"name": FONT, "size": 9}})
        chart.set_size({"width": 620, "height": height})
        return chart
