"""Probable duplicates among proposals, found for the coordinator (never a burden on the submitting unit):

- items of different units that propose the same thing this year;
- items that repeat an item already funded in the plans of the last years (not linked as carry-over);
- items that duplicate a shared provincial platform (a configurable list: LGSP, the public-service portal,
  the document system…) proposed by a unit that does not run it.

Names are compared accent- and abbreviation-aware (``templates/frame/duplicates.yaml``: "CSDL" = "cơ sở dữ
liệu", "QLVB&ĐH" = "quản lý văn bản và điều hành"), after dropping years and filler words. The similarity
is the mean of the words' Jaccard index and their overlap coefficient (shared words over the shorter
name's words), in [0, 1]. Each finding carries its evidence: the names, units, amounts and similarity.
Precision and recall on a labelled set from the reference plans: tests/consolidation/test_duplicates.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tasks.common.text import fold
from templates import load_yaml

_YEAR = re.compile(r"\b(19|20)\d{2}\b")


def settings() -> dict[str, Any]:
    return load_yaml("frame/duplicates.yaml")


@lru_cache(maxsize=1)
def _abbreviations() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(rf"\b(?:{p})\b"), words) for p, words in settings()["abbreviations"].items())


@lru_cache(maxsize=65536)
def words(name: str) -> frozenset[str]:
    """The words that say what an item is: folded, abbreviations expanded, years and filler dropped."""
    text = _YEAR.sub(" ", fold(name).replace("&", " & "))
    for pattern, expanded in _abbreviations():
        text = pattern.sub(f" {expanded} ", text)
    stop = set(settings()["stop_words"])
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text) if w not in stop and len(w) > 1)


@lru_cache(maxsize=65536)
def batches(name: str) -> frozenset[str]:
    """Numbered parts a name states ("đợt 10", "giai đoạn 2", "gói thầu số 3"): different numbers mean
    different items however alike the rest of the names is."""
    markers = "|".join(settings()["batch_markers"])
    return frozenset(m.group(0) for m in re.finditer(rf"\b(?:{markers})\s+(?:so\s+)?\d+\b", fold(name)))


def similarity(a: str, b: str) -> float:
    first, second = words(a), words(b)
    if not first or not second:
        return 0.0
    if batches(a) and batches(b) and not batches(a) & batches(b):
        return 0.0
    shared = len(first & second)
    return round((shared / len(first | second) + shared / min(len(first), len(second))) / 2, 3)


def is_probable_duplicate(a: str, b: str) -> bool:
    return similarity(a, b) >= float(settings()["threshold"])


@dataclass(frozen=True)
class Candidate:
    """One item as the finder sees it."""

    ref: str
    name: str
    unit_code: str | None
    unit_name: str
    total: int
    year: int
    carry_over_from_id: int | None = None
    plan_item_id: int | None = None


@dataclass(frozen=True)
class DuplicatePair:
    kind: str  # same_year / previous / platform
    item: Candidate
    other: Candidate | None
    score: float
    platform: str | None = None


def same_year_pairs(items: list[Candidate]) -> list[DuplicatePair]:
    """Pairs of this year's items of different units whose names are alike, most similar first."""
    pairs = []
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if a.unit_code == b.unit_code:
                continue
            score = similarity(a.name, b.name)
            if score >= float(settings()["threshold"]):
                pairs.append(DuplicatePair("same_year", a, b, score))
    return sorted(pairs, key=lambda p: -p.score)


def previous_pairs(items: list[Candidate], funded: list[Candidate]) -> list[DuplicatePair]:
    """For each item not linked as carry-over, the most alike item funded in an earlier plan."""
    pairs = []
    for item in items:
        best: tuple[float, Candidate] | None = None
        for old in funded:
            if item.carry_over_from_id is not None and item.carry_over_from_id == old.plan_item_id:
                continue
            score = similarity(item.name, old.name)
            if score >= float(settings()["threshold"]) and (best is None or score > best[0]):
                best = (score, old)
        if best is not None and item.carry_over_from_id is None:
            pairs.append(DuplicatePair("previous", item, best[1], best[0]))
    return pairs


def platform_pairs(items: list[Candidate]) -> list[DuplicatePair]:
    """Items naming a shared provincial platform, proposed by a unit that does not run it."""
    pairs = []
    for item in items:
        folded = fold(item.name)
        for platform in settings()["platforms"]:
            if item.unit_code in platform.get("owners", []):
                continue
            if any(re.search(pattern, folded) for pattern in platform["patterns"]):
                pairs.append(DuplicatePair("platform", item, None, 1.0, platform["name"]))
                break
    return pairs


# ---------------------------------------------------------------- in the consolidated plan


def funded_items(*, session: Any, year: int) -> list[Candidate]:
    """Items of the issued plans of the last years (``previous_years``), not rejected, with an amount."""
    import sqlalchemy as sa

    from tasks.consolidation.frames import read_frame

    first = year - int(settings()["previous_years"])
    frame = read_frame(
        session,
        sa.text(
            "SELECT p.id AS plan_item_id, p.row_ref, p.name, c.year, u.code AS unit_code, "
            "u.name AS unit_name, "
            "COALESCE(SUM(COALESCE(a.approved_amount, a.amount)), 0) AS total "
            "FROM planitem AS p JOIN planningcycle AS c ON c.id = p.cycle_id "
            "JOIN unit AS u ON u.id = p.lead_unit_id LEFT JOIN planitemamount AS a ON a.item_id = p.id "
            "WHERE c.year >= :first AND c.year < :year AND p.rejected = :rejected "
            "AND c.status IN ('approved', 'implementing', 'closed') "
            "GROUP BY p.id, p.row_ref, p.name, c.year, u.code, u.name"
        ).bindparams(first=first, year=year, rejected=False),
        ["plan_item_id", "row_ref", "name", "year", "unit_code", "unit_name", "total"],
    )
    return [
        Candidate(
            ref=str(r.row_ref or ""),
            name=r.name,
            unit_code=r.unit_code,
            unit_name=r.unit_name,
            total=int(r.total or 0),
            year=int(r.year),
            plan_item_id=int(r.plan_item_id),
        )
        for r in frame.itertuples(index=False)
    ]


def _optional_id(value: Any) -> int | None:
    return None if value is None or value != value else int(value)  # NaN/NA from pandas is not equal


def plan_candidates(plan: Any) -> list[Candidate]:
    items = plan.items
    if not len(items):
        return []
    return [
        Candidate(
            ref=str(r.ref),
            name=r.name,
            unit_code=r.lead_unit_code,
            unit_name=r.lead_unit_name,
            total=int(r.total),
            year=plan.year,
            carry_over_from_id=None
            if r.carry_over_from_id != r.carry_over_from_id or r.carry_over_from_id is None
            else int(r.carry_over_from_id),
            plan_item_id=int(r.plan_item_id),
        )
        for r in items.itertuples(index=False)
    ]


def duplicate_findings(plan: Any, funded: list[Candidate]) -> list[Any]:
    """The probable duplicates of a consolidated plan as warnings with their evidence. Same-year pairs
    already reported by the plan's own name check (``possible_duplicate``) are not repeated."""
    from tasks.consolidation.consolidated import Finding
    from tasks.excel.layout import render_text

    texts = load_yaml("frame/texts.vi.yaml")["findings"]
    items = plan_candidates(plan)
    reported = [set(f.refs) for f in plan.findings if f.kind == "possible_duplicate"]
    findings = []

    def add(key: str, pair: DuplicatePair) -> None:
        other = pair.other
        values = {
            "ref": pair.item.ref,
            "name": pair.item.name,
            "unit": pair.item.unit_name,
            "amount": plan.money(pair.item.total),
            "money_unit": plan.money_unit_label,
            "other_ref": other.ref if other else "",
            "other_name": other.name if other else "",
            "other_unit": other.unit_name if other else "",
            "other_amount": plan.money(other.total) if other else "",
            "other_year": other.year if other else "",
            "similarity": f"{round(pair.score * 100)}",
            "platform": pair.platform or "",
        }
        refs = [pair.item.ref] + ([other.ref] if other and other.year == plan.year else [])
        units = list(dict.fromkeys([pair.item.unit_name] + ([other.unit_name] if other else [])))
        findings.append(
            Finding(
                "probable_duplicate",
                "warning",
                render_text(texts[key]["vi"], **values),
                render_text(texts[key]["en"], **values),
                refs,
                units,
            )
        )

    for pair in same_year_pairs(items):
        assert pair.other is not None
        if any({pair.item.ref, pair.other.ref} <= refs for refs in reported):
            continue
        add("duplicate_same_year", pair)
    for pair in previous_pairs(items, funded):
        add("duplicate_previous", pair)
    for pair in platform_pairs(items):
        add("duplicate_platform", pair)
    return findings
