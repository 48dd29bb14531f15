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
from tasks.registry.names import UnitNameMatch, resolve_unit_name
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
    cache: dict[str, UnitNameMatch] = {}

    def resolve(text: str) -> UnitNameMatch:
        if text not in cache:
            cache[text] = resolve_unit_name(session=session, text=text, on=on)
        return cache[text]

    def unresolved(match: UnitNameMatch, unknown: str, row: int, column: str, value: str) -> bool:
        """Record the issue of a name that names no registry unit, or one not in existence on ``on``."""
        if match.unit is None:
            issues.append(
                make_issue(
                    unknown,
                    sheet=sheet,
                    row=row,
                    column=columns[column],
                    value=value,
                    suggestions="; ".join(match.suggestions),
                )
            )
        elif not match.valid:
            issues.append(
                make_issue(
                    "unit_not_valid",
                    sheet=sheet,
                    row=row,
                    column=columns[column],
                    value=value,
                    name=match.unit.name,
                    on=format_date(on),
                )
            )
        return match.unit is None or not match.valid

    for item in items:
        lead_id = unit.id
        if item.lead_unit and item.lead_unit.strip():
            match = resolve(item.lead_unit)
            if not unresolved(match, "lead_unit_unknown", item.sheet_row, "lead_unit", item.lead_unit):
                lead = match.unit
                assert lead is not None and lead.id is not None
                if lead.id != unit.id and not cycle.other_leads_allowed:
                    issues.append(
                        make_issue(
                            "lead_unit_other",
                            sheet=sheet,
                            row=item.sheet_row,
                            column=columns["lead_unit"],
                            value=item.lead_unit,
                            lead=lead.name,
                            unit=unit.name,
                        )
                    )
                else:
                    lead_id = lead.id
        names: list[str] = []
        for part in _PARTNER_SPLIT.split(item.coordinating_units or ""):
            part = part.strip(" ,.")
            if not part:
                continue
            match = resolve(part)
            if unresolved(match, "partner_unknown", item.sheet_row, "coordinating_units", part):
                continue
            assert match.unit is not None
            if match.unit.name not in names:
                names.append(match.unit.name)
        resolved.append(ItemUnits(lead_unit_id=lead_id, partners="; ".join(names) or None))
    return resolved, issues
