"""The approver's link: a signed token (the same HMAC signing as the units' links, its own scope) naming one
approver (contact), one stage and one plan version of a cycle, expiring when the stage stops waiting (the
run's wait for a decision). No row is stored: the link stops working when it expires, when the contact
is no longer an approver of the stage, or once the stage has decided on that version (the page then
shows the decision, read-only). Plain functions in the caller's session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, select

from models.approval import ApprovalDecision, ApprovalStage
from models.base import utcnow
from models.cycle import PlanningCycle
from models.items import PlanVersion
from models.registry import Contact
from plancycle.settings import Settings
from tasks.approval.chain import list_stages, stage_approvers
from tasks.approval.versions import get_version
from tasks.common.links import LinkError, read_signed_token, signed_token

PURPOSE = "approval"
DEFAULT_WAIT_DAYS = 30  # circulate-for-approval's timeout_days by default


@dataclass
class ApproverGrant:
    """What an approver's link opens: the cycle, the stage, the version asked about, and who decides."""

    cycle: PlanningCycle
    stage: ApprovalStage
    version: PlanVersion
    contact: Contact
    expires: datetime
    final_stage: bool = False  # this stage issues the plan (the last stage of the chain)


def link_expiry(sent_on: date, wait_days: int) -> datetime:
    """The end of the last day the stage waits for a decision (23:59 in Vietnam, 16:59 UTC)."""
    return datetime.combine(sent_on + timedelta(days=wait_days), time(16, 59), tzinfo=UTC)


def issue_approver_token(
    *,
    cycle: PlanningCycle,
    stage: ApprovalStage,
    version_number: int,
    contact: Contact,
    expires: datetime,
    settings: Settings,
) -> str:
    """A token for ``contact``'s page of ``stage`` on version ``version_number``. The same inputs give the
    same token (a message re-sent carries the same address)."""
    body = {
        "p": PURPOSE,
        "y": cycle.year,
        "s": stage.code,
        "v": version_number,
        "c": contact.id,
        "e": int(expires.timestamp()),
    }
    return signed_token(body, settings)


def approver_url(token: str, settings: Settings) -> str:
    return f"{settings.resolved_public_base_url}/a/{token}"


def verify_approver_token(
    *, session: Session, token: str, settings: Settings, now: datetime | None = None
) -> ApproverGrant:
    """The grant of an approver's token, or ``LinkError`` (tampered, expired, unknown: the cycle, stage
    or version no longer exists, or the contact is no longer an approver of the stage)."""
    body = read_signed_token(token, settings)
    if body.get("p") != PURPOSE:
        raise LinkError("tampered")
    try:
        year, code, number = int(body["y"]), str(body["s"]), int(body["v"])  # type: ignore[arg-type]
        contact_id, expiry = int(body["c"]), int(body["e"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        raise LinkError("tampered") from None
    expires = datetime.fromtimestamp(expiry, UTC)
    if expires <= (now or utcnow()):
        raise LinkError("expired")
    cycle = session.exec(select(PlanningCycle).where(PlanningCycle.year == year)).first()
    if cycle is None:
        raise LinkError("unknown")
    stages = list_stages(session=session, cycle=cycle)
    stage = next((s for s in stages if s.code == code), None)
    version = get_version(session=session, cycle=cycle, number=number)
    contact = session.get(Contact, contact_id)
    if stage is None or version is None or contact is None:
        raise LinkError("unknown")
    if contact.id not in {c.id for c in stage_approvers(session=session, stage=stage)}:
        raise LinkError("revoked")
    return ApproverGrant(
        cycle=cycle,
        stage=stage,
        version=version,
        contact=contact,
        expires=expires,
        final_stage=stages[-1].id == stage.id,
    )


def stage_decision(*, session: Session, grant: ApproverGrant) -> ApprovalDecision | None:
    """The decision the stage took on the version of the link, if it took one (the page is then read-only
    and a second submit changes nothing)."""
    return session.exec(
        select(ApprovalDecision)
        .where(
            ApprovalDecision.stage_id == grant.stage.id,
            ApprovalDecision.plan_version_id == grant.version.id,
        )
        .order_by(ApprovalDecision.id)  # type: ignore[arg-type]
    ).first()
