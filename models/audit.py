"""The append-only audit log. The migration adds database triggers that refuse UPDATE and DELETE."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Field, Session, SQLModel, col, select

from models.base import created_at_field, json_field

if TYPE_CHECKING:
    from models.cycle import PlanningCycle


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    actor: str = Field(max_length=160, description="person or flow run that acted")
    action: str = Field(max_length=64, index=True)
    entity: str = Field(max_length=64, index=True)
    entity_id: str | None = Field(default=None, max_length=64, index=True)
    cycle_id: int | None = Field(default=None, foreign_key="planningcycle.id", index=True)
    details: dict[str, Any] | None = json_field()


def record_audit(
    *,
    session: Session,
    actor: str,
    action: str,
    subject: SQLModel | None = None,
    entity: str | None = None,
    entity_id: str | int | None = None,
    cycle: PlanningCycle | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (so it commits or rolls back with the change).

    The entry is about ``subject``, a row (entity = its table name, entity_id = its id), or, for what is not a
    row (the registry import, a unit by code, an amendment by number), about ``entity`` and ``entity_id``.
    ``cycle`` is the planning cycle the entry belongs to, if any.
    """
    if (subject is None) == (entity is None):
        raise TypeError("record_audit takes either subject or entity")
    if subject is not None:
        entity, entity_id = type(subject).__tablename__, subject.id  # type: ignore[attr-defined]
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        cycle_id=None if cycle is None else cycle.id,
        details=details,
    )
    session.add(entry)
    return entry


def list_audit(
    *, session: Session, entity: str | None = None, cycle_id: int | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if cycle_id is not None:
        query = query.where(AuditEntry.cycle_id == cycle_id)
    return list(session.exec(query.order_by(col(AuditEntry.id))))
