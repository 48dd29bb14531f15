"""The approval chain (thẩm định, phê duyệt) as configuration: the cycle's stages, in sequence (stages
sharing a sequence run in parallel), each with its approvers and the decisions it may take. Plain
functions in the caller's transaction; a change writes an audit entry.

The rest of the chain: ``versions.py`` (frozen plan versions), ``decisions.py`` (decisions, circulation,
issuing), ``reports.py`` (what people read), ``suspension.py`` (how a waiting run is found and answered).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.approval import ApprovalDecision, ApprovalStage, ApprovalStageApprover
from models.audit import record_audit
from models.base import ContactRole, nfc
from models.cycle import PlanningCycle
from models.registry import Contact, get_unit_by_code, list_unit_contacts
from tasks.errors import PlancycleError

DecisionKind = Literal["approve", "return_for_revision", "adjust", "reject_items"]
DECISION_KINDS: tuple[str, ...] = ("approve", "return_for_revision", "adjust", "reject_items")


class ApprovalError(PlancycleError):
    """The chain cannot do what was asked; ``message_vi`` says why, for the coordinator."""

    catalog = "approval"


# ---------------------------------------------------------------- the chain as configuration


class StageConfig(BaseModel):
    """One stage as written in the cycle's chain file. Stages sharing ``sequence`` run in parallel."""

    code: str = Field(min_length=1, max_length=32, title="Mã bước")
    name: str = Field(min_length=1, max_length=200, title="Tên bước")
    sequence: int = Field(ge=1, title="Thứ tự (cùng thứ tự = song song)")
    deadline: date | None = Field(None, title="Hạn cho ý kiến")
    approvers: list[str | int] = Field(
        min_length=1, title="Người phê duyệt (mã đơn vị, email hoặc mã liên hệ)"
    )
    allowed_decisions: list[DecisionKind] = Field(
        default_factory=lambda: list(DECISION_KINDS),
        title="Các quyết định được phép: approve = thống nhất, return_for_revision = trả lại, "
        "adjust = điều chỉnh kinh phí, reject_items = loại nhiệm vụ",
    )


def load_chain_file(path: Path) -> list[StageConfig]:
    """Stages from a YAML file: a list of stages, or ``{stages: [...]}``. The file is the cycle's, wherever
    the coordinator keeps it (not a template: ``templates.load_yaml`` does not apply)."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    stages = data.get("stages", []) if isinstance(data, dict) else data
    return [StageConfig.model_validate(s) for s in stages or []]


def resolve_contact(session: Session, who: str | int) -> Contact | None:
    """A contact by id (digits) or by email (case-insensitive, active contacts first)."""
    text = str(who).strip()
    if text.isdigit():
        return session.get(Contact, int(text))
    candidates = session.exec(select(Contact).where(Contact.email.is_not(None))).all()  # type: ignore[union-attr]
    matches = [c for c in candidates if (c.email or "").lower() == text.lower()]
    matches.sort(key=lambda c: (not c.active, c.id or 0))
    return matches[0] if matches else None


def resolve_approvers(session: Session, who: str | int) -> list[Contact]:
    """The contacts ``who`` names: one contact by id or email, or a unit by its code (its active approvers,
    else its heads, as the registry lists them: vai_tro phe_duyet, thu_truong)."""
    contact = resolve_contact(session, who)
    if contact is not None:
        return [contact]
    unit = get_unit_by_code(session=session, code=str(who).strip())
    if unit is None or unit.id is None:
        return []
    for role in (ContactRole.approver, ContactRole.head):
        found = list_unit_contacts(session=session, unit_id=unit.id, roles=[role])
        if found:
            return found
    return []


def configure_chain(
    *, session: Session, cycle: PlanningCycle, stages: list[StageConfig] | list[dict[str, Any]], actor: str
) -> list[ApprovalStage]:
    """Make the cycle's chain match ``stages``: stages upserted by code, approvers replaced, stages no
    longer listed removed unless a decision refers to them. Running it twice changes nothing the second
    time (and writes no audit entry)."""
    assert cycle.id is not None
    configs = [s if isinstance(s, StageConfig) else StageConfig.model_validate(s) for s in stages]
    if not configs:
        raise ApprovalError("no_stages", year=cycle.year)
    existing = {s.code: s for s in list_stages(session=session, cycle=cycle)}
    changes: list[str] = []
    result: list[ApprovalStage] = []
    for config in configs:
        contact_ids: list[int] = []
        for who in config.approvers:
            contacts = resolve_approvers(session, who)
            if not contacts:
                raise ApprovalError("unknown_approver", stage=config.code, who=who)
            contact_ids += [c.id for c in contacts if c.id is not None and c.id not in contact_ids]
        stage = existing.pop(config.code, None)
        values = {
            "name": nfc(config.name),
            "sequence": config.sequence,
            "deadline": config.deadline,
            "allowed_decisions": list(config.allowed_decisions),
        }
        if stage is None:
            stage = ApprovalStage(cycle_id=cycle.id, code=config.code, **values)  # type: ignore[arg-type]
            session.add(stage)
            session.flush()
            changes.append(f"+{config.code}")
        elif any(getattr(stage, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(stage, k, v)
            changes.append(f"~{config.code}")
        current = set(
            session.exec(
                select(ApprovalStageApprover.contact_id).where(ApprovalStageApprover.stage_id == stage.id)
            )
        )
        wanted = set(contact_ids)
        for contact_id in wanted - current:
            session.add(ApprovalStageApprover(stage_id=stage.id, contact_id=contact_id))  # type: ignore[arg-type]
        for link in session.exec(
            select(ApprovalStageApprover).where(
                ApprovalStageApprover.stage_id == stage.id,
                col(ApprovalStageApprover.contact_id).in_(current - wanted),
            )
        ):
            session.delete(link)
        if wanted != current and f"+{config.code}" not in changes:
            changes.append(f"~{config.code}:approvers")
        result.append(stage)
    for stale in existing.values():
        used = session.exec(select(ApprovalDecision.id).where(ApprovalDecision.stage_id == stale.id)).first()
        if used is None:
            for link in session.exec(
                select(ApprovalStageApprover).where(ApprovalStageApprover.stage_id == stale.id)
            ):
                session.delete(link)
            session.flush()
            session.delete(stale)
            changes.append(f"-{stale.code}")
    if changes:
        record_audit(
            session=session,
            actor=actor,
            action="approval.chain_configured",
            subject=cycle,
            cycle=cycle,
            details={"changes": changes, "stages": [c.model_dump(mode="json") for c in configs]},
        )
    session.flush()
    return sorted(result, key=lambda s: (s.sequence, s.id or 0))


def list_stages(*, session: Session, cycle: PlanningCycle) -> list[ApprovalStage]:
    """The cycle's stages in order (sequence, then the order they were configured)."""
    return list(
        session.exec(
            select(ApprovalStage)
            .where(ApprovalStage.cycle_id == cycle.id)
            .order_by(col(ApprovalStage.sequence), col(ApprovalStage.id))
        )
    )


def stage_groups(stages: list[ApprovalStage]) -> list[list[ApprovalStage]]:
    """Stages grouped by sequence: each group runs in parallel, groups one after another."""
    groups: dict[int, list[ApprovalStage]] = defaultdict(list)
    for stage in stages:
        groups[stage.sequence].append(stage)
    return [groups[k] for k in sorted(groups)]


def stage_approvers(*, session: Session, stage: ApprovalStage) -> list[Contact]:
    """The stage's approvers, in the order they were added to the registry."""
    return list(
        session.exec(
            select(Contact)
            .join(ApprovalStageApprover, col(ApprovalStageApprover.contact_id) == col(Contact.id))
            .where(ApprovalStageApprover.stage_id == stage.id)
            .order_by(col(Contact.id))
        )
    )


def get_stage(*, session: Session, cycle: PlanningCycle, code: str) -> ApprovalStage:
    """The cycle's stage ``code`` (``ApprovalError`` if there is none)."""
    stage = session.exec(
        select(ApprovalStage).where(ApprovalStage.cycle_id == cycle.id, ApprovalStage.code == code)
    ).first()
    if stage is None:
        raise ApprovalError("unknown_stage", code=code, year=cycle.year)
    return stage
