"""What every message to a unit carries: the cycle, the unit and the unit's own signed link."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlmodel import Session

from models import Contact, PlanningCycle, Unit
from models.registry import list_unit_recipients
from plancycle.settings import Settings
from tasks.common.links import issue_link_token, link_url
from tasks.notify.delivery import Message


def unit_link(*, session: Session, unit: Unit, cycle: PlanningCycle, settings: Settings) -> str:
    """The unit's portal address for the cycle (the same address while the link stays valid)."""
    return link_url(issue_link_token(session=session, unit=unit, cycle=cycle, settings=settings), settings)


def unit_context(
    *, session: Session, unit: Unit, cycle: PlanningCycle, settings: Settings, link: str | None = None
) -> dict[str, Any]:
    """Template values shared by every message to a unit: ``cycle``, ``unit`` and ``link`` (``link``: the
    unit's current address when the caller holds it, e.g. the portal answering a visit through it)."""
    return {
        "cycle": {"title": cycle.title, "year": cycle.year},
        "unit": {"name": unit.name, "code": unit.code},
        "link": link or unit_link(session=session, unit=unit, cycle=cycle, settings=settings),
    }


def contact_messages(
    *,
    contacts: Iterable[Contact],
    template: str,
    key: str,
    cycle: PlanningCycle,
    context: dict[str, Any],
    unit: Unit | None = None,
    attachments: list[Path] | None = None,
) -> list[Message]:
    """One message per contact, all keyed ``key`` with the same ``context`` and ``attachments``: about
    ``unit`` when given, else about each contact's own unit."""
    return [
        Message(
            template=template,  # type: ignore[arg-type]
            key=key,
            contact_id=contact.id,  # type: ignore[arg-type]
            unit_id=contact.unit_id if unit is None else unit.id,
            cycle_id=cycle.id,
            context=context,
            attachments=list(attachments or []),
        )
        for contact in contacts
    ]


def unit_messages(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    settings: Settings,
    template: str,
    key: str,
    context: dict[str, Any],
) -> list[Message]:
    """One message to each recipient of ``unit``, with the values every unit message shares."""
    assert unit.id is not None
    base = unit_context(session=session, unit=unit, cycle=cycle, settings=settings)
    return contact_messages(
        contacts=list_unit_recipients(session=session, unit_id=unit.id),
        template=template,
        key=key,
        cycle=cycle,
        unit=unit,
        context=base | context,
    )
