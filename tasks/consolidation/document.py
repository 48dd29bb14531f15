"""The draft plan document (DỰ THẢO Kế hoạch …/KH-UBND) as a Word file, in the administrative style of
Decree 30/2020/NĐ-CP.

``write_plan_document`` lays out a ``ConsolidatedPlan``: the two-column header (issuing body and number;
national title, motto, place and date), the title, six sections (I. bases; II. last year's results from
Annex 01; III. objectives; IV. tasks, with the group table and the funding paragraph "Tổng kinh phí năm
…: … (Bằng chữ: …)" source by source; V. solutions; VI. organisation) and the signature block with the
distribution list. Every sentence comes from ``templates/documents/plan_document.vi.yaml``; this module
only decides which sentences apply and fills them with the plan's figures. Where the data does not exist
yet (no guidance letter recorded, no coordinator, no signer, no previous plan…) the text carries a visible
placeholder, "[Cơ quan chủ trì bổ sung: …]", highlighted in yellow.

Figures are shown in the plan's display unit (``format_money``); amounts in words are spoken from the
exact đồng (``money_in_words``), so they never carry a display rounding.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_COLOR_INDEX
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from jinja2 import Template

from models.base import ItemStatus
from tasks.common.money import money_in_words
from tasks.common.numbers import share_percent
from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.dated import agency_names, recipient_lines, reference_date
from tasks.consolidation.legal_frame import draft_bases, frame_for, frame_texts
from tasks.consolidation.word import (
    add_border,
    add_page_field,
    no_borders,
    repeat_header,
    set_column_widths,
    set_fonts,
    set_language,
)
from templates import environment, load_yaml

BODY_STYLE = "Plan Body"
CELL_STYLE = "Plan Cell"
SECTION_STYLE = "Heading 1"
SUBSECTION_STYLE = "Heading 2"
A4_MM = (210, 297)


def document_texts() -> dict[str, Any]:
    """The document's sentences and layout settings: templates/documents/plan_document.vi.yaml."""
    return load_yaml("documents/plan_document.vi.yaml")


@lru_cache(maxsize=512)
def _compiled(template: str) -> Template:
    # Not tasks.submissions.workbook.render_text: its first parameter is called ``text``, a name these
    # templates use.
    return environment().from_string(template)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _optional_int(value: Any) -> int | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return int(value)


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return nfc(str(value)).strip()


# ---------------------------------------------------------------- the writer


class _PlanDocument:
    """Lays out one plan. Python decides which sentences apply; the YAML says them."""

    def __init__(self, plan: ConsolidatedPlan, province_name: str, issued: bool = False) -> None:
        self.plan = plan
        # the issued plan: number, date and signer of the decision, no draft mark, no gap to fill
        self.issued = issued and bool(plan.decision_number)
        self.texts = document_texts()
        self.layout = self.texts["layout"]
        self.province = nfc(province_name.strip())
        self.previous_year = plan.previous_year or plan.year - 1
        prefix, _, suffix = self._render(self.texts["placeholder"], what="\x00").partition("\x00")
        self._placeholder_pattern = re.compile(f"({re.escape(prefix)}.*?{re.escape(suffix)})")
        self.context: dict[str, Any] = {
            "province": self.province,
            "year": plan.year,
            "title": _text(plan.title),
            "previous_year": self.previous_year,
            "unit_label": plan.money_unit_label,
            "as_of": plan.as_of,
            "placeholder": self.placeholder,
            "in_words": money_in_words,
            "percent": share_percent,
        }
        self.on = reference_date(year=plan.year, settings=plan.settings, decision_date=plan.decision_date)
        self.context["agency"] = agency_names(self.on, plan.settings)
        self.context["finance_department"] = self.t(self.texts["finance_department"])
        self.context["coordinator"] = _text(plan.coordinator_name) or self.placeholder(
            self.t(self.texts["organisation"]["coordinator_missing"])
        )
        self.doc: DocxDocument = Document()

    # text

    def _render(self, template: str, /, **values: Any) -> str:
        return nfc(_compiled(template).render(**values))

    def t(self, template: str, /, **values: Any) -> str:
        """One sentence of the YAML, rendered with the document's context and ``values``."""
        return self._render(template, **(self.context | values))

    def placeholder(self, what: str) -> str:
        if getattr(self, "issued", False):
            return ""  # the issued plan has no gap marks: what was not filled in is left out
        return self._render(self.texts["placeholder"], what=what)

    def money(self, amount: int) -> str:
        return self.plan.money(int(amount))

    # paragraphs

    def _runs(self, paragraph: Paragraph, text: str, **style: Any) -> Paragraph:
        """Add ``text`` as runs; placeholders become highlighted runs of their own."""
        if self.issued and not text.strip(" -–;.:"):
            return paragraph  # a line that held only a gap mark
        for piece in self._placeholder_pattern.split(text):
            if not piece:
                continue
            run = paragraph.add_run(piece)
            run.bold = style.get("bold")
            run.italic = style.get("italic")
            if style.get("size"):
                run.font.size = Pt(style["size"])
            if self._placeholder_pattern.fullmatch(piece):
                run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        return paragraph

    def body(self, text: str, **style: Any) -> Paragraph:
        return self._runs(self.doc.add_paragraph(style=BODY_STYLE), text, **style)

    def heading(self, text: str, level: int = 1) -> Paragraph:
        style = SECTION_STYLE if level == 1 else SUBSECTION_STYLE
        return self._runs(self.doc.add_paragraph(style=style), text)

    def subsection(self, heading: str, lines: list[str]) -> None:
        """A level-2 heading and its paragraphs, each a sentence of the YAML."""
        self.heading(self.t(heading), level=2)
        for line in lines:
            self.body(self.t(line))

    def centred(self, container: Any, text: str, **style: Any) -> Paragraph:
        paragraph = container.add_paragraph(style=CELL_STYLE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        return self._runs(paragraph, text, **style)

    def rule(self, container: Any, *, width_mm: float, length_mm: float) -> Paragraph:
        """A short centred line under a heading block (the "gạch ngang" of Decree 30)."""
        paragraph = container.add_paragraph(style=CELL_STYLE)
        margin = Mm(max(0.0, (width_mm - length_mm) / 2))
        paragraph.paragraph_format.left_indent = margin
        paragraph.paragraph_format.right_indent = margin
        paragraph.paragraph_format.space_after = Pt(0)
        add_border(paragraph, "top")
        return paragraph

    def cell(self, cell: _Cell, text: str, *, align: Any = None, **style: Any) -> Paragraph:
        paragraph = cell.paragraphs[0]
        paragraph.style = self.doc.styles[CELL_STYLE]
        if align is not None:
            paragraph.alignment = align
        return self._runs(paragraph, text, **style)

    @property
    def text_width_mm(self) -> float:
        margins = self.layout["margins_mm"]
        return A4_MM[0] - margins["left"] - margins["right"]

    # page and styles

    def setup(self) -> None:
        layout = self.layout
        section = self.doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(A4_MM[0]), Mm(A4_MM[1])
        margins = layout["margins_mm"]
        section.top_margin = Mm(margins["top"])
        section.bottom_margin = Mm(margins["bottom"])
        section.left_margin = Mm(margins["left"])
        section.right_margin = Mm(margins["right"])
        section.header_distance = Mm(10)
        section.footer_distance = Mm(10)
        font, size = layout["font"], layout["size_pt"]

        defaults = self.doc.styles.element.find(qn("w:docDefaults"))
        if defaults is not None:
            rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
            if rpr is not None:
                set_fonts(rpr, font)
        styles = self.doc.styles
        normal = styles["Normal"]
        normal.font.name = font
        normal.font.size = Pt(size)
        set_fonts(normal.element.get_or_add_rPr(), font)
        set_language(normal.element.get_or_add_rPr())
        normal.paragraph_format.space_before = Pt(0)
        normal.paragraph_format.space_after = Pt(0)
        normal.paragraph_format.line_spacing = 1.0

        body = styles.add_style(BODY_STYLE, WD_STYLE_TYPE.PARAGRAPH)
        body.base_style = normal
        body.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        body.paragraph_format.first_line_indent = Cm(layout["first_line_indent_cm"])
        body.paragraph_format.space_after = Pt(layout["space_after_pt"])
        body.paragraph_format.line_spacing = layout["line_spacing"]

        cell = styles.add_style(CELL_STYLE, WD_STYLE_TYPE.PARAGRAPH)
        cell.base_style = normal
        cell.font.size = Pt(layout["small_size_pt"])

        for name in (SECTION_STYLE, SUBSECTION_STYLE):
            heading = styles[name]
            rpr = heading.element.get_or_add_rPr()
            set_fonts(rpr, font)
            color = rpr.find(qn("w:color"))
            if color is not None:
                rpr.remove(color)
            heading.font.color.rgb = RGBColor(0, 0, 0)
            heading.font.size = Pt(size)
            heading.font.bold = True
            heading.font.italic = False
            fmt = heading.paragraph_format
            fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            fmt.first_line_indent = Cm(layout["first_line_indent_cm"])
            fmt.space_before = Pt(layout["space_after_pt"])
            fmt.space_after = Pt(layout["space_after_pt"])
            fmt.line_spacing = layout["line_spacing"]
            fmt.keep_with_next = True

        # Page numbers: centred in the top margin, not on the first page (Decree 30, Annex I).
        section.different_first_page_header_footer = True
        number = section.header.paragraphs[0]
        number.style = styles[CELL_STYLE]
        number.alignment = WD_ALIGN_PARAGRAPH.CENTER
        add_page_field(number)
        properties = self.doc.core_properties
        properties.language = "vi-VN"
        if self.issued:
            properties.title = nfc(self.plan.title)
            return
        # The draft mark, boxed, on the first page only.
        mark = section.first_page_header.paragraphs[0]
        mark.style = styles[CELL_STYLE]
        mark.alignment = WD_ALIGN_PARAGRAPH.CENTER
        mark.paragraph_format.left_indent = Mm(self.text_width_mm - 38)
        add_border(mark, "top", "left", "bottom", "right", size=8)
        self._runs(mark, self.t(self.texts["draft_mark"]), bold=True)
        note = section.first_page_header.add_paragraph(style=CELL_STYLE)
        note.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        self._runs(note, self.t(self.texts["draft_note"]), italic=True, size=layout["tiny_size_pt"])

        properties.title = nfc(f"{self.t(self.texts['draft_mark'])} {self.plan.title}")

    # blocks

    def header_block(self) -> None:
        texts, layout = self.texts["header"], self.layout
        small = layout["small_size_pt"]
        left, right = 62.0, self.text_width_mm - 62.0
        table = self.doc.add_table(rows=2, cols=2)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        no_borders(table)
        set_column_widths(table, [left, right])
        issuer = table.cell(0, 0)
        self.cell(
            issuer, self.t(texts["issuer_parent"]), align=WD_ALIGN_PARAGRAPH.CENTER, bold=True, size=small
        )
        self.centred(issuer, self.t(texts["issuer"]), bold=True, size=small)
        self.rule(issuer, width_mm=left, length_mm=left / 3)
        nation = table.cell(0, 1)
        self.cell(nation, self.t(texts["nation"]), align=WD_ALIGN_PARAGRAPH.CENTER, bold=True, size=small)
        self.centred(nation, self.t(texts["motto"]), bold=True, size=layout["size_pt"])
        self.rule(nation, width_mm=right, length_mm=62)
        issued = self.issued_values()
        number = self.cell(
            table.cell(1, 0),
            self.t(texts["number_issued" if issued else "number"], **issued),
            align=WD_ALIGN_PARAGRAPH.CENTER,
        )
        number.paragraph_format.space_before = Pt(6)
        place = self.cell(
            table.cell(1, 1),
            self.t(
                texts["place_date_issued" if issued and self.plan.decision_date else "place_date"], **issued
            ),
            align=WD_ALIGN_PARAGRAPH.CENTER,
            italic=True,
            size=layout["size_pt"],
        )
        place.paragraph_format.space_before = Pt(6)

    def issued_values(self) -> dict[str, Any]:
        """The decision's number and date as the issued plan prints them (empty for a draft)."""
        if not self.issued:
            return {}
        return {"decision_number": _text(self.plan.decision_number), "decision_date": self.plan.decision_date}

    def title_block(self) -> None:
        texts, size = self.texts["title"], self.layout["size_pt"]
        kind = self.centred(self.doc, self.t(texts["kind"]), bold=True, size=size)
        kind.paragraph_format.space_before = Pt(18)
        title = _text(self.plan.title)
        for prefix in texts["drop_prefixes"]:
            if title.startswith(nfc(prefix)) and len(title) > len(prefix):
                title = title[len(prefix) :].strip()
                break
        title = title[:1].upper() + title[1:]
        self.centred(self.doc, title, bold=True, size=size)
        number = _text(self.plan.decision_number)
        if number and not (self.issued and self.texts["header"]["own_number_mark"] in number):
            self.centred(
                self.doc,
                self.t(
                    texts["issued_with"],
                    decision_number=_text(self.plan.decision_number),
                    decision_date=self.plan.decision_date,
                ),
                italic=True,
                size=size,
            )
        self.rule(self.doc, width_mm=self.text_width_mm, length_mm=40).paragraph_format.space_after = Pt(12)

    def section_bases(self) -> None:
        texts = self.texts["bases"]
        self.heading(self.t(self.texts["sections"]["bases"]))
        lines = [self.t(text) for text in draft_bases(texts["national"], self.on)]
        reference = _text(self.plan.guidance_reference)
        if reference:
            lines.append(self.t(texts["guidance"], guidance_reference=reference))
        else:
            lines.append(self.placeholder(self.t(texts["guidance_missing"])))
        provincial = [self.t(text) for text in texts["provincial"] or []]
        lines += provincial or [self.placeholder(self.t(texts["provincial_missing"]))]
        for index, text in enumerate(lines):
            self.body(self.t(texts["line"], text=text, last=index == len(lines) - 1))

    def section_results(self) -> None:
        texts, plan = self.texts["results"], self.plan
        self.heading(self.t(self.texts["sections"]["results"]))
        annex = plan.annex01
        if plan.previous_year is None:
            self.body(self.t(texts["no_previous"]))
            return
        if annex is None or annex.empty:
            self.body(self.t(texts["empty_previous"]))
            return
        items = len(annex)
        previous_total = (plan.previous_totals or {}).get("total", int(annex["total"].sum()))
        self.heading(self.t(texts["overview_heading"]), level=2)
        self.body(self.t(texts["overview"], items=items, total=self.money(previous_total)))
        order = {status: rank for rank, status in enumerate(texts["status_order"])}
        counts = (
            annex.groupby("status", sort=False)
            .agg(count=("status", "size"), label=("status_label", "first"))
            .reset_index()
        )
        counts["rank"] = counts["status"].map(order).fillna(len(order))
        counts = counts.sort_values(["rank", "label"], kind="stable")
        for index, row in enumerate(counts.itertuples(index=False)):
            self.body(
                self.t(
                    texts["status_line"],
                    label=_text(row.label),
                    count=int(row.count),
                    items=items,
                    last=index == len(counts) - 1,
                )
            )
        carried = int(annex["carried_over"].sum()) if "carried_over" in annex else 0
        if carried:
            self.body(self.t(texts["carried_over"], count=carried))
        self.heading(self.t(texts["open_heading"]), level=2)
        open_items = annex[annex["status"] != ItemStatus.completed.value]
        if open_items.empty:
            self.body(self.t(texts["all_done"]))
        for index, row in enumerate(open_items.itertuples(index=False)):
            reason = _text(row.note) or self.placeholder(self.t(texts["reason_missing"]))
            self.body(
                self.t(
                    texts["open_line"],
                    ref=_text(row.ref),
                    name=_text(row.name),
                    lead_unit=_text(row.lead_unit_name),
                    status=_text(row.status_label),
                    percent_complete=_optional_int(row.percent_complete),
                    reason=reason,
                    last=index == len(open_items) - 1,
                )
            )
        self.body(self.t(texts["annex"]), italic=True)
        self.heading(self.t(texts["assessment_heading"]), level=2)
        self.body(self.t(texts["assessment"]))

    def section_objectives(self) -> None:
        texts, plan = self.texts["objectives"], self.plan
        self.heading(self.t(self.texts["sections"]["objectives"]))
        self.subsection(texts["general_heading"], texts["general"])
        self.heading(self.t(texts["specific_heading"]), level=2)
        total = plan.grand_totals.get("total", 0)
        if len(plan.items):
            self.body(
                self.t(
                    texts["items"], items=len(plan.items), units=len(plan.by_unit), total=self.money(total)
                )
            )
            origin = plan.by_origin.set_index("origin") if len(plan.by_origin) else pd.DataFrame()
            carry_count = int(origin["items"].get("carry_over", 0)) if len(origin) else 0
            carry_amount = int(origin["total"].get("carry_over", 0)) if len(origin) else 0
            new_count = len(plan.items) - carry_count
            if carry_count:
                self.body(
                    self.t(
                        texts["carry_over"],
                        count=carry_count,
                        amount=self.money(carry_amount),
                        amount_dong=carry_amount,
                        total_dong=total,
                        new_count=new_count,
                    )
                )
            else:
                self.body(self.t(texts["no_carry_over"], new_count=new_count))
        self.body(self.t(texts["targets"]))

    def section_tasks(self) -> None:
        texts, plan = self.texts["tasks"], self.plan
        self.heading(self.t(self.texts["sections"]["tasks"]))
        self.heading(self.t(texts["list_heading"]), level=2)
        if not len(plan.items):
            self.body(self.t(texts["no_items"]))
        else:
            grouping = self.t(texts["grouping"].get(plan.grouping, texts["grouping"]["lead_unit"]))
            self.body(self.t(texts["list"], items=len(plan.items), grouping=grouping))
            self.group_table()
        self.heading(self.t(texts["funding_heading"]), level=2)
        total = int(plan.grand_totals.get("total", 0))
        sources = [(s, int(plan.grand_totals.get(s.code, 0))) for s in plan.sources]
        sources = [(s, amount) for s, amount in sources if amount]
        self.body(
            self.t(
                texts["funding_total"], total=self.money(total), total_dong=total, has_sources=bool(sources)
            )
        )
        if sources:
            self.body(self.t(texts["funding_of_which"]))
        for index, (source, amount) in enumerate(sources):
            self.body(
                self.t(
                    texts["funding_source"],
                    name=_text(source.name),
                    amount=self.money(amount),
                    amount_dong=amount,
                    last=index == len(sources) - 1,
                )
            )
        if len(plan.items):
            unstated = plan.items[plan.items["unstated_sources"] != ""]
            if len(unstated):
                refs = ", ".join(_text(ref) for ref in unstated["ref"])
                self.body(self.t(texts["unstated"], count=len(unstated), refs=refs))
        if plan.previous_totals is not None:
            previous_total = int(plan.previous_totals.get("total", 0))
            change = total - previous_total
            self.body(
                self.t(
                    texts["comparison"],
                    previous_total=self.money(previous_total),
                    previous_total_dong=previous_total,
                    change=self.money(abs(change)),
                    change_dong=change,
                )
            )
        self.class_lines()

    def class_lines(self) -> None:
        """Totals per KH&CN / ĐMST / CĐS class and source, and each share finding (2026 frame on)."""
        plan = self.plan
        if frame_for(plan.year) is None or not len(plan.by_class):
            return
        words = frame_texts()["document"]
        self.body(self.t(words["heading"]) + ":")
        for record in plan.by_class.to_dict("records"):
            by_source = [
                f"{_text(s.name)} {self.money(int(record[s.code]))}" for s in plan.sources if record[s.code]
            ]
            self.body(
                self.t(
                    words["line"],
                    name=record["class_name"],
                    count=record["items"],
                    total=self.money(int(record["total"])),
                    money_unit=plan.money_unit_label,
                    sources=f" ({'; '.join(by_source)})" if by_source else "",
                )
            )
        for finding in plan.findings:
            if finding.kind in ("share_met", "share_below"):
                self.body(self.t(words["share"], message=finding.message_vi))

    def group_table(self) -> None:
        texts, plan = self.texts["tasks"], self.plan
        unit_line = self.body(self.t(texts["money_unit"]), italic=True)
        unit_line.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        unit_line.paragraph_format.space_after = Pt(0)
        columns = texts["columns"]
        label_column = columns["field"] if plan.grouping == "field" else columns["lead_unit"]
        headers = [columns["stt"], label_column, columns["items"], columns["total"]]
        table = self.doc.add_table(rows=1, cols=4)
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        set_column_widths(table, [15, self.text_width_mm - 15 - 32 - 38, 32, 38])
        for cell, text in zip(table.rows[0].cells, headers, strict=True):
            self.cell(cell, self.t(text), align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
        repeat_header(table)
        if plan.grouping == "none":  # a flat list: the table sums by lead unit
            rows = [
                (str(n), _text(u.lead_unit_name), int(u.items), int(u.total))
                for n, u in enumerate(plan.by_unit.itertuples(index=False), start=1)
            ]
        else:
            rows = [
                (_text(g.group_roman), _text(g.group_label), int(g.items), int(g.total))
                for g in plan.groups.itertuples(index=False)
            ]
        for number, label, count, amount in rows:
            cells = table.add_row().cells
            self.cell(cells[0], number, align=WD_ALIGN_PARAGRAPH.CENTER)
            self.cell(cells[1], label)
            self.cell(cells[2], str(count), align=WD_ALIGN_PARAGRAPH.CENTER)
            self.cell(cells[3], self.money(amount), align=WD_ALIGN_PARAGRAPH.RIGHT)
        cells = table.add_row().cells
        self.cell(cells[1], self.t(texts["total_row"]), align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
        self.cell(cells[2], str(len(plan.items)), align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
        total = int(plan.grand_totals.get("total", 0))
        self.cell(cells[3], self.money(total), align=WD_ALIGN_PARAGRAPH.RIGHT, bold=True)
        for row in table.rows:
            for cell in row.cells:
                cell.vertical_alignment = WD_ALIGN_VERTICAL.CENTER
        self.doc.add_paragraph(style=CELL_STYLE)  # air between the table and the next paragraph

    def section_solutions(self) -> None:
        self.heading(self.t(self.texts["sections"]["solutions"]))
        for block in self.texts["solutions"]:
            self.subsection(block["heading"], block["lines"])

    def section_organisation(self) -> None:
        texts, plan = self.texts["organisation"], self.plan
        self.heading(self.t(self.texts["sections"]["organisation"]))
        self.subsection(texts["coordinator_heading"], texts["coordinator"])
        self.subsection(texts["finance_heading"], texts["finance"])
        self.heading(self.t(texts["units_heading"]), level=2)
        if not len(plan.by_unit):
            self.body(self.t(texts["no_units"]))
        else:
            self.body(self.t(texts["units_intro"]))
            for index, unit in enumerate(plan.by_unit.itertuples(index=False)):
                self.body(
                    self.t(
                        texts["unit_line"],
                        name=_text(unit.lead_unit_name),
                        items=int(unit.items),
                        total=self.money(int(unit.total)),
                        last=index == len(plan.by_unit) - 1,
                    )
                )
            partners = self.partner_units()
            if partners:
                self.body(self.t(texts["partners_line"], names=", ".join(partners)))
        self.heading(self.t(texts["reporting_heading"]), level=2)
        self.body(self.t(texts["reporting"]))
        self.body(self.t(texts["closing"]))

    def partner_units(self) -> list[str]:
        """The partner units (đơn vị phối hợp) named by the plan's items, each once, in plan order."""
        items = self.plan.items
        names: list[str] = []
        if "coordinating_units" not in items.columns:
            return names
        for value in items["coordinating_units"].dropna():
            for name in str(value).split(";"):
                name = name.strip()
                if name and name not in names:
                    names.append(name)
        return names

    def signature_block(self) -> None:
        texts, layout = self.texts["signature"], self.layout
        size = layout["size_pt"]
        left = 85.0
        table = self.doc.add_table(rows=1, cols=2)
        no_borders(table)
        set_column_widths(table, [left, self.text_width_mm - left])
        recipients, signer = table.cell(0, 0), table.cell(0, 1)
        label = self.cell(recipients, self.t(texts["recipients_label"]), bold=True, italic=True)
        label.runs[0].font.size = Pt(layout["tiny_size_pt"])
        label.paragraph_format.space_before = Pt(6)
        lines = recipient_lines(self.on, self.plan.settings)
        for index, text in enumerate(lines):
            line = recipients.add_paragraph(style=CELL_STYLE)
            self._runs(
                line,
                self.t(texts["recipient_line"], text=self.t(text), last=index == len(lines) - 1),
                size=layout["list_size_pt"],
            )
        first = self.cell(
            signer, self.t(texts["on_behalf"]), align=WD_ALIGN_PARAGRAPH.CENTER, bold=True, size=size
        )
        first.paragraph_format.space_before = Pt(6)
        self.centred(signer, self.t(texts["for_chair"]), bold=True, size=size)
        self.centred(signer, self.t(texts["position"]), bold=True, size=size)
        space = signer.add_paragraph(style=CELL_STYLE)
        for _ in range(3):
            space.add_run().add_break(WD_BREAK.LINE)
        name = _text(self.plan.decision_signer) or self.placeholder(self.t(texts["signer_missing"]))
        self.centred(signer, name, bold=True, size=size)

    def write(self, path: Path) -> Path:
        self.setup()
        self.header_block()
        self.title_block()
        self.section_bases()
        self.section_results()
        self.section_objectives()
        self.section_tasks()
        self.section_solutions()
        self.section_organisation()
        self.signature_block()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.doc.save(str(path))
        return path


def write_plan_document(
    plan: ConsolidatedPlan, path: Path, *, province_name: str, issued: bool = False
) -> Path:
    """Write the draft plan (DỰ THẢO Kế hoạch …/KH-UBND) of ``plan`` to ``path`` (.docx) and return it;
    with ``issued`` (and the plan's decision number set), the issued plan: its number and date in the
    header, the signer's name, no "DỰ THẢO" mark and no gap marks.

    Deterministic and safe to run twice: the same plan gives the same text, and the file is replaced.
    ``province_name`` is the province as the documents write it ("Gia Lai"; settings.province_name).
    """
    return _PlanDocument(plan, province_name, issued=issued).write(Path(path))


# Exposed for the tests and for callers that show the same gaps elsewhere (e.g. a checklist).
def placeholder_text(what: str) -> str:
    """A gap to fill, marked as the document marks it: "[Cơ quan chủ trì bổ sung: …]"."""
    return nfc(_compiled(document_texts()["placeholder"]).render(what=what))


__all__ = ["document_texts", "placeholder_text", "write_plan_document"]
