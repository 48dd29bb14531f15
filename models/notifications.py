"""The notification log (one row per message × recipient × channel) and durable Zalo credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel, select

from models.base import DeliveryStatus, created_at_field, json_field, tz_datetime_field, updated_at_field


class NotificationLog(SQLModel, table=True):
    """Written *before* sending with status pending; the idempotency key makes a re-run skip what was sent.

    A run *claims* a row before sending it (status ``claimed``, ``claimed_by`` its run id, ``lease_until``
    renewed while it runs, committed first), so no other run sends it meanwhile; a lease that ran out
    (the run died) is claimed again by a later run. ``payload`` holds what is needed to render the message
    again, so a transient failure can be retried later by :func:`tasks.notify.delivery.retry_deliveries`
    (at ``next_attempt_at``, up to a bounded number of attempts)."""

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=255, unique=True, index=True)
    template: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    cycle_id: int | None = Field(default=None, foreign_key="planningcycle.id", index=True)
    recipient: str = Field(max_length=254, description="email, Zalo user id or phone")
    subject: str | None = Field(default=None, max_length=500)
    status: str = Field(default=DeliveryStatus.pending, max_length=32, index=True)
    attempts: int = 0
    provider_message_id: str | None = Field(default=None, max_length=255)
    error: str | None = Field(default=None, max_length=2000)
    fallback_of_id: int | None = Field(default=None, foreign_key="notificationlog.id")
    claimed_by: str | None = Field(default=None, max_length=64, description="run id of the last claim")
    lease_until: datetime | None = tz_datetime_field(description="while claimed: no other run sends it")
    next_attempt_at: datetime | None = tz_datetime_field(
        index=True, description="failed_transient: when a retry run may try again"
    )
    payload: dict[str, Any] | None = json_field(description="the Message, as_of and ZNS template id")
    created_at: datetime = created_at_field()
    sent_at: datetime | None = tz_datetime_field()
    updated_at: datetime = updated_at_field()


class ZaloCredential(SQLModel, table=True):
    """The OA's tokens. The refresh token is single-use: the new one is committed before use."""

    id: int | None = Field(default=None, primary_key=True)
    app_id: str = Field(max_length=64, unique=True)
    access_token: str | None = Field(default=None, max_length=2000)
    access_expires_at: datetime | None = tz_datetime_field()
    refresh_token: str = Field(max_length=2000)
    refresh_expires_at: datetime | None = tz_datetime_field()
    updated_at: datetime = updated_at_field()


def get_notification(*, session: Session, idempotency_key: str) -> NotificationLog | None:
    return session.exec(
        select(NotificationLog).where(NotificationLog.idempotency_key == idempotency_key)
    ).first()
