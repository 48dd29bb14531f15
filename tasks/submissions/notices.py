"""Tell the unit what happened to the file it sent: received (with totals) or invalid (with every error)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session

from models import Contact, FundingSource, PlanningCycle, Submission, Unit
from models.cycle import list_funding_sources
from models.registry import list_unit_recipients
from models.submissions import get_submission
from plancycle.settings import Settings
from tasks.notify.delivery import BatchResult, Message, send_batch
from tasks.notify.unit_messages import contact_messages, unit_context
from tasks.submissions.intake import IntakeResult
from templates import load_yaml


def intake_messages(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    result: IntakeResult,
    received_on: date,
    settings: Settings,
    submission: Submission | None = None,
    sources: Sequence[FundingSource] | None = None,
    contacts: Sequence[Contact] | None = None,
    link: str | None = None,
) -> list[Message]:
    """One message per active officer of the unit; keyed by the intake attempt, so never sent twice.
    ``submission``, ``sources``, ``contacts`` (the unit's recipients) and ``link`` (its current portal
    address): what the caller has at hand already (the portal's answer page), else they are read here."""
    assert unit.id is not None and cycle.id is not None
    if contacts is None:
        contacts = list_unit_recipients(session=session, unit_id=unit.id)
    if submission is None:
        submission = get_submission(session=session, cycle_id=cycle.id, unit_id=unit.id)
    context: dict[str, object] = unit_context(
        session=session, unit=unit, cycle=cycle, settings=settings, link=link
    ) | {
        "deadline": (submission.deadline if submission else None) or cycle.submission_deadline,
    }
    if result.accepted:
        if sources is None:
            sources = list_funding_sources(session=session, cycle_id=cycle.id)
        names = {s.code: s.name for s in sources}
        template = "submission_received"
        context |= {
            "version": result.version_number,
            "received_at": received_on,
            "totals": [
                {"source": names.get(code, code), "amount": amount} for code, amount in result.totals.items()
            ],
        }
    else:
        template = "submission_invalid"
        context["error_count"] = result.error_count or len(result.errors)
        words = load_yaml("reports/submissions.vi.yaml")["where"]
        context["errors"] = [
            {
                "where": ", ".join(
                    p
                    for p in (
                        e.sheet,
                        words["row"].format(row=e.row) if e.row else None,
                        words["column"].format(column=e.column) if e.column else None,
                    )
                    if p
                ),
                "message": e.message_vi,
            }
            for e in result.errors
        ]
    return contact_messages(
        contacts=contacts,
        template=template,
        key=f"intake:{result.attempt_id}",
        cycle=cycle,
        unit=unit,
        context=context,
    )


def notify_intake_result(
    *,
    session: Session,
    cycle: PlanningCycle | None,
    unit: Unit | None,
    result: IntakeResult,
    received_on: date,
    settings: Settings,
) -> BatchResult | None:
    """Send the intake notice now (the unit sees the same answer on the page; this is its written record)."""
    if cycle is None or unit is None or result.duplicate:
        return None
    messages = intake_messages(
        session=session, cycle=cycle, unit=unit, result=result, received_on=received_on, settings=settings
    )
    session.commit()  # the link row, if one was issued, before anything is sent
    return send_batch(messages, settings=settings, as_of=received_on) if messages else None
