"""Signed links for units: HMAC-SHA256, scoped to one unit and one cycle, expiring, revocable.

A token is ``<payload>.<signature>`` in base64url. The payload names the unit code, the cycle year, the
purpose, the expiry and a nonce; the nonce has a row in ``accesslink`` so a link can be revoked. New tokens
are signed with ``PLANCYCLE_SIGNING_SECRET``; tokens signed with a secret listed in
``PLANCYCLE_SIGNING_SECRET_PREVIOUS`` are still accepted, so the secret can be rotated without breaking links
already sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from models import AccessLink, PlanningCycle, Unit
from models.base import utcnow
from plancycle.settings import UNSAFE_DEV_SECRET, Settings, get_settings

REISSUE_MARGIN = timedelta(days=7)  # a link valid for less than this is not handed out again


class LinkError(Exception):
    """A link that must be refused. ``reason`` is a key of templates/errors/links.yaml."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class LinkGrant:
    unit_id: int
    cycle_id: int
    purpose: str
    nonce: str
    # The unit and cycle as the verifying session loaded them: a page answered in that session uses them
    # instead of loading them again (the session's identity map keeps objects only while they are used).
    unit: Unit | None = field(default=None, compare=False, repr=False)
    cycle: PlanningCycle | None = field(default=None, compare=False, repr=False)
    expires_at: datetime | None = field(default=None, compare=False, repr=False)  # the link row's

    def still_current(self, now: datetime | None = None) -> bool:
        """Whether the link this grant came from is one :func:`issue_link_token` would hand out again (its
        purpose, valid for more than ``REISSUE_MARGIN``): a message about this visit can carry it."""
        return (
            self.purpose == "submission"
            and self.expires_at is not None
            and _aware(self.expires_at) > (now or utcnow()) + REISSUE_MARGIN
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_keys(settings: Settings) -> list[bytes]:
    """The keys a signature may have been made with: the current secret first (the only one that signs),
    then each of ``PLANCYCLE_SIGNING_SECRET_PREVIOUS`` so links sent before a rotation keep working."""
    keys = [settings.signing_secret.get_secret_value().encode()]
    if settings.signing_secret_previous is not None:
        previous = (old.strip() for old in settings.signing_secret_previous.get_secret_value().split(","))
        # the built-in development secret is never a valid production key, not even as a former one
        refused = UNSAFE_DEV_SECRET if settings.env == "production" else None
        keys += [old.encode() for old in previous if old and old != refused]
    return keys


def _sign(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def signed_token(payload: dict[str, object], settings: Settings) -> str:
    """``payload`` as a token ``<payload>.<signature>`` signed with the current secret (any scope: unit
    links here, approvers' links in ``tasks/approval/access.py``)."""
    text = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{text}.{_sign(text, signing_keys(settings)[0])}"


def read_signed_token(token: str, settings: Settings) -> dict[str, object]:
    """The payload of a token signed by ``signed_token`` with any accepted key; ``LinkError("tampered")``
    when the signature or the payload does not hold."""
    payload, _, signature = token.partition(".")
    if not payload or not signature or not _signature_matches(payload, signature, settings):
        raise LinkError("tampered")
    try:
        body = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        raise LinkError("tampered") from None
    if not isinstance(body, dict):
        raise LinkError("tampered")
    return body


def _signature_matches(payload: str, signature: str, settings: Settings) -> bool:
    """Constant-time comparison against every accepted key (all of them, so timing says nothing)."""
    given = signature.encode()  # bytes: a non-ASCII str would make compare_digest raise
    matches = [hmac.compare_digest(given, _sign(payload, key).encode()) for key in signing_keys(settings)]
    return any(matches)


def issue_link_token(
    *,
    session: Session,
    unit: Unit,
    cycle: PlanningCycle,
    purpose: str = "submission",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> str:
    """A token for the unit's page. Reuses the unit's current link while it stays valid for more than a
    week, so messages sent again carry the same address."""
    settings = settings or get_settings()
    now = now or utcnow()
    link = session.exec(
        select(AccessLink)
        .where(
            AccessLink.unit_id == unit.id,
            AccessLink.cycle_id == cycle.id,
            AccessLink.purpose == purpose,
            col(AccessLink.revoked_at).is_(None),
        )
        .order_by(col(AccessLink.expires_at).desc())
    ).first()
    if link is None or _aware(link.expires_at) <= now + REISSUE_MARGIN:
        link = AccessLink(
            nonce=secrets.token_urlsafe(16),
            unit_id=unit.id,  # type: ignore[arg-type]
            cycle_id=cycle.id,  # type: ignore[arg-type]
            purpose=purpose,
            expires_at=now + timedelta(days=settings.link_valid_days),
        )
        session.add(link)
        session.flush()
    body = {
        "u": unit.code,
        "y": cycle.year,
        "p": purpose,
        "n": link.nonce,
        "e": int(link.expires_at.timestamp()),
    }
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(payload, signing_keys(settings)[0])}"


def link_url(token: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"{settings.resolved_public_base_url}/u/{token}"


def verify_link_token(
    *, session: Session, token: str, now: datetime | None = None, settings: Settings | None = None
) -> LinkGrant:
    """The unit and cycle a token grants, or ``LinkError`` (tampered, expired, revoked, unknown)."""
    settings = settings or get_settings()
    now = now or utcnow()
    payload, _, signature = token.partition(".")
    if not payload or not signature or not _signature_matches(payload, signature, settings):
        raise LinkError("tampered")
    try:
        body = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        raise LinkError("tampered") from None
    if not isinstance(body, dict) or not {"u", "y", "n", "e"} <= body.keys():  # e.g. an approver's link
        raise LinkError("tampered")
    if datetime.fromtimestamp(body["e"], UTC) <= now:
        raise LinkError("expired")
    # The link, its unit and its cycle in one query: every unit page and every upload starts here.
    found = session.exec(
        select(AccessLink, Unit, PlanningCycle)
        .outerjoin(Unit, col(Unit.id) == AccessLink.unit_id)
        .outerjoin(PlanningCycle, col(PlanningCycle.id) == AccessLink.cycle_id)
        .where(AccessLink.nonce == body["n"])
    ).first()
    if found is None:
        raise LinkError("unknown")
    link, unit, cycle = found
    if link.revoked_at is not None:
        raise LinkError("revoked")
    if _aware(link.expires_at) <= now:  # the row decides: an expiry shortened in the database holds at once
        raise LinkError("expired")
    if unit is None or cycle is None or unit.code != body["u"] or cycle.year != body["y"]:
        raise LinkError("tampered")
    return LinkGrant(
        unit_id=link.unit_id,
        cycle_id=link.cycle_id,
        purpose=link.purpose,
        nonce=link.nonce,
        unit=unit,
        cycle=cycle,
        expires_at=link.expires_at,
    )


def revoke_links(*, session: Session, unit_id: int, cycle_id: int, now: datetime | None = None) -> int:
    """Revoke every link of a unit for a cycle (e.g. a leaked address); returns how many."""
    now = now or utcnow()
    links = session.exec(
        select(AccessLink).where(
            AccessLink.unit_id == unit_id,
            AccessLink.cycle_id == cycle_id,
            col(AccessLink.revoked_at).is_(None),
        )
    ).all()
    for link in links:
        link.revoked_at = now
    session.flush()
    return len(links)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
