"""The ``notification-deliveries`` table as the coordinator reads it in the Prefect UI: which unit and
person, by which channel, which message, and what happened, in Vietnamese. A message written to the local
outbox (no SMTP relay or Zalo app configured) says so: it has not reached anyone. No secrets; phone numbers
partly masked (``BatchResult.table`` keeps the technical columns for logs and tests)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import Contact, Unit
from models.base import Channel, DeliveryStatus
from plancycle.settings import Settings
from tasks.notify.delivery import BatchResult, Delivery, _mask
from templates import label, load_yaml


def _went_to_outbox(delivery: Delivery, settings: Settings) -> bool:
    if delivery.status != DeliveryStatus.sent:
        return False
    if (delivery.provider_message_id or "").startswith("outbox:"):
        return True
    return delivery.channel == Channel.email and settings.smtp_url is None


def outbox_count(result: BatchResult, settings: Settings) -> int:
    """How many of the "sent" deliveries only reached the local outbox."""
    return sum(1 for d in result.deliveries if _went_to_outbox(d, settings))


def delivery_rows(result: BatchResult, *, session: Session, settings: Settings) -> list[dict[str, Any]]:
    """One row per delivery, columns in Vietnamese (``templates/reports/deliveries.vi.yaml``)."""
    columns = load_yaml("reports/deliveries.vi.yaml")["columns"]
    ids = {d.contact_id for d in result.deliveries if d.contact_id is not None}
    people: dict[int, tuple[str, str]] = {}
    if ids:
        for contact, unit in session.exec(
            select(Contact, Unit).join(Unit, col(Unit.id) == Contact.unit_id).where(col(Contact.id).in_(ids))
        ).all():
            people[contact.id] = (unit.name, contact.full_name)  # type: ignore[index]
    rows = []
    for d in result.deliveries:
        unit, person = people.get(d.contact_id, ("", "")) if d.contact_id is not None else ("", "")
        status = "outbox" if _went_to_outbox(d, settings) else str(d.status)
        rows.append(
            {
                columns["unit"]: unit,
                columns["person"]: person,
                columns["address"]: _mask(d.recipient, d.channel),
                columns["message"]: label(d.template, "message"),
                columns["channel"]: label(d.channel, "channel"),
                columns["status"]: label(status, "delivery"),
                columns["attempts"]: d.attempts,
                columns["error"]: d.error or "",
            }
        )
    return rows
