"""What every unit workbook is issued for: one cycle, one unit, the cycle's funding sources.

The submission workbook's and the progress workbook's contexts extend `UnitWorkbookContext` with their own
fields; `unit_context_fields` reads the shared ones from the database rows and `unit_metadata_fields` writes
them into the signed metadata.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.cycle import FundingSource, PlanningCycle
from models.registry import Unit
from tasks.common.amounts import MAX_ITEM_AMOUNT_CEILING
from tasks.excel.metadata import issued_at_text
from templates import load_yaml


def default_max_item_amount() -> int:
    """The largest amount per item and funding source when a cycle sets none (templates/defaults)."""
    return min(int(load_yaml("defaults/cycle.yaml")["max_item_amount"]), MAX_ITEM_AMOUNT_CEILING)


def max_item_amount(cycle: PlanningCycle) -> int:
    """The cycle's largest amount per item and funding source, in đồng."""
    if cycle.max_item_amount is None:
        return default_max_item_amount()
    return min(cycle.max_item_amount, MAX_ITEM_AMOUNT_CEILING)


class SourceSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: int
    code: str
    name: str


class UnitWorkbookContext(BaseModel):
    """The cycle and the unit a workbook is for, and the cycle's funding sources."""

    model_config = ConfigDict(frozen=True)
    cycle_id: int
    cycle_year: int
    cycle_title: str
    money_unit: str
    unit_id: int
    unit_code: str
    unit_name: str
    funding_sources: list[SourceSpec]
    max_item_amount: int = Field(default_factory=default_max_item_amount)


def unit_context_fields(
    *, cycle: PlanningCycle, unit: Unit, sources: Iterable[FundingSource]
) -> dict[str, Any]:
    """The `UnitWorkbookContext` fields of ``cycle``, ``unit`` and the cycle's funding ``sources``."""
    return {
        "cycle_id": cycle.id,
        "cycle_year": cycle.year,
        "cycle_title": cycle.title,
        "money_unit": cycle.money_unit,
        "unit_id": unit.id,
        "unit_code": unit.code,
        "unit_name": unit.name,
        "funding_sources": [SourceSpec(id=s.id, code=s.code, name=s.name) for s in sources],  # type: ignore[arg-type]
        "max_item_amount": max_item_amount(cycle),
    }


def unit_metadata_fields(context: UnitWorkbookContext, *, issued_at: datetime) -> dict[str, str]:
    """The signed metadata fields every unit workbook carries, in their order on the sheet."""
    return {
        "cycle_id": str(context.cycle_id),
        "cycle_year": str(context.cycle_year),
        "unit_id": str(context.unit_id),
        "unit_code": context.unit_code,
        "issued_at": issued_at_text(issued_at),
    }
