"""The checks of a consolidated plan, run before anyone signs: amounts named without a figure, items without
money, the same project proposed by two units, carry-over reconciliation with last year's plan (both ways),
and envelopes exceeded. Each finding names the items involved; its words are in
``templates/workbook/consolidation.yaml``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pandas as pd

from models.base import ItemOrigin
from tasks.common.text import strip_accents
from tasks.consolidation.consolidated import (
    CLOSED_STATUSES,
    ConsolidatedPlan,
    Finding,
    consolidation_texts,
)
from tasks.excel.layout import render_text

_STOP_WORDS = {
    "nam",
    "giai",
    "doan",
    "cua",
    "cho",
    "tai",
    "va",
    "cac",
    "tren",
    "dia",
    "ban",
    "tinh",
    "trong",
    "phuc",
    "vu",
    "de",
}
_YEAR = re.compile(r"\b(19|20)\d{2}\b")


def name_tokens(name: str) -> frozenset[str]:
    """Words of an item name without diacritics, years and filler words: the basis of duplicate checks."""
    text = _YEAR.sub(" ", strip_accents(name).lower())
    words = re.findall(r"[a-z0-9]+", text)
    return frozenset(w for w in words if w not in _STOP_WORDS and len(w) > 1)


def similar_name_clusters(
    items: pd.DataFrame, *, threshold: float = 0.8, max_bucket: int = 60
) -> list[list[int]]:
    """Clusters of row positions whose names are alike (token Jaccard ≥ ``threshold``) and whose lead
    units differ. Candidates share one of their two rarest words (buckets over ``max_bucket`` names are
    words too common to tell projects apart and are skipped), so it stays near-linear on 100,000 names."""
    tokens = [name_tokens(n) for n in items["name"]]
    leads = items["lead_unit_id"].to_numpy()
    frequency: dict[str, int] = defaultdict(int)
    for words in tokens:
        for word in words:
            frequency[word] += 1
    buckets: dict[str, list[int]] = defaultdict(list)
    for index, words in enumerate(tokens):
        for word in sorted(words, key=lambda w: (frequency[w], w))[:2]:
            buckets[word].append(index)
    parent = list(range(len(tokens)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    linked: set[int] = set()
    for members in buckets.values():
        if len(members) < 2 or len(members) > max_bucket:
            continue
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                if leads[a] == leads[b] or not tokens[a] or not tokens[b]:
                    continue
                union = len(tokens[a] | tokens[b])
                if union and len(tokens[a] & tokens[b]) / union >= threshold:
                    parent[find(a)] = find(b)
                    linked.update((a, b))
    clusters: dict[int, list[int]] = defaultdict(list)
    for index in sorted(linked):
        clusters[find(index)].append(index)
    return [members for members in clusters.values() if len(members) > 1]


def _finding(kind: str, severity: str, refs: list[str], units: list[str], /, **values: object) -> Finding:
    texts = consolidation_texts()["findings"][kind]
    return Finding(
        kind,
        severity,  # type: ignore[arg-type]
        render_text(texts["vi"], **values),
        render_text(texts["en"], **values),
        refs,
        units,
    )


def _item_finding(kind: str, row: Any, **values: object) -> Finding:
    """A warning about one item of Annex 02, named by its number, name and lead unit."""
    unit = row.lead_unit_name
    return _finding(kind, "warning", [row.ref], [unit], ref=row.ref, name=row.name, unit=unit, **values)


def run_checks(plan: ConsolidatedPlan, previous_items: pd.DataFrame) -> list[Finding]:
    """Every check of the consolidated plan, each finding naming the items involved."""
    items = plan.items
    findings: list[Finding] = []
    columns = plan.amount_columns
    # 1. a source named without an amount (not summed as zero silently)
    unstated = items[items["unstated_sources"] != ""]
    for row in unstated.itertuples(index=False):
        findings.append(_item_finding("amount_not_stated", row, sources=row.unstated_sources))
    # 2. an item with no amount at all
    if columns:
        no_amount = items[
            ~items["has_amount_row"] | (items[columns].isna().all(axis=1) & (items["unstated_sources"] == ""))
        ]
        no_amount = no_amount[no_amount["unstated_sources"] == ""]
        for row in no_amount.itertuples(index=False):
            findings.append(_item_finding("no_amount", row))
    # 3. the same project proposed by two units
    for members in similar_name_clusters(items):
        rows = items.iloc[members]
        refs = list(rows["ref"])
        units = list(dict.fromkeys(rows["lead_unit_name"]))
        listed = [
            {"ref": r.ref, "name": r.name, "unit": r.lead_unit_name} for r in rows.itertuples(index=False)
        ]
        findings.append(_finding("possible_duplicate", "warning", refs, units, units=len(units), rows=listed))
    # 4. carry-over reconciliation, both ways
    previous_ids = set(previous_items["plan_item_id"]) if len(previous_items) else set()
    carry = items[items["origin"] == ItemOrigin.carry_over.value]
    unlinked = carry[carry["carry_over_from_id"].isna() | ~carry["carry_over_from_id"].isin(previous_ids)]
    for row in unlinked.itertuples(index=False):
        findings.append(_item_finding("carry_over_not_in_previous_plan", row, previous_year=plan.year - 1))
    if len(plan.annex01):
        carried_ids = set(items["carry_over_from_id"].dropna().astype("int64"))
        open_items = plan.annex01[
            ~plan.annex01["status"].isin(CLOSED_STATUSES) & ~plan.annex01["plan_item_id"].isin(carried_ids)
        ]
        annex01_ref = consolidation_texts()["findings"]["annex01_ref"]
        for row in open_items.itertuples(index=False):
            findings.append(
                _finding(
                    "open_item_not_carried_over",
                    "warning",
                    [render_text(annex01_ref, ref=row.ref)],
                    [row.lead_unit_name],
                    ref=row.ref,
                    name=row.name,
                    unit=row.lead_unit_name,
                    status=row.status_label,
                    previous_year=plan.year - 1,
                    year=plan.year,
                )
            )
    # 5. envelopes
    for envelope in plan.envelopes:
        if envelope.gap >= 0:
            continue
        refs = []
        if envelope.unit_code:
            refs = list(items.loc[items["lead_unit_code"] == envelope.unit_code, "ref"])
        findings.append(
            _finding(
                "over_envelope",
                "error",
                refs,
                [envelope.unit_name] if envelope.unit_name else [],
                unit_code=envelope.unit_code,
                unit_name=envelope.unit_name,
                source=envelope.source_code,
                planned=plan.money(envelope.planned),
                ceiling=plan.money(envelope.ceiling),
                over=plan.money(-envelope.gap),
                money_unit=plan.money_unit_label,
                over_dong=-envelope.gap,
            )
        )
    return findings
