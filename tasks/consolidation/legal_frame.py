"""The legal frame a plan lives in, read from dated data (``templates/frame/``): the KH&CN / ĐMST / CĐS
classes an item carries (and their sub-fields), the budget shares the plan must reach, and the legal texts
a plan cites ("Căn cứ"). Nothing here is a constant of the code: a province corrects the files.

- ``frame_for(year)``: the class list in force for a plan year (None before the 2026 frame).
- ``class_totals(items, sources)``: the plan's totals per class and per source (đồng).
- ``share_findings(plan, budget_total)``: each threshold in force for the plan year, as a finding with its
  legal basis, reached or below, once the province has entered its budget total. Never blocking.
- ``legal_bases_on(day)``: the texts in force on the plan's issue date, for the draft's "Căn cứ".
- ``stale_citations(text, day)``: the texts a draft cites that are not in force on that day, each with the
  text that replaced it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.common.text import fold
from tasks.errors import PlancycleError
from tasks.excel.layout import render_text
from templates import load_yaml

if TYPE_CHECKING:  # the unit workbook reads the class lists too, and consolidated.py reads the workbook
    import pandas as pd

    from tasks.consolidation.consolidated import ConsolidatedPlan, Finding, SourceInfo

UNCLASSIFIED = ""


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _in_force_in_year(
    entry: dict[str, Any], year: int, start: str = "valid_from", end: str = "valid_to"
) -> bool:
    """In force at some time in the plan year: from ≤ 31/12, to empty or ≥ 1/1."""
    begins, ends = _day(entry.get(start)), _day(entry.get(end))
    return (begins is None or begins <= date(year, 12, 31)) and (ends is None or ends >= date(year, 1, 1))


# ---------------------------------------------------------------- classes


@dataclass(frozen=True)
class FrameClass:
    code: str
    name: str
    subfields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Frame:
    source: str
    classes: tuple[FrameClass, ...]

    def class_names(self) -> dict[str, str]:
        return {c.code: c.name for c in self.classes}

    def subfield_names(self) -> dict[str, str]:
        return {code: name for c in self.classes for code, name in c.subfields}

    def subfield_class(self) -> dict[str, str]:
        return {code: c.code for c in self.classes for code, _name in c.subfields}


def frame_for(year: int) -> Frame | None:
    """The class list in force for the plan year (the latest that applies), or None."""
    lists = [entry for entry in load_yaml("frame/classes.yaml")["lists"] if _in_force_in_year(entry, year)]
    if not lists:
        return None
    chosen = max(lists, key=lambda entry: _day(entry.get("valid_from")) or date.min)
    return Frame(
        source=chosen["source"],
        classes=tuple(
            FrameClass(c["code"], c["name"], tuple((s["code"], s["name"]) for s in c.get("subfields", [])))
            for c in chosen["classes"]
        ),
    )


def class_totals(items: pd.DataFrame, sources: list[SourceInfo], frame: Frame | None) -> pd.DataFrame:
    """One row per class of the frame (in its order, then items without a class): ``class_code``,
    ``class_name``, ``items``, one column per source and ``total``, exact int64 đồng."""
    import pandas as pd  # here: the intake reads this module's frames and has no use for pandas

    names = frame.class_names() if frame else {}
    columns = [s.column for s in sources]
    codes = items["class_code"].fillna(UNCLASSIFIED) if "class_code" in items else pd.Series(dtype=object)
    rows = []
    for code in [*names, UNCLASSIFIED]:
        chosen = items[codes == code] if len(items) else items
        if code == UNCLASSIFIED and chosen.empty:
            continue
        row: dict[str, Any] = {
            "class_code": code,
            "class_name": names.get(code) or frame_texts()["unclassified"],
            "items": len(chosen),
        }
        for source, column in zip(sources, columns, strict=True):
            row[source.code] = int(chosen[column].fillna(0).astype("int64").sum()) if len(chosen) else 0
        row["total"] = int(chosen["total"].sum()) if len(chosen) else 0
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- shares


def frame_texts() -> dict[str, Any]:
    return load_yaml("frame/texts.vi.yaml")


def thresholds_for(year: int) -> list[dict[str, Any]]:
    return [t for t in load_yaml("frame/thresholds.yaml")["thresholds"] if _in_force_in_year(t, year)]


@dataclass
class Share:
    key: str
    classes: list[str]
    amount: int
    budget_total: int | None
    min_percent: float
    basis: str
    percent: float | None = field(default=None)

    @property
    def below(self) -> bool:
        return self.percent is not None and self.percent < self.min_percent


def shares(plan: ConsolidatedPlan, budget_total: int | None) -> list[Share]:
    """Each threshold in force for the plan year with the plan's amount for its classes."""
    by_class = (
        dict(zip(plan.by_class["class_code"], plan.by_class["total"], strict=True))
        if len(plan.by_class)
        else {}
    )
    found = []
    for threshold in thresholds_for(plan.year):
        amount = sum(int(by_class.get(code, 0)) for code in threshold["classes"])
        percent = amount * 100 / budget_total if budget_total else None
        found.append(
            Share(
                threshold["key"],
                list(threshold["classes"]),
                amount,
                budget_total,
                float(threshold["min_percent"]),
                threshold["basis"],
                None if percent is None else round(percent, 2),
            )
        )
    return found


def share_findings(plan: ConsolidatedPlan, budget_total: int | None) -> list[Finding]:
    """The share of each threshold as a finding naming its legal basis; never an error."""
    from tasks.consolidation.consolidated import Finding

    texts = frame_texts()["findings"]
    names = frame_for(plan.year).class_names() if frame_for(plan.year) else {}
    findings: list[Finding] = []
    if budget_total is None:  # the class sheet and the draft say it is missing; no finding without a share
        return findings
    for share in shares(plan, budget_total):
        values = {
            "classes": ", ".join(names.get(c, c) for c in share.classes),
            "amount": plan.money(share.amount),
            "money_unit": plan.money_unit_label,
            "budget": plan.money(share.budget_total) if share.budget_total else "",
            "percent": f"{share.percent:.2f}".replace(".", ",") if share.percent is not None else "",
            "min_percent": f"{share.min_percent:g}".replace(".", ","),
            "basis": share.basis,
            "year": plan.year,
        }
        kind = (
            "share_no_budget"
            if share.budget_total is None
            else ("share_below" if share.below else "share_met")
        )
        findings.append(
            Finding(
                kind,
                "warning",
                render_text(texts[kind]["vi"], **values),
                render_text(texts[kind]["en"], **values),
            )
        )
    return findings


# ---------------------------------------------------------------- legal bases


@dataclass(frozen=True)
class LegalText:
    key: str
    citation: str
    match: str
    in_force_from: date | None
    in_force_to: date | None
    replaced_by: str | None

    def in_force(self, day: date) -> bool:
        return (self.in_force_from is None or self.in_force_from <= day) and (
            self.in_force_to is None or self.in_force_to >= day
        )


def legal_texts() -> list[LegalText]:
    return [
        LegalText(
            t["key"],
            t["citation"],
            t["match"],
            _day(t.get("in_force_from")),
            _day(t.get("in_force_to")),
            t.get("replaced_by"),
        )
        for t in load_yaml("frame/legal_bases.yaml")["texts"]
    ]


def legal_bases_on(day: date) -> list[LegalText]:
    """The texts in force on ``day``, in the file's order: the draft's "Căn cứ" list."""
    return [t for t in legal_texts() if t.in_force(day)]


@dataclass(frozen=True)
class StaleCitation:
    cited: LegalText
    replacement: LegalText | None
    line: str


def stale_citations(text: str, day: date) -> list[StaleCitation]:
    """Citations in ``text`` (one per line) of texts not in force on ``day``, with their replacement.
    A line citing a text in force (e.g. "Luật Chuyển đổi số") is never flagged for a text it also names."""
    by_key = {t.key: t for t in legal_texts()}
    found: list[StaleCitation] = []
    for line in text.splitlines():
        folded = fold(line)
        if not folded:
            continue
        current = [t for t in by_key.values() if t.in_force(day) and re.search(t.match, folded)]
        if current:
            continue
        for legal in by_key.values():
            if legal.in_force(day) or not re.search(legal.match, folded):
                continue
            replacement = by_key.get(legal.replaced_by or "")
            found.append(StaleCitation(legal, replacement, line.strip()))
            break
    return found


def draft_bases(configured: list[str], day: date) -> list[str]:
    """The draft's national "Căn cứ": the dated texts in force on ``day``, then the configured lines
    (templates/documents/plan_document.vi.yaml) that cite none of the dated texts (in force or not: a
    stale one is replaced by the dated list, see ``configured_findings``)."""
    dated = legal_texts()
    lines = [t.citation for t in dated if t.in_force(day)]
    for line in configured:
        folded = fold(line)
        if not any(re.search(t.match, folded) for t in dated):
            lines.append(line)
    return lines


def configured_findings(configured: list[str], day: date) -> list[Finding]:
    """Warnings for configured bases that are no longer in force on ``day`` (left out of the draft)."""
    return stale_findings("\n".join(configured), day, kind="stale_configured_basis")


def stale_findings(text: str, day: date, *, kind: str = "stale_basis") -> list[Finding]:
    """``stale_citations`` as warnings, each proposing the text in force."""
    from tasks.consolidation.consolidated import Finding

    texts = frame_texts()["findings"][kind]
    findings = []
    for stale in stale_citations(text, day):
        values = {
            "cited": stale.line,
            "date": day.strftime("%d/%m/%Y"),
            "until": stale.cited.in_force_to.strftime("%d/%m/%Y") if stale.cited.in_force_to else "",
            "replacement": stale.replacement.citation if stale.replacement else "",
        }
        findings.append(
            Finding(
                kind,
                "warning",
                render_text(texts["vi"], **values),
                render_text(texts["en"], **values),
            )
        )
    return findings


class DraftError(PlancycleError):
    """A draft that cannot be read (templates/errors/frame.yaml)."""

    catalog = "frame"


def draft_lines(path: str | Path) -> list[str]:
    """The paragraphs (and table cells) of a Word draft, as lines of text."""
    from docx import Document

    try:
        document = Document(str(path))
    except Exception:  # python-docx raises several kinds on a file that is not a .docx
        raise DraftError("no_draft", file=Path(path).name) from None
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines += [cell.text for row in table.rows for cell in row.cells]
    return [line for line in lines if line.strip()]


def check_draft_bases(path: str | Path, day: date) -> list[Finding]:
    """Every legal text a Word draft cites that is not in force on ``day``, with the one to cite."""
    return stale_findings("\n".join(draft_lines(path)), day)
