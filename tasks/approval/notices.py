"""What people are told by the approval stage, as keyed messages (sent by ``tasks.notify.steps.deliver``,
once per key): the approvers asked for their opinion, and each lead unit told its approved items once the
plan is issued or amended. Plain functions in the caller's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from models.approval import ApprovalStage
from models.cycle import PlanningCycle
from models.items import PlanItem
from models.registry import Contact, Unit, get_unit_by_code
from plancycle.settings import Settings
from tasks.approval.amendments import Amendment, amendment_entries, amendment_texts
from tasks.approval.chain import stage_approvers
from tasks.approval.decisions import approved_items_by_unit
from tasks.approval.versions import version_totals
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import contact_messages, unit_messages


def approval_request_messages(
    *,
    session: Session,
    cycle: PlanningCycle,
    stage: ApprovalStage,
    key: str,
    content: dict[str, Any],
    plan_title: str,
    due: date,
    link: str,
    attachments: list[Path] | None = None,
    link_for: Callable[[Contact], str] | None = None,
) -> list[Message]:
    """One message to each approver of ``stage`` asking for a decision on the plan ``content`` (a
    version's content, or the plan as an amendment would make it), keyed ``key``. ``link_for`` gives each
    approver their own address (the approver's page); otherwise every message carries ``link``."""
    context = {
        "cycle": {"title": cycle.title, "year": cycle.year},
        "plan_title": plan_title,
        "item_count": sum(1 for i in content["items"] if not i["rejected"]),
        "total": version_totals(content)["total"],
        "due": due,
        "link": link,
    }
    contacts = stage_approvers(session=session, stage=stage)
    if link_for is None:
        return contact_messages(
            contacts=contacts,
            template="approval_requested",
            key=key,
            cycle=cycle,
            context=context,
            attachments=attachments,
        )
    messages: list[Message] = []
    for contact in contacts:
        messages += contact_messages(
            contacts=[contact],
            template="approval_requested",
            key=key,
            cycle=cycle,
            context=context | {"link": link_for(contact)},
            attachments=attachments,
        )
    return messages


def plan_approved_messages(*, session: Session, cycle: PlanningCycle, settings: Settings) -> list[Message]:
    """Each lead unit is told its approved items once the plan is issued; keyed per decision and unit."""
    messages: list[Message] = []
    for unit_id, items in approved_items_by_unit(session=session, cycle=cycle).items():
        unit = session.get(Unit, unit_id)
        assert unit is not None
        messages += unit_messages(
            session=session,
            cycle=cycle,
            unit=unit,
            settings=settings,
            template="plan_approved",
            key=f"plan-approved:{cycle.year}:{cycle.decision_number}:{unit.code}",
            context={
                "decision_number": cycle.decision_number,
                "decision_date": cycle.decision_date,
                "items": items,
                "total": sum(i["amount"] for i in items),
            },
        )
    return messages


def amendment_messages(
    *, session: Session, cycle: PlanningCycle, amendment: Amendment, settings: Settings, as_of: date
) -> list[Message]:
    """Each unit concerned (lead unit of an item added, changed or dropped) is told its approved items
    after the amendment; keyed per amendment and unit, so a re-run sends nothing twice."""
    entry = next(
        e
        for e in amendment_entries(session=session, cycle=cycle)
        if e.action == "amendment.approved" and e.entity_id == amendment.entity_id
    )
    details = entry.details or {}
    items = approved_items_by_unit(session=session, cycle=cycle)
    changes_by_unit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in _unit_changes(session, cycle, amendment):
        changes_by_unit[change["unit"]].append(change)
    messages: list[Message] = []
    for code in details.get("units", []):
        unit = get_unit_by_code(session=session, code=code)
        if unit is None or unit.id is None:
            continue
        unit_items = items.get(unit.id, [])
        messages += unit_messages(
            session=session,
            cycle=cycle,
            unit=unit,
            settings=settings,
            template="plan_amended",
            key=f"plan-amended:{cycle.year}:{amendment.number}:{code}",
            context={
                "decision_number": details.get("decision_number"),
                "decision_date": date.fromisoformat(details["decision_date"])
                if details.get("decision_date")
                else as_of,
                "amendment_number": amendment.number,
                "reason": amendment.proposal.reason,
                "changes": changes_by_unit.get(code, []),
                "items": unit_items,
                "total": sum(i["amount"] for i in unit_items),
            },
        )
    return messages


def _unit_changes(session: Session, cycle: PlanningCycle, amendment: Amendment) -> list[dict[str, Any]]:
    """The amendment's changes as plain rows with the lead unit's code (for the units' messages)."""
    kinds = amendment_texts()["kinds"]
    units = {u.id: u.code for u in session.exec(select(Unit))}
    by_ref = {i.row_ref: i for i in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id))}
    proposal = amendment.proposal
    rows: list[dict[str, Any]] = []
    for kind, changes in (("amount", proposal.change_amounts), ("rejected", proposal.drop_items)):
        for change in changes:
            item = by_ref[change.item_ref]
            rows.append(
                {
                    "unit": units[item.lead_unit_id],
                    "kind": kinds[kind],
                    "name": item.name,
                    "reason": change.reason,
                }
            )
    for added in proposal.add_items:
        rows.append(
            {"unit": added.lead_unit_code, "kind": kinds["added"], "name": added.name, "reason": added.reason}
        )
    return rows
