"""The one routine that sends messages: render, record intent, claim, send, record outcome.

Guarantee per (message × recipient × channel), one NotificationLog row each (see docs/notifications.md):

* every job's row is committed as ``pending`` before anything is sent (a batch of one job, such as the
  portal's intake notice, inserts its row already claimed: intent and claim in one transaction);
* a run *claims* a row before sending it: one conditional UPDATE (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL) sets ``claimed``, the run id and a lease, and is committed first; one thread per process
  renews the leases of its live runs. Overlapping runs therefore never send the same row twice, and a
  dead run's rows are claimed again once its lease has run out;
* a worker does not take its next job before the outcome of its last one is committed, so a crash
  (kill -9) can only duplicate the message(s) in flight (one per worker), and the duplicate carries the
  same email Message-ID / ZNS tracking id;
* transient failures are retried within the batch with back-off, then later by
  :func:`retry_deliveries` (from the stored payload) up to ``max_total_attempts``; Zalo that fails
  permanently or repeatedly falls back to the contact's email.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import os
import random
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import apprise_zalo
from models.base import Channel, DeliveryStatus, utcnow
from models.cycle import PlanningCycle
from models.db import get_engine
from models.notifications import NotificationLog
from models.registry import CONTACT_DETAILS, Contact, Unit
from plancycle.settings import Settings, get_settings
from tasks.notify.channels import Attempt, Job, Sender, email_sender, zalo_sender
from tasks.notify.redact import redact, secret_values
from tasks.notify.render import Rendered, TemplateName, render_message
from tasks.notify.zalo_tokens import DatabaseZaloTokens

logger = logging.getLogger(__name__)

FINAL_STATUSES = {DeliveryStatus.sent, DeliveryStatus.failed_permanent, DeliveryStatus.skipped}
_CHUNK = 500


class Message(BaseModel):
    """One message to one contact. Its channels come from the contact's ``preferred_channels``."""

    template: TemplateName = Field(description="folder under templates/messages/")
    key: str = Field(
        min_length=1,
        description="Idempotency key base, unique per logical message, e.g. 'call:2027:U0001'. "
        "The log key is '<key>:<contact_id>:<channel>'.",
    )
    contact_id: int
    unit_id: int | None = Field(None, description="Default: the contact's unit.")
    cycle_id: int | None = None
    context: dict[str, Any] = Field(default_factory=dict, description="Template values; see docs.")
    attachments: list[Path] = Field(default_factory=list, description="Files attached to the email.")
    zalo_mode: Literal["cs", "transaction"] = "cs"

    @field_validator("context", mode="after")
    @classmethod
    def _dates_back_from_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        # A Message that travelled as JSON (Prefect parameters, a child process) has ISO strings where the
        # templates expect dates; turn them back so `|vndate` gives dd/mm/yyyy.
        return _revive_dates(value)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _revive_dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _revive_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive_dates(v) for v in value]
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            return date.fromisoformat(value)
        if _ISO_DATETIME.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


class DeliveryPolicy(BaseModel):
    """How hard to try. Tests use tiny back-off; production the defaults."""

    max_attempts: int = Field(4, ge=1, le=20, description="attempts per job within one batch")
    backoff_initial: float = Field(1.0, ge=0, description="seconds before the 2nd attempt; doubles after")
    backoff_max: float = Field(30.0, ge=0)
    concurrency: int | None = Field(None, ge=1, le=64, description="default: settings.send_concurrency")
    zns_templates: dict[str, str] = Field(
        default_factory=dict, description="message template name → approved ZNS template id"
    )
    lease_seconds: float = Field(
        60.0, ge=0.2, le=3600, description="a claim's lease; renewed every third of it while the run lives"
    )
    claim_chunk: int = Field(32, ge=1, le=_CHUNK, description="rows claimed per transaction")
    max_total_attempts: int = Field(
        12, ge=1, le=100, description="attempts over every run; then the row is failed_permanent"
    )
    retry_after: float = Field(
        900.0, ge=0, description="seconds before retry_deliveries tries a transient failure again"
    )
    retry_max: float = Field(6 * 3600.0, ge=0, description="cap of retry_after, which doubles per failed run")


class Delivery(BaseModel):
    """The outcome of one (message × recipient × channel)."""

    idempotency_key: str
    template: str
    channel: str
    contact_id: int | None
    recipient: str
    status: DeliveryStatus
    attempts: int = 0
    attempted_now: bool = Field(False, description="False when a previous run had already settled it")
    provider_message_id: str | None = None
    error: str | None = None
    fallback_of: str | None = Field(None, description="idempotency key of the Zalo job this replaces")


class BatchResult(BaseModel):
    deliveries: list[Delivery] = Field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: DeliveryStatus) -> int:
        return sum(1 for d in self.deliveries if d.status == status)

    @property
    def sent_now(self) -> int:
        return sum(1 for d in self.deliveries if d.attempted_now and d.status == DeliveryStatus.sent)

    @property
    def failed(self) -> list[Delivery]:
        return [
            d
            for d in self.deliveries
            if d.status in (DeliveryStatus.failed_transient, DeliveryStatus.failed_permanent)
        ]

    def summary(self) -> dict[str, int]:
        counts = {status.value: self.count(status) for status in DeliveryStatus}
        counts["sent_now"] = self.sent_now
        counts["already_settled"] = sum(1 for d in self.deliveries if not d.attempted_now)
        return counts

    def table(self) -> list[dict[str, Any]]:
        """Rows for the Prefect table artifact: no secrets, phone numbers partly masked."""
        return [
            {
                "template": d.template,
                "channel": d.channel,
                "contact_id": d.contact_id,
                "recipient": _mask(d.recipient, d.channel),
                "status": d.status.value,
                "attempts": d.attempts,
                "provider_message_id": d.provider_message_id or "",
                "error": d.error or "",
                "fallback_of": d.fallback_of or "",
            }
            for d in self.deliveries
        ]


def _mask(recipient: str, channel: str) -> str:
    if channel == Channel.zns and len(recipient) > 6:
        return recipient[:4] + "*" * (len(recipient) - 7) + recipient[-3:]
    return recipient


# ---------------------------------------------------------------- planning


@dataclass
class _Planned:
    job: Job
    message: Message
    contact_id: int | None
    unit_id: int | None
    cycle_id: int | None
    status: DeliveryStatus = DeliveryStatus.pending
    row_id: int | None = None
    attempts: int = 0
    attempted_now: bool = False
    provider_message_id: str | None = None
    error: str | None = None
    fallback_of: _Planned | None = None
    contact_email: str | None = None
    email_planned: bool = False
    rendered: Rendered | None = None
    won: bool = False  # this run claimed the row
    next_attempt_at: datetime | None = None
    durable: threading.Event = field(default_factory=threading.Event)  # outcome committed


def log_key(base: str, contact_id: int | None, channel: str) -> str:
    """``<base>:<contact>:<channel>``, hashed when it would not fit the 255-character column."""
    key = f"{base}:{contact_id}:{channel}"
    if len(key) <= 255:
        return key
    return f"{base[:180]}#{hashlib.sha256(base.encode()).hexdigest()[:32]}:{contact_id}:{channel}"


def _channels_for(
    contact: Any,
    message: Message,
    settings: Settings,
    policy: DeliveryPolicy,
    wanted: set[str] | None = None,
) -> list[str]:
    """The contact's preferred channels that can be used; with ``wanted`` (a retry of given rows), those
    of ``wanted`` that can be used, email included even when it is not preferred (a fall-back row)."""
    order = _CONTACT_CHANNELS(contact) if wanted is None else [*_CONTACT_CHANNELS(contact), Channel.email]
    out: list[str] = []
    for channel in order:
        if wanted is not None and channel not in wanted:
            continue
        if channel == Channel.email and contact.email:
            out.append(Channel.email)
        elif channel == Channel.zalo and settings.zalo_enabled and contact.zalo_user_id:
            out.append(Channel.zalo)
        elif (
            channel == Channel.zns
            and settings.zalo_enabled
            and contact.phone
            and message.template in policy.zns_templates
        ):
            out.append(Channel.zns)
    return list(dict.fromkeys(out))


def _zns_data(context: dict[str, Any]) -> dict[str, str]:
    """ZNS template parameters: the message's scalar context values, formatted like the templates do."""
    from templates import format_date

    data: dict[str, str] = {}
    for name, value in context.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, date):
            data[name] = format_date(value)
        elif isinstance(value, str | int):
            data[name] = str(value)
    return data


def cycle_sender(session: Session, cycle: PlanningCycle) -> dict[str, Any] | None:
    """Who signs a cycle's messages: its coordinating unit, and that unit's first coordinator as the
    signature block; None when the cycle names no coordinating unit (``PLANCYCLE_EMAIL_FROM_NAME`` then)."""
    from models.base import ContactRole
    from models.registry import list_unit_contacts

    unit = session.get(Unit, cycle.coordinating_unit_id) if cycle.coordinating_unit_id else None
    if unit is None:
        return None
    assert unit.id is not None
    people = list_unit_contacts(session=session, unit_id=unit.id, roles=[ContactRole.coordinator])
    person = people[0] if people else None
    return {
        "name": unit.name,
        "signature": {
            "unit": unit.name,
            "full_name": person.full_name if person else None,
            "position": person.position if person else None,
            "phone": person.phone if person else None,
            "email": person.email if person else None,
        },
    }


@dataclass(frozen=True)
class Loaded:
    """Contacts, units and cycles a caller of :func:`send_batch` has loaded already (ORM objects, read
    only): planning uses them instead of reading them again. The portal's intake notice passes its own."""

    contacts: Sequence[Any] = ()
    units: Sequence[Unit] = ()
    cycles: Sequence[PlanningCycle] = ()


def _plan(
    session: Session,
    messages: Sequence[Message],
    settings: Settings,
    policy: DeliveryPolicy,
    as_of: date,
    only_keys: set[str] | None = None,
    loaded: Loaded | None = None,
) -> list[_Planned]:
    """One job per (message × recipient × channel); with ``only_keys``, only the jobs of those log keys.
    What ``loaded`` holds is not read again."""
    loaded = loaded or Loaded()
    contacts = {c.id: c for c in loaded.contacts}
    wanted = {m.contact_id for m in messages} - contacts.keys()
    contacts |= {c.id: c for c in _load_contacts(session, wanted)}
    units = {u.id: u for u in loaded.units}
    unit_ids = {m.unit_id for m in messages if m.unit_id} | {c.unit_id for c in contacts.values()}
    units |= {u.id: u for u in _load(session, Unit, unit_ids - units.keys())}
    cycles = {c.id: c for c in loaded.cycles}
    cycle_ids = {m.cycle_id for m in messages if m.cycle_id} - cycles.keys()
    cycles |= {c.id: c for c in _load(session, PlanningCycle, cycle_ids)}
    senders = {cycle_id: cycle_sender(session, cycle) for cycle_id, cycle in cycles.items()}

    planned: list[_Planned] = []
    seen: set[str] = set()
    for message in messages:
        contact = contacts.get(message.contact_id)
        if (contact is None or not contact.active) and only_keys is not None:
            continue
        if contact is None or not contact.active:
            key = log_key(message.key, message.contact_id if contact else None, "none")
            if key not in seen:
                seen.add(key)
                job = Job(
                    key=key,
                    channel="none",
                    recipient="",
                    recipient_name=None,
                    template=message.template,
                    subject="",
                    html="",
                    text="",
                    zalo="",
                )
                p = _Planned(
                    job,
                    message,
                    contact.id if contact else None,
                    message.unit_id,
                    message.cycle_id,
                    status=DeliveryStatus.skipped,
                    error="contact not found or inactive",
                )
                planned.append(p)
            continue
        unit_id = message.unit_id or contact.unit_id
        unit, cycle = units.get(unit_id), cycles.get(message.cycle_id) if message.cycle_id else None
        sender = senders.get(message.cycle_id) if message.cycle_id else None
        wanted = None
        if only_keys is not None:
            wanted = {c for c in Channel if log_key(message.key, contact.id, c) in only_keys}
        channels = _channels_for(contact, message, settings, policy, wanted)
        if wanted is not None and not channels:
            continue
        context = {
            "recipient": {"full_name": contact.full_name, "position": contact.position, "role": contact.role},
            "unit": {"code": unit.code, "name": unit.name} if unit else None,
            "cycle": (
                {"year": cycle.year, "title": cycle.title, "submission_deadline": cycle.submission_deadline}
                if cycle
                else None
            ),
            "province_name": settings.province_name,
            "sender_name": sender["name"] if sender else settings.email_from_name,
            "signature": sender["signature"] if sender else None,
            "as_of": as_of,
            **message.context,
        }
        needs_zalo = any(c in (Channel.zalo, Channel.zns) for c in channels)
        rendered = render_message(message.template, contact.locale, context, zalo=needs_zalo)
        if not channels:
            channels = ["none"]
        for channel in channels:
            key = log_key(message.key, contact.id, channel)
            if key in seen:
                continue
            seen.add(key)
            recipient = {
                Channel.email: contact.email,
                Channel.zalo: contact.zalo_user_id,
                Channel.zns: contact.phone,
            }.get(channel, "")
            job = Job(
                key=key,
                channel=channel,
                recipient=recipient or "",
                recipient_name=contact.full_name,
                template=message.template,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                zalo=rendered.zalo,
                attachments=tuple(str(p) for p in message.attachments),
                zalo_mode=message.zalo_mode,
                zns_template_id=policy.zns_templates.get(message.template),
                zns_data=_zns_data(context) if channel == Channel.zns else {},
                from_name=sender["name"] if sender else None,
            )
            p = _Planned(
                job,
                message,
                contact.id,
                unit_id,
                message.cycle_id,
                contact_email=contact.email,
                email_planned=Channel.email in channels,
                rendered=rendered,
            )
            if channel == "none":
                p.status, p.error = DeliveryStatus.skipped, "no usable channel for this contact"
            planned.append(p)
    return planned


_CONTACT_COLUMNS = [getattr(Contact, name) for name in ("id", "unit_id", *CONTACT_DETAILS)]
# Contact.channels, applied to a row that has the same columns (one definition of the parsing).
_CONTACT_CHANNELS: Callable[[Any], list[str]] = Contact.channels.fget  # type: ignore[attr-defined]


def _load_contacts(session: Session, ids: Iterable[int | None]) -> list[Any]:
    """The contacts as rows of the columns planning reads: building thousands of ORM objects (identity
    map, instance state) costs more than the rest of planning but rendering."""
    ids = [i for i in ids if i is not None]
    out: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        query = sa.select(*_CONTACT_COLUMNS).where(col(Contact.id).in_(ids[start : start + _CHUNK]))
        out.extend(session.execute(query))
    return out


def _load(session: Session, model: Any, ids: Iterable[int | None]) -> list[Any]:
    ids = [i for i in ids if i is not None]
    out: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        out.extend(session.exec(select(model).where(col(model.id).in_(ids[start : start + _CHUNK]))))
    return out


# ---------------------------------------------------------------- the log


def _payload(p: _Planned, as_of: date, cache: dict[int, Any]) -> dict[str, Any] | None:
    """What :func:`retry_deliveries` needs to send the job again: the message, the day and the ZNS
    template id (None for a skipped row, or a message that does not survive JSON)."""
    if p.status == DeliveryStatus.skipped:
        return None
    key = id(p.message)
    if key not in cache:
        try:
            cache[key] = p.message.model_dump(mode="json")
        except (TypeError, ValueError):
            cache[key] = None
    if cache[key] is None:
        return None
    return {"message": cache[key], "as_of": as_of.isoformat(), "zns_template": p.job.zns_template_id}


def _intent_row(p: _Planned, as_of: date, now: datetime, dumped: dict[int, Any]) -> dict[str, Any]:
    return {
        "idempotency_key": p.job.key,
        "template": p.job.template,
        "channel": p.job.channel,
        "contact_id": p.contact_id,
        "unit_id": p.unit_id,
        "cycle_id": p.cycle_id,
        "recipient": p.job.recipient[:254],
        "subject": p.job.subject[:500] or None,
        "status": p.status.value,
        "attempts": 0,
        "error": p.error,
        "fallback_of_id": p.fallback_of.row_id if p.fallback_of else None,
        "payload": _payload(p, as_of, dumped),
        "created_at": now,
        "updated_at": now,
    }


def _record_intents(engine: Engine, planned: list[_Planned], as_of: date) -> None:
    """Insert a row per job (pending, or skipped) unless its key exists, in one committed transaction; then
    read every row back. Core statements, executemany per chunk: no ORM objects for rows we never load."""
    if not planned:
        return
    now = utcnow()
    dumped: dict[int, Any] = {}
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(NotificationLog.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
    with engine.begin() as conn:
        for start in range(0, len(planned), _CHUNK):
            conn.execute(stmt, [_intent_row(p, as_of, now, dumped) for p in planned[start : start + _CHUNK]])
    _read_back(engine, planned)


_INSERT_RETURNING_ID = sa.insert(NotificationLog.__table__).returning(NotificationLog.__table__.c.id)


def _record_claimed(engine: Engine, p: _Planned, as_of: date, run_id: str, lease: float) -> bool:
    """A batch of one job: insert its row already claimed by this run, with its lease, in one committed
    transaction (intent and claim at once). False when the key exists (an earlier or concurrent run of the
    same message): the caller reads that row back and claims it like any other."""
    now = utcnow()
    row = _intent_row(p, as_of, now, {}) | {
        "status": DeliveryStatus.claimed.value,
        "claimed_by": run_id,
        "lease_until": now + timedelta(seconds=lease),
    }
    # A plain INSERT, the key's unique index refusing a duplicate: SQLAlchemy compiles an ON CONFLICT
    # statement anew for every execution (it cannot cache it), which cost more than the rest of the insert.
    try:
        with engine.begin() as conn:
            row_id = conn.execute(_INSERT_RETURNING_ID, row).scalar_one()
    except sa.exc.IntegrityError:
        return False  # the key exists; when it does not, the caller finds no row and says so
    p.row_id, p.status, p.attempts, p.won = row_id, DeliveryStatus.claimed, 0, True
    return True


def _read_back(engine: Engine, planned: list[_Planned]) -> None:
    """Each job's row as it stands now: id, status, attempts, provider id, error."""
    table = NotificationLog.__table__
    by_key = {p.job.key: p for p in planned}
    keys = list(by_key)
    with engine.connect() as conn:
        for start in range(0, len(keys), _CHUNK):
            query = sa.select(
                table.c.id,
                table.c.idempotency_key,
                table.c.status,
                table.c.attempts,
                table.c.provider_message_id,
                table.c.error,
            ).where(table.c.idempotency_key.in_(keys[start : start + _CHUNK]))
            for row_id, key, status, attempts, provider_id, error in conn.execute(query):
                p = by_key[key]
                p.row_id, p.status, p.attempts = row_id, DeliveryStatus(status), attempts
                p.provider_message_id, p.error = provider_id, error


def _run_id() -> str:
    """Who holds a claim: host, process and a random part (two batches in one process differ)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _claimable(now: datetime) -> Any:
    """Rows a run may claim: recorded and not sent yet, failed transiently, or claimed by a run whose lease
    ran out (it died, or hangs: either way it no longer renews)."""
    c = NotificationLog.__table__.c
    return sa.or_(
        c.status == DeliveryStatus.pending.value,
        c.status == DeliveryStatus.failed_transient.value,
        sa.and_(c.status == DeliveryStatus.claimed.value, c.lease_until < now),
    )


def _claim(engine: Engine, run_id: str, chunk: list[_Planned], lease: float) -> dict[int, int]:
    """Claim the rows of ``chunk`` that no one else holds, in one committed transaction; returns
    {row id: attempts so far} of the rows won.

    PostgreSQL: the rows are locked with ``SELECT … FOR UPDATE SKIP LOCKED`` (a row another run is claiming
    or settling right now is skipped, not waited for) and updated in the same statement. SQLite: one
    conditional ``UPDATE … WHERE <claimable>``; SQLite runs one writer at a time, so the condition is
    checked and the claim written atomically; ``RETURNING`` says which rows this run won."""
    table = NotificationLog.__table__
    now = utcnow()
    ids = [p.row_id for p in chunk if p.row_id is not None]
    if not ids:
        return {}
    where: Any = table.c.id.in_(ids)
    if engine.dialect.name == "postgresql":
        locked = sa.select(table.c.id).where(where, _claimable(now)).with_for_update(skip_locked=True)
        where = table.c.id.in_(locked.scalar_subquery())
    stmt = (
        sa.update(table)
        .where(where, _claimable(now))
        .values(
            status=DeliveryStatus.claimed.value,
            claimed_by=run_id,
            lease_until=now + timedelta(seconds=lease),
            updated_at=now,
        )
        .returning(table.c.id, table.c.attempts)
    )
    with engine.begin() as conn:
        return {row_id: attempts for row_id, attempts in conn.execute(stmt)}


@dataclass
class _Held:
    engine: Engine
    run_id: str
    lease_seconds: float
    due: float  # time.monotonic() of the next renewal


class _LeaseKeeper:
    """Renews the leases of every run of this process that holds claimed rows, every third of each run's
    lease, from one thread started on first use (not one per batch: a portal sends a batch per upload), so
    a lease only runs out when the process is gone or hangs. A run is held from its first claim until its
    outcomes are written (:meth:`hold` / :meth:`release`)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:  # also in a forked child: the parent's thread and lock state are not its own
        self._cond = threading.Condition()
        self._runs: dict[int, _Held] = {}
        self._thread: threading.Thread | None = None
        self._ids = itertools.count()

    def hold(self, engine: Engine, run_id: str, lease_seconds: float) -> int:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="notification-leases", daemon=True)
                self._thread.start()
            key = next(self._ids)
            self._runs[key] = _Held(engine, run_id, lease_seconds, time.monotonic() + lease_seconds / 3)
            self._cond.notify()
            return key

    def release(self, key: int) -> None:
        with self._cond:
            self._runs.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [held for held in self._runs.values() if held.due <= now]
                if not due:
                    soonest = min((held.due for held in self._runs.values()), default=None)
                    self._cond.wait(None if soonest is None else soonest - now)
                    continue
                for held in due:
                    held.due = now + held.lease_seconds / 3
            for held in due:
                _renew(held)


def _renew(held: _Held) -> None:
    table = NotificationLog.__table__
    try:
        with held.engine.begin() as conn:
            conn.execute(
                sa.update(table)
                .where(table.c.claimed_by == held.run_id, table.c.status == DeliveryStatus.claimed.value)
                .values(lease_until=utcnow() + timedelta(seconds=held.lease_seconds))
            )
    except sa.exc.SQLAlchemyError as exc:  # the next renewal may succeed; the lease is the fallback
        logger.warning("notification lease renewal failed: %s", type(exc).__name__)


_leases = _LeaseKeeper()
os.register_at_fork(after_in_child=_leases._reset)


class _Claimer:
    """Hands workers their next job, claiming rows ``policy.claim_chunk`` at a time just before they are
    needed; jobs another run holds are passed over. This run's leases are renewed (:class:`_LeaseKeeper`)
    from the first row won until :meth:`close`."""

    def __init__(self, engine: Engine, run_id: str, policy: DeliveryPolicy, todo: list[_Planned]) -> None:
        self.engine, self.run_id, self.policy = engine, run_id, policy
        self._todo = deque(todo)
        self._ready: deque[_Planned] = deque()
        self._lock = threading.Lock()
        self._held: int | None = None

    def next(self) -> _Planned | None:
        with self._lock:
            while not self._ready and self._todo:
                chunk = [self._todo.popleft() for _ in range(min(self.policy.claim_chunk, len(self._todo)))]
                won = _claim(self.engine, self.run_id, chunk, self.policy.lease_seconds)
                for p in chunk:
                    if p.row_id in won:
                        p.won, p.status, p.attempts = True, DeliveryStatus.claimed, won[p.row_id]
                        self._ready.append(p)
                if won and self._held is None:
                    self._held = _leases.hold(self.engine, self.run_id, self.policy.lease_seconds)
            return self._ready.popleft() if self._ready else None

    def close(self) -> None:
        if self._held is not None:
            _leases.release(self._held)


class _OutcomeWriter:
    """One thread writes outcomes as they arrive: each transaction takes every outcome waiting at that
    moment (a busy batch commits several per transaction), then sets each one's ``durable`` event. A worker
    waits for that event before it takes its next job, so at most one message per worker is ever sent
    without its outcome being committed: what a crash can duplicate. One connection and one prepared
    UPDATE (Core executemany) for the batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._items: list[_Planned] = []
        self._closed = False
        self.thread = threading.Thread(target=self._run, name="notification-log-writer", daemon=True)
        self.thread.start()

    def put(self, planned: _Planned) -> None:
        with self._cond:
            self._items.append(planned)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _next_group(self) -> tuple[list[_Planned], bool]:
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            items, self._items = self._items, []
            return items, self._closed and not items

    def _run(self) -> None:
        conn: sa.Connection | None = None
        try:
            done = False
            while not done:
                items, done = self._next_group()
                try:
                    if items and self.error is None:
                        if conn is None:
                            conn = self.engine.connect()
                        self._write(conn, items)
                except BaseException as exc:  # surfaced by close(); the rows stay claimed and are resent
                    self.error = exc
                finally:
                    for p in items:
                        p.durable.set()
        finally:
            if conn is not None:
                conn.close()

    def _write(self, conn: sa.Connection, items: list[_Planned]) -> None:
        with conn.begin():
            _write_outcomes(conn, items)


_OUTCOME = (
    sa.update(NotificationLog.__table__)
    .where(NotificationLog.__table__.c.id == sa.bindparam("row_id"))
    .values(
        {
            name: sa.bindparam(name)
            for name in (
                "status",
                "attempts",
                "provider_message_id",
                "error",
                "sent_at",
                "updated_at",
                "lease_until",
                "next_attempt_at",
            )
        }
    )
)


def _write_outcomes(conn: sa.Connection, items: list[_Planned]) -> None:
    """The outcome of each job (status, attempts, provider id, error, next attempt), lease released."""
    now = utcnow()
    rows = [
        {
            "row_id": p.row_id,
            "status": p.status.value,
            "attempts": p.attempts,
            "provider_message_id": p.provider_message_id,
            "error": p.error,
            "sent_at": now if p.status == DeliveryStatus.sent else None,
            "updated_at": now,
            "lease_until": None,
            "next_attempt_at": p.next_attempt_at,
        }
        for p in items
    ]
    # Core executemany: the ORM bulk update's matched-row check is unreliable with psycopg's executemany.
    conn.execute(_OUTCOME, rows)


class _WriteNow:
    """The outcome writer of a batch of one job: the outcome is committed on the sending thread, before
    :func:`_deliver_one` returns (what :class:`_OutcomeWriter` guarantees before a worker's next job)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, planned: _Planned) -> None:
        try:
            with self.engine.begin() as conn:
                _write_outcomes(conn, [planned])
        finally:
            planned.durable.set()


# ---------------------------------------------------------------- sending


def _backoff(policy: DeliveryPolicy, attempt: int) -> float:
    """Exponential with full jitter, capped: attempt 1 → up to backoff_initial, then doubling."""
    ceiling = min(policy.backoff_max, policy.backoff_initial * (2 ** (attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


def _retry_delay(policy: DeliveryPolicy, attempts: int) -> timedelta:
    """When :func:`retry_deliveries` may try again: ``retry_after``, doubling for every batch that has
    failed (``max_attempts`` attempts each), capped at ``retry_max``."""
    batches = max(1, math.ceil(attempts / policy.max_attempts))
    return timedelta(seconds=min(policy.retry_max, policy.retry_after * 2 ** min(batches - 1, 30)))


def _deliver_one(
    p: _Planned,
    sender: Sender,
    policy: DeliveryPolicy,
    writer: _OutcomeWriter | _WriteNow,
    secrets: list[str],
    sleep: Callable[[float], None],
) -> None:
    p.attempted_now = True
    for attempt in range(1, policy.max_attempts + 1):
        try:
            result = sender.send(p.job)
        except Exception as exc:  # a bug in a channel must not lose the outcome of the others
            result = Attempt(False, transient=True, error=f"{type(exc).__name__}: {exc}")
        p.attempts += 1
        if result.ok:
            p.status, p.provider_message_id, p.error = DeliveryStatus.sent, result.provider_message_id, None
            break
        p.error = redact(result.error, secrets)[:2000]
        if not result.transient:
            p.status = DeliveryStatus.failed_permanent
            break
        p.status = DeliveryStatus.failed_transient
        if p.attempts >= policy.max_total_attempts:
            p.status = DeliveryStatus.failed_permanent
            p.error = f"gave up after {p.attempts} attempts: {p.error}"[:2000]
            break
        if not result.retry_in_batch:
            break
        if attempt < policy.max_attempts:
            sleep(_backoff(policy, attempt))
    if p.status == DeliveryStatus.failed_transient and _falls_back(p):
        # Zalo failed repeatedly: the contact gets the email instead (planned by _fallbacks), and this
        # channel is closed so that a later retry cannot deliver the message a second time.
        p.status = DeliveryStatus.failed_permanent
        p.error = f"{p.error} (after {p.attempts} attempts; sent by email instead)"[:2000]
    p.next_attempt_at = (
        utcnow() + _retry_delay(policy, p.attempts) if p.status == DeliveryStatus.failed_transient else None
    )
    writer.put(p)
    p.durable.wait()


def _falls_back(p: _Planned) -> bool:
    """A Zalo/ZNS job whose message can go by email instead: the contact has an email, the message does
    not already use it."""
    return (
        p.job.channel in (Channel.zalo, Channel.zns)
        and bool(p.contact_email)
        and not p.email_planned
        and p.rendered is not None
    )


def _deliver_on_channel(
    p: _Planned,
    *,
    by_channel: dict[str, Sender],
    policy: DeliveryPolicy,
    writer: _OutcomeWriter,
    secrets: list[str],
    sleep: Callable[[float], None],
) -> None:
    _deliver_one(p, by_channel[p.job.channel], policy, writer, secrets, sleep)


def _run_workers(
    next_job: Callable[[], _Planned | None], workers: int, deliver: Callable[[_Planned], None]
) -> None:
    """``deliver`` every job ``next_job`` hands out, on up to ``workers`` threads, each taking the next job
    when it is done.

    Plain threads rather than an executor: a future per job costs more than the bookkeeping is worth here.
    As with an executor, every job runs even if one raises, and the first exception is raised once all are
    done; if this thread is interrupted, the workers stop after their current job.
    """
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        while not stop.is_set():
            try:
                with lock:
                    p = next_job()
            except BaseException as exc:  # claiming failed (database): stop this worker, report it
                errors.append(exc)
                return
            if p is None:
                return
            try:
                deliver(p)
            except BaseException as exc:
                errors.append(exc)

    started: list[threading.Thread] = []
    try:
        for i in range(workers):
            thread = threading.Thread(target=work, name=f"notify-{i}")
            thread.start()
            started.append(thread)
        for thread in started:
            thread.join()
    finally:
        stop.set()
    if errors:
        raise errors[0]


@dataclass
class _Senders:
    settings: Settings
    _email: Sender | None = None
    _zalo: Sender | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_channel(self, channel: str) -> Sender:
        with self.lock:
            if channel == Channel.email:
                if self._email is None:
                    self._email = email_sender(self.settings)
                return self._email
            if self._zalo is None:
                self._zalo = zalo_sender(self.settings)
            return self._zalo

    def close(self) -> None:
        for sender in (self._email, self._zalo):
            if sender is not None:
                sender.close()


_token_providers: dict[tuple[str, str], DatabaseZaloTokens] = {}
_token_lock = threading.Lock()


def _register_zalo_tokens(engine: Engine, settings: Settings) -> DatabaseZaloTokens | None:
    if not (settings.zalo_enabled and settings.zalo_app_id and settings.zalo_secret_key):
        return None
    key = (str(engine.url), settings.zalo_app_id)
    with _token_lock:
        provider = _token_providers.get(key)
        if (
            provider is None
            or provider.oauth_url != settings.zalo_oauth_base.rstrip("/") + "/v4/oa/access_token"
        ):
            provider = DatabaseZaloTokens(
                engine=engine,
                app_id=settings.zalo_app_id,
                secret_key=settings.zalo_secret_key,
                oauth_base=settings.zalo_oauth_base,
            )
            _token_providers[key] = provider
    apprise_zalo.register_token_provider(settings.zalo_app_id, provider)
    return provider


def _fallbacks(planned: list[_Planned]) -> list[_Planned]:
    """Email replacements for Zalo jobs that failed permanently, when the contact has an email that this
    message does not already use. Their key is the ordinary email key, so a re-run never sends two."""
    out = []
    for p in planned:
        if p.status == DeliveryStatus.failed_permanent and _falls_back(p):
            assert p.rendered is not None and p.contact_email is not None
            job = Job(
                key=log_key(p.message.key, p.contact_id, Channel.email),
                channel=Channel.email,
                recipient=p.contact_email,
                recipient_name=p.job.recipient_name,
                template=p.job.template,
                subject=p.rendered.subject,
                html=p.rendered.html,
                text=p.rendered.text,
                zalo="",
                attachments=p.job.attachments,
                from_name=p.job.from_name,
            )
            out.append(
                _Planned(
                    job,
                    p.message,
                    p.contact_id,
                    p.unit_id,
                    p.cycle_id,
                    fallback_of=p,
                    contact_email=p.contact_email,
                    email_planned=True,
                    rendered=p.rendered,
                )
            )
    unique: dict[str, _Planned] = {}
    for f in out:
        unique.setdefault(f.job.key, f)
    return list(unique.values())


def send_batch(
    messages: Sequence[Message],
    *,
    db_url: str | None = None,
    settings: Settings | None = None,
    policy: DeliveryPolicy | None = None,
    as_of: date | None = None,
    sleep: Callable[[float], None] = time.sleep,
    loaded: Loaded | None = None,
) -> BatchResult:
    """Send ``messages`` on every channel their contacts prefer and return one :class:`Delivery` per
    (message × recipient × channel), in input order, fallbacks last.

    Safe to run again, and at the same time as another run of the same messages: what was delivered, or
    is being delivered by a live run, is not sent again (see the module docstring for the exact
    guarantee). Raises :class:`tasks.notify.render.RenderError` before anything is recorded or sent if a
    template cannot be rendered.
    """
    settings = settings or get_settings()
    return _send(
        messages,
        engine=get_engine(db_url or settings.resolved_database_url),
        settings=settings,
        policy=policy or DeliveryPolicy(),
        as_of=as_of or settings.today(),
        sleep=sleep,
        loaded=loaded,
    )


def _send_one(
    engine: Engine,
    run_id: str,
    p: _Planned,
    as_of: date,
    policy: DeliveryPolicy,
    senders: _Senders,
    secrets: list[str],
    sleep: Callable[[float], None],
) -> None:
    """A batch of one job, with the guarantee of the pooled path and a third of its database work: the row
    is recorded already claimed (or, when it exists, read back and claimed like any other), sent on this
    thread while the lease is renewed, and its outcome committed before this returns."""
    if not _record_claimed(engine, p, as_of, run_id, policy.lease_seconds):
        _read_back(engine, [p])
        if p.row_id is None:
            raise RuntimeError(f"the notification log refused the row of {p.job.key!r}")
        if p.status in FINAL_STATUSES:
            return
        won = _claim(engine, run_id, [p], policy.lease_seconds)
        if p.row_id not in won:
            return  # another run holds it
        p.won, p.status, p.attempts = True, DeliveryStatus.claimed, won[p.row_id]
    held = _leases.hold(engine, run_id, policy.lease_seconds)
    try:
        _deliver_one(p, senders.for_channel(p.job.channel), policy, _WriteNow(engine), secrets, sleep)
    finally:
        _leases.release(held)


def _send(
    messages: Sequence[Message],
    *,
    engine: Engine,
    settings: Settings,
    policy: DeliveryPolicy,
    as_of: date,
    sleep: Callable[[float], None],
    only_keys: set[str] | None = None,
    loaded: Loaded | None = None,
) -> BatchResult:
    started = time.perf_counter()
    secrets = secret_values(settings.smtp_url, settings.zalo_secret_key, settings.team_notify_urls)
    tokens = _register_zalo_tokens(engine, settings)
    if tokens is not None:
        tokens.begin_batch()  # Zalo's token refresh: at most one refused call per batch

    with Session(engine) as session:
        planned = _plan(session, messages, settings, policy, as_of, only_keys, loaded)

    everything: list[_Planned] = []
    passed_over: list[_Planned] = []
    senders = _Senders(settings)
    workers = policy.concurrency or settings.send_concurrency
    run_id = _run_id()
    try:
        round_ = planned
        while round_:
            everything.extend(round_)
            if len(round_) == 1 and round_[0].status == DeliveryStatus.pending:
                # One job (the portal's intake notice, one reply): no worker pool, no writer thread.
                _send_one(engine, run_id, round_[0], as_of, policy, senders, secrets, sleep)
                passed_over.extend(p for p in round_ if not p.won)
                round_ = _fallbacks(round_)
                continue
            _record_intents(engine, round_, as_of)
            todo = [p for p in round_ if p.status not in FINAL_STATUSES]
            by_channel = {channel: senders.for_channel(channel) for channel in {p.job.channel for p in todo}}
            claimer = _Claimer(engine, run_id, policy, todo)
            writer = _OutcomeWriter(engine)
            try:
                deliver = partial(
                    _deliver_on_channel,
                    by_channel=by_channel,
                    policy=policy,
                    writer=writer,
                    secrets=secrets,
                    sleep=sleep,
                )
                _run_workers(claimer.next, min(workers, len(todo)), deliver)
            finally:
                claimer.close()
                writer.close()
            passed_over.extend(p for p in todo if not p.won)
            round_ = _fallbacks(round_)
    finally:
        senders.close()
    # Jobs another run held: report them as they stand now (sent by it, or still in its hands).
    _read_back(engine, passed_over)

    result = BatchResult(
        deliveries=[
            Delivery(
                idempotency_key=p.job.key,
                template=p.job.template,
                channel=p.job.channel,
                contact_id=p.contact_id,
                recipient=p.job.recipient,
                status=p.status,
                attempts=p.attempts,
                attempted_now=p.attempted_now,
                provider_message_id=p.provider_message_id,
                error=p.error,
                fallback_of=p.fallback_of.job.key if p.fallback_of else None,
            )
            for p in everything
        ],
        seconds=time.perf_counter() - started,
    )
    logger.info("notification batch: %s", result.summary())
    return result


def retry_deliveries(
    *,
    db_url: str | None = None,
    settings: Settings | None = None,
    policy: DeliveryPolicy | None = None,
    now: datetime | None = None,
    limit: int = 5000,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Send again what is due: rows that failed transiently whose ``next_attempt_at`` has come, rows a
    dead run had claimed (lease run out), and rows recorded but never claimed (their run died before
    claiming them; older than one lease). Each is rebuilt from its stored payload (message, day, ZNS
    template) and claimed like any other; a row is retried at most ``policy.max_total_attempts`` times
    in all, then it is ``failed_permanent``. Called by the daily send-reminders run; safe to call any time.
    """
    settings = settings or get_settings()
    policy = policy or DeliveryPolicy()
    engine = get_engine(db_url or settings.resolved_database_url)
    now = now or utcnow()
    c = NotificationLog.__table__.c
    due = sa.or_(
        sa.and_(
            c.status == DeliveryStatus.failed_transient.value,
            sa.or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        ),
        sa.and_(c.status == DeliveryStatus.claimed.value, c.lease_until < now),
        sa.and_(
            c.status == DeliveryStatus.pending.value,
            c.created_at < now - timedelta(seconds=policy.lease_seconds),
        ),
    )
    query = sa.select(c.idempotency_key, c.payload).where(due).order_by(c.id).limit(limit)
    groups: dict[tuple[str, str | None], tuple[dict[str, Message], set[str]]] = {}
    with engine.connect() as conn:
        for key, payload in conn.execute(query):
            if not isinstance(payload, dict) or "message" not in payload:
                continue  # recorded before payloads were kept: only a re-run of its batch can send it
            message = Message.model_validate(payload["message"])
            messages, keys = groups.setdefault((payload["as_of"], payload.get("zns_template")), ({}, set()))
            messages.setdefault(f"{message.key}\x00{message.contact_id}", message)
            keys.add(key)
    deliveries: list[Delivery] = []
    started = time.perf_counter()
    for (day, zns_template), (messages, keys) in groups.items():
        group_policy = policy
        if zns_template:
            templates = {m.template: zns_template for m in messages.values()}
            group_policy = policy.model_copy(update={"zns_templates": {**policy.zns_templates, **templates}})
        result = _send(
            list(messages.values()),
            engine=engine,
            settings=settings,
            policy=group_policy,
            as_of=date.fromisoformat(day),
            sleep=sleep,
            only_keys=keys,
        )
        deliveries.extend(result.deliveries)
    result = BatchResult(deliveries=deliveries, seconds=time.perf_counter() - started)
    logger.info("notification retry: %s", result.summary())
    return result
