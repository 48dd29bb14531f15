"""The province's own appendix layout, per cycle (settings ``layout.annex02``, docs/consolidation.md).

By default the plan's items are one annex, "Phụ lục 02", with every funding source. A cycle may instead
publish several items annexes, each holding some funding sources (``annexes``: a list of ``sheet``,
``label``, ``title``, ``sources`` and optionally ``money_unit``), as provinces that publish one appendix
per source (IT recurrent funds; public investment) do. Each annex lists the items with an amount in its
sources, grouped and numbered on its own, with its own totals.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.frames import compute_totals, number_groups


@dataclass(frozen=True)
class ItemsAnnex:
    sheet: str | None  # None: the default sheet name
    plan: ConsolidatedPlan  # the plan restricted to this annex's sources


def annex02_spec(plan: ConsolidatedPlan) -> dict[str, Any]:
    return dict(((plan.settings or {}).get("layout") or {}).get("annex02") or {})


def items_annexes(plan: ConsolidatedPlan) -> list[ItemsAnnex]:
    """The items annexes of the plan's layout, in order (one, the whole plan, by default)."""
    spec = annex02_spec(plan)
    parts = spec.get("annexes") or []
    if not parts:
        return [ItemsAnnex(sheet=None, plan=plan)]
    letters = spec.get("group_numbering") == "letters"
    annexes = []
    for part in parts:
        codes = [str(c) for c in part.get("sources") or []]
        sources = [s for s in plan.sources if s.code in codes]
        columns = [s.column for s in sources]
        items = plan.items
        if len(items):
            items = items[items[columns].notna().any(axis=1)].copy() if columns else items.iloc[0:0].copy()
            items["total"] = items[columns].fillna(0).astype("int64").sum(axis=1) if columns else 0
            items = number_groups(items.reset_index(drop=True), letters=letters)
        sub = dataclasses.replace(
            plan,
            sources=sources,
            items=items,
            money_unit=str(part.get("money_unit") or plan.money_unit),
            annex_label=part.get("label"),
            annex_title=part.get("title"),
            **compute_totals(items, sources),
        )
        annexes.append(ItemsAnnex(sheet=part.get("sheet"), plan=sub))
    return annexes
