"""What every message to a unit carries: the cycle, the unit and the unit's own signed link."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from models import PlanningCycle, Unit
from plancycle.settings import Settings
from tasks.common.links import issue_link_token, link_url


def unit_link(*, session: Session, unit: Unit, cycle: PlanningCycle, settings: Settings) -> str:
    """The unit's portal address for the cycle (the same address while the link stays valid)."""
    return link_url(issue_link_token(session=session, unit=unit, cycle=cycle, settings=settings), settings)


def unit_context(*, session: Session, unit: Unit, cycle: PlanningCycle, settings: Settings) -> dict[str, Any]:
    """Template values shared by every message to a unit: ``cycle``, ``unit`` and ``link``."""
    return {
        "cycle": {"title": cycle.title, "year": cycle.year},
        "unit": {"name": unit.name, "code": unit.code},
        "link": unit_link(session=session, unit=unit, cycle=cycle, settings=settings),
    }
