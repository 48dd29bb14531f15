"""The lead-unit ("Đơn vị chủ trì") and partner ("Đơn vị phối hợp") columns of a unit's workbook, read as
names and resolved against the registry on the day the file is received (``resolve_unit_name``).

- A blank lead, or one that names the unit itself, is the unit.
- Another unit (or a collective lead such as "Các sở, ban, ngành") is accepted only when the cycle allows
  it (``other_leads_allowed``); the item is then stored, and consolidated, under that lead unit.
- An unknown name is an error on its cell with the closest registry names suggested.
- Partners are split on ";" or new lines; each must resolve; they are stored as the registry's official
  names, in the order written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from models.cycle import PlanningCycle
from models.registry import Unit
from tasks.excel.issues import ValidationIssue, make_issue
from tasks.registry.names import resolve_unit_name
from tasks.submissions.validation import ParsedItem
from tasks.submissions.workbook import WorkbookContext, item_columns, workbook_texts
from templates import format_date

_PARTNER_SPLIT = re.compile(r"[;\n]+")


@dataclass(frozen=True)
class ItemUnits:
    lead_unit_id: int
    partners: str | None  # official names joined by "; "


def resolve_item_units(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    context: WorkbookContext,
    items: list[ParsedItem],
    on: date,
) -> tuple[list[ItemUnits], list[ValidationIssue]]:
    """Each item's lead unit and partners, or the located issues that refuse the file."""
    assert unit.id is not None
    sheet = workbook_texts()["sheets"]["items"]
    columns = {c.key: c for c in item_columns(context) if c.key != "amount"}
    resolved: list[ItemUnits] = []
    issues: list[ValidationIssue] = []
    cache: dict[str, object] = {}

    def resolve(text: str):  # type: ignore[no-untyped-def]
        if text not in cache:
            cache[text] = resolve_unit_name(session=session, text=text, on=on)
        return cache[text]

    for item in items:
        lead_id = unit.id
        if item.lead_unit and item.lead_unit.strip():
            match = resolve(item.lead_unit)
            if match.unit is None:  # type: ignore[attr-defined]
                issues.append(
                    make_issue(
                        "lead_unit_unknown",
                        sheet=sheet,
                        row=item.sheet_row,
                        column=columns["lead_unit"],
                        value=item.lead_unit,
                        suggestions="; ".join(match.suggestions),  # type: ignore[attr-defined]
                    )
                )
            elif not match.valid:  # type: ignore[attr-defined]
                issues.append(
                    make_issue(
                        "unit_not_valid",
                        sheet=sheet,
                        row=item.sheet_row,
                        column=columns["lead_unit"],
                        value=item.lead_unit,
                        name=match.unit.name,  # type: ignore[attr-defined]
                        on=format_date(on),
                    )
                )
            elif match.unit.id != unit.id and not cycle.other_leads_allowed:  # type: ignore[attr-defined]
                issues.append(
                    make_issue(
                        "lead_unit_other",
                        sheet=sheet,
                        row=item.sheet_row,
                        column=columns["lead_unit"],
                        value=item.lead_unit,
                        lead=match.unit.name,  # type: ignore[attr-defined]
                        unit=unit.name,
                    )
                )
            else:
                lead_id = match.unit.id  # type: ignore[attr-defined]
        names: list[str] = []
        for part in _PARTNER_SPLIT.split(item.coordinating_units or ""):
            part = part.strip(" ,.")
            if not part:
                continue
            match = resolve(part)
            if match.unit is None:  # type: ignore[attr-defined]
                issues.append(
                    make_issue(
                        "partner_unknown",
                        sheet=sheet,
                        row=item.sheet_row,
                        column=columns["coordinating_units"],
                        value=part,
                        suggestions="; ".join(match.suggestions),  # type: ignore[attr-defined]
                    )
                )
            elif not match.valid:  # type: ignore[attr-defined]
                issues.append(
                    make_issue(
                        "unit_not_valid",
                        sheet=sheet,
                        row=item.sheet_row,
                        column=columns["coordinating_units"],
                        value=part,
                        name=match.unit.name,  # type: ignore[attr-defined]
                        on=format_date(on),
                    )
                )
            elif match.unit.name not in names:  # type: ignore[attr-defined]
                names.append(match.unit.name)  # type: ignore[attr-defined]
        resolved.append(ItemUnits(lead_unit_id=lead_id, partners="; ".join(names) or None))
    return resolved, issues
