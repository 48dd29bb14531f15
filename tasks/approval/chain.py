"""The approval chain (thẩm định, phê duyệt) as plain functions: no Prefect here.

- ``configure_chain``: the cycle's stages from a YAML file or a list of dicts (idempotent).
- ``freeze_version``: an immutable snapshot of the plan (canonical JSON, sha256), reused when nothing
  changed since the latest one.
- ``validate_decision`` / ``record_decision``: a decision on a version at a stage, refused with Vietnamese
  messages when invalid, recorded once per idempotency key; an adjustment or a rejection of items freezes
  a new version whose parent is the version decided on.
- ``finalize``: the issuing decision (number, date, signer); approved amounts become the plan.
- ``audit_workbook``: the chain's audit entries as an Excel file.

Every function works in the caller's transaction and writes every change through ``record_audit``. Amounts
typed in a decision are in the cycle's display unit (``PlanningCycle.money_unit``), Vietnamese format
accepted, and stored as integer đồng.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import xlsxwriter
import yaml
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.approval import ApprovalDecision, ApprovalStage, ApprovalStageApprover
from models.audit import AuditEntry, record_audit
from models.base import CycleStatus, nfc
from models.cycle import PlanningCycle, get_cycle_by_year, list_funding_sources
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Contact, Unit, get_unit_by_code
from tasks.common.money import MoneyFormatError, parse_money
from tasks.consolidation.plan import ConsolidatedPlan, build_plan
from templates import TEMPLATES_DIR, environment, error_text

DecisionKind = Literal["approve", "return_for_revision", "adjust", "reject_items"]
DECISION_KINDS: tuple[str, ...] = ("approve", "return_for_revision", "adjust", "reject_items")
CHAIN_ACTIONS = ("approval.", "plan.version", "plan.amount", "plan.item", "plan.approved")


class ApprovalError(ValueError):
    """The chain cannot do what was asked; ``message_vi`` says why, for the coordinator."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.message_vi = error_text("approval", key, "vi", **values)
        super().__init__(error_text("approval", key, "en", **values))


class DecisionRefused(ValueError):
    """An invalid decision: nothing was recorded. ``messages_vi`` are shown to the approver."""

    def __init__(self, messages_vi: list[str]) -> None:
        self.messages_vi = messages_vi
        super().__init__("; ".join(messages_vi))


# ---------------------------------------------------------------- the chain as configuration


class StageConfig(BaseModel):
    """One stage as written in the cycle's chain file. Stages sharing ``sequence`` run in parallel."""

    code: str = Field(min_length=1, max_length=32, title="Mã bước")
    name: str = Field(min_length=1, max_length=200, title="Tên bước")
    sequence: int = Field(ge=1, title="Thứ tự (cùng thứ tự = song song)")
    deadline: date | None = Field(None, title="Hạn cho ý kiến")
    approvers: list[str | int] = Field(min_length=1, title="Người phê duyệt (email hoặc mã liên hệ)")
    allowed_decisions: list[DecisionKind] = Field(
        default_factory=lambda: list(DECISION_KINDS), title="Các quyết định được phép"
    )


def load_chain_file(path: Path) -> list[StageConfig]:
    """Stages from a YAML file: a list of stages, or ``{stages: [...]}``."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    stages = data.get("stages", []) if isinstance(data, dict) else data
    return [StageConfig.model_validate(s) for s in stages or []]


def _resolve_contact(session: Session, who: str | int) -> Contact | None:
    """A contact by id (digits) or by email (case-insensitive, active contacts first)."""
    text = str(who).strip()
    if text.isdigit():
        return session.get(Contact, int(text))
    candidates = session.exec(select(Contact).where(Contact.email.is_not(None))).all()  # type: ignore[union-attr]
    matches = [c for c in candidates if (c.email or "").lower() == text.lower()]
    matches.sort(key=lambda c: (not c.active, c.id or 0))
    return matches[0] if matches else None


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
            contact = _resolve_contact(session, who)
            if contact is None or contact.id is None:
                raise ApprovalError("unknown_approver", stage=config.code, who=who)
            contact_ids.append(contact.id)
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
            entity="planningcycle",
            entity_id=cycle.id,
            cycle_id=cycle.id,
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
    return list(
        session.exec(
            select(Contact)
            .join(ApprovalStageApprover, col(ApprovalStageApprover.contact_id) == col(Contact.id))
            .where(ApprovalStageApprover.stage_id == stage.id)
            .order_by(col(Contact.id))
        )
    )


def get_stage(*, session: Session, cycle: PlanningCycle, code: str) -> ApprovalStage:
    stage = session.exec(
        select(ApprovalStage).where(ApprovalStage.cycle_id == cycle.id, ApprovalStage.code == code)
    ).first()
    if stage is None:
        raise ApprovalError("unknown_stage", code=code, year=cycle.year)
    return stage


def require_cycle(session: Session, year: int) -> PlanningCycle:
    cycle = get_cycle_by_year(session=session, year=year)
    if cycle is None or cycle.id is None:
        raise ApprovalError("no_cycle", year=year)
    return cycle


# ---------------------------------------------------------------- versions


def plan_content(*, session: Session, cycle: PlanningCycle) -> dict[str, Any]:
    """The plan as it stands, as plain JSON: sources in display order, items in plan order with their
    proposed and approved amounts (integer đồng, ``None`` = not stated / not set)."""
    sources = list_funding_sources(session=session, cycle_id=cycle.id)  # type: ignore[arg-type]
    code_of = {s.id: s.code for s in sources}
    items = list(
        session.exec(
            select(PlanItem)
            .where(PlanItem.cycle_id == cycle.id)
            .order_by(col(PlanItem.position), col(PlanItem.id))
        )
    )
    unit_codes = {u.id: u.code for u in session.exec(select(Unit))}
    amounts: dict[int, dict[str, dict[str, int | None]]] = defaultdict(dict)
    if items:
        for row in session.exec(
            select(PlanItemAmount).where(col(PlanItemAmount.item_id).in_([i.id for i in items]))
        ):
            if row.funding_source_id in code_of:
                amounts[row.item_id][code_of[row.funding_source_id]] = {
                    "proposed": row.amount,
                    "approved": row.approved_amount,
                }
    return {
        "year": cycle.year,
        "money_unit": cycle.money_unit,
        "sources": [{"code": s.code, "name": s.name} for s in sources],
        "items": [
            {
                "id": item.id,
                "ref": item.row_ref or str(item.position),
                "name": item.name,
                "lead_unit": unit_codes.get(item.lead_unit_id),
                "origin": item.origin,
                "field": item.field_code,
                "rejected": bool(item.rejected),
                "amounts": amounts.get(item.id or 0, {}),
            }
            for item in items
        ],
    }


def canonical_json(content: dict[str, Any]) -> str:
    """One spelling per content: keys sorted, no spaces, UTF-8 kept."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def latest_version(*, session: Session, cycle: PlanningCycle) -> PlanVersion | None:
    return session.exec(
        select(PlanVersion).where(PlanVersion.cycle_id == cycle.id).order_by(col(PlanVersion.number).desc())
    ).first()


def get_version(*, session: Session, cycle: PlanningCycle, number: int) -> PlanVersion | None:
    return session.exec(
        select(PlanVersion).where(PlanVersion.cycle_id == cycle.id, PlanVersion.number == number)
    ).first()


def freeze_version(
    *,
    session: Session,
    cycle: PlanningCycle,
    reason: str,
    actor: str,
    parent: PlanVersion | None = None,
    final: bool = False,
) -> PlanVersion:
    """Snapshot the plan as a new immutable version, or return the latest version when its content hash
    is the same (idempotent). ``parent`` defaults to the latest version. ``final`` marks the issued plan."""
    assert cycle.id is not None
    content = plan_content(session=session, cycle=cycle)
    if not content["items"]:
        raise ApprovalError("no_plan", year=cycle.year)
    digest = content_hash(content)
    latest = latest_version(session=session, cycle=cycle)
    if latest is not None and latest.content_hash == digest:
        if final and not latest.is_final:
            latest.is_final = True  # a flag on the version, never its content
            record_audit(
                session=session,
                actor=actor,
                action="plan.version_final",
                entity="planversion",
                entity_id=latest.id,
                cycle_id=cycle.id,
                details={"number": latest.number, "content_hash": digest},
            )
            session.flush()
        return latest
    base = parent or latest
    version = PlanVersion(
        cycle_id=cycle.id,
        number=(latest.number + 1) if latest else 1,
        content_hash=digest,
        content=content,
        reason=reason,
        parent_version_id=base.id if base else None,
        is_final=final,
        created_by=actor,
    )
    session.add(version)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="plan.version_frozen",
        entity="planversion",
        entity_id=version.id,
        cycle_id=cycle.id,
        details={
            "number": version.number,
            "content_hash": digest,
            "parent": base.number if base else None,
            "reason": reason,
            "final": final,
        },
    )
    return version


def effective_amount(amount: dict[str, int | None]) -> int | None:
    """The amount that counts: the approved one when a decision set it, else the proposed one."""
    return amount["approved"] if amount.get("approved") is not None else amount.get("proposed")


def version_totals(content: dict[str, Any]) -> dict[str, int]:
    """Exact totals of a version (đồng): per source code and ``total``, rejected items left out."""
    totals = {s["code"]: 0 for s in content["sources"]}
    for item in content["items"]:
        if item["rejected"]:
            continue
        for code, amount in item["amounts"].items():
            totals[code] = totals.get(code, 0) + (effective_amount(amount) or 0)
    totals["total"] = sum(v for k, v in totals.items())
    return totals


@dataclass
class VersionChange:
    ref: str
    name: str
    kind: Literal["amount", "rejected", "added", "removed"]
    source: str | None = None
    before: int | None = None
    after: int | None = None


def version_changes(older: dict[str, Any] | None, newer: dict[str, Any]) -> list[VersionChange]:
    """What changed between two versions, item by item (matched by item id), in plan order."""
    if older is None:
        return []
    before = {i["id"]: i for i in older["items"]}
    after_ids = {i["id"] for i in newer["items"]}
    changes: list[VersionChange] = []
    for item in newer["items"]:
        old = before.get(item["id"])
        if old is None:
            changes.append(VersionChange(ref=item["ref"], name=item["name"], kind="added"))
            continue
        if item["rejected"] and not old["rejected"]:
            changes.append(VersionChange(ref=item["ref"], name=item["name"], kind="rejected"))
        for code in sorted(set(item["amounts"]) | set(old["amounts"])):
            was = effective_amount(old["amounts"].get(code, {"proposed": None}))
            now = effective_amount(item["amounts"].get(code, {"proposed": None}))
            if was != now:
                changes.append(
                    VersionChange(
                        ref=item["ref"], name=item["name"], kind="amount", source=code, before=was, after=now
                    )
                )
    for old in older["items"]:
        if old["id"] not in after_ids:
            changes.append(VersionChange(ref=old["ref"], name=old["name"], kind="removed"))
    return changes


# ---------------------------------------------------------------- decisions


class AdjustmentIn(BaseModel):
    """A new amount for one item and one funding source, typed in the cycle's display unit."""

    item_ref: str = Field(title="STT nhiệm vụ, dự án (vd. I.3)")
    source_code: str = Field(title="Mã nguồn vốn")
    amount: str = Field(title="Số tiền mới (đơn vị tính của kế hoạch, vd. 1.000 hoặc 0,5)")
    reason: str = Field("", title="Lý do điều chỉnh")


class DecisionData(BaseModel):
    """A decision as an approver gives it (the Prefect form and ``plancycle decide`` share it)."""

    approver: str = Field("", title="Người quyết định (email hoặc mã liên hệ của người phê duyệt)")
    decision: DecisionKind = Field(
        "approve",
        title="Quyết định: approve = thống nhất, return_for_revision = trả lại, "
        "adjust = điều chỉnh kinh phí, reject_items = loại nhiệm vụ",
    )
    comment: str | None = Field(None, title="Ý kiến")
    return_to: Literal["coordinator", "units"] = Field(
        "coordinator", title="Trả lại cho: coordinator = cơ quan tổng hợp, units = các đơn vị nêu dưới đây"
    )
    unit_codes: list[str] = Field(default_factory=list, title="Mã các đơn vị được trả lại")
    adjustments: list[AdjustmentIn] = Field(default_factory=list, title="Điều chỉnh kinh phí")
    rejected_items: list[str] = Field(default_factory=list, title="STT các nhiệm vụ, dự án bị loại")
    decision_number: str | None = Field(None, title="Số quyết định ban hành (bước cuối)")
    decision_date: date | None = Field(None, title="Ngày quyết định (bước cuối)")
    signer: str | None = Field(None, title="Người ký (bước cuối)")
    entered_by: str | None = Field(None, title="Người nhập thay (khi nhập hộ người phê duyệt)")


def parse_adjustment(text: str) -> AdjustmentIn:
    """``"I.3:NSDP=1.000:lý do"`` → item I.3, source NSDP, amount "1.000" (display unit), reason."""
    ref, _, rest = text.partition(":")
    source, _, rest = rest.partition("=")
    amount, _, reason = rest.partition(":")
    return AdjustmentIn(
        item_ref=ref.strip(), source_code=source.strip(), amount=amount.strip(), reason=reason
    )


def _amount_in_dong(raw: str, money_unit: str) -> int | None:
    return parse_money(raw.strip(), money_unit)


def validate_decision(
    *,
    session: Session,
    cycle: PlanningCycle,
    version: PlanVersion,
    stage: ApprovalStage,
    data: DecisionData,
    final_stage: bool = False,
) -> list[str]:
    """Every reason to refuse ``data`` at ``stage`` on ``version``, in Vietnamese (empty: valid)."""
    problems: list[str] = []

    def refuse(key: str, **values: object) -> None:
        problems.append(error_text("approval", key, "vi", **values))

    if data.decision not in stage.allowed_decisions:
        refuse(
            "decision_not_allowed",
            stage=stage.name,
            kind=data.decision,
            allowed=", ".join(stage.allowed_decisions),
        )
    contact = _resolve_contact(session, data.approver) if data.approver.strip() else None
    approver_ids = {c.id for c in stage_approvers(session=session, stage=stage)}
    if contact is None or contact.id not in approver_ids:
        refuse("approver_not_in_stage", who=data.approver or "(trống)", stage=stage.name)
    refs = {i["ref"] for i in version.content["items"]}
    codes = [s["code"] for s in version.content["sources"]]
    if data.decision == "adjust":
        if not data.adjustments:
            refuse("adjustments_required")
        for adj in data.adjustments:
            if adj.item_ref not in refs:
                refuse("unknown_item", ref=adj.item_ref, version=version.number)
            if adj.source_code not in codes:
                refuse("unknown_source", ref=adj.item_ref, code=adj.source_code, codes=", ".join(codes))
            if adj.amount.strip().startswith(("-", "−")):
                refuse("negative_amount", ref=adj.item_ref, code=adj.source_code, raw=adj.amount)
            else:
                try:
                    if _amount_in_dong(adj.amount, cycle.money_unit) is None:
                        raise MoneyFormatError(adj.amount, "để trống", "empty")
                except MoneyFormatError as error:
                    refuse("bad_amount", ref=adj.item_ref, code=adj.source_code, message=error.message_vi)
            if not adj.reason.strip():
                refuse("adjustment_reason_required", ref=adj.item_ref, code=adj.source_code)
    if data.decision == "reject_items":
        if not data.rejected_items:
            refuse("items_required")
        for ref in data.rejected_items:
            if ref not in refs:
                refuse("unknown_item", ref=ref, version=version.number)
        if not (data.comment or "").strip():
            refuse("comment_required")
    if data.decision == "return_for_revision":
        if not (data.comment or "").strip():
            refuse("comment_required")
        if data.return_to == "units":
            if not data.unit_codes:
                refuse("return_needs_units")
            leads = {i["lead_unit"] for i in version.content["items"]}
            for code in data.unit_codes:
                if code not in leads:
                    refuse("unknown_unit", code=code)
    publication = (data.decision_number or "").strip(), data.decision_date, (data.signer or "").strip()
    if final_stage and data.decision == "approve" and not all(publication):
        refuse("publication_required")
    return problems


@dataclass
class DecisionOutcome:
    decision: ApprovalDecision
    version: PlanVersion  # the version decided on
    new_version: PlanVersion | None = None  # after an adjustment or a rejection
    recorded_now: bool = True

    @property
    def current_version(self) -> PlanVersion:
        return self.new_version or self.version


def get_decision(*, session: Session, idempotency_key: str) -> ApprovalDecision | None:
    return session.exec(
        select(ApprovalDecision).where(ApprovalDecision.idempotency_key == idempotency_key)
    ).first()


def record_decision(
    *,
    session: Session,
    cycle: PlanningCycle,
    version: PlanVersion,
    stage: ApprovalStage,
    data: DecisionData,
    idempotency_key: str,
    actor: str,
    final_stage: bool = False,
) -> DecisionOutcome:
    """Record ``data`` once per ``idempotency_key`` (a second call returns the first outcome untouched).

    Refused (``DecisionRefused``, nothing written) when ``validate_decision`` finds problems. An
    adjustment sets ``PlanItemAmount.approved_amount`` and a rejection ``PlanItem.rejected``, each with an
    audit entry, then a new version is frozen with ``version`` as parent."""
    existing = get_decision(session=session, idempotency_key=idempotency_key)
    if existing is not None:
        new_id = (existing.payload or {}).get("new_version_id")
        decided_on = session.get(PlanVersion, existing.plan_version_id)
        assert decided_on is not None
        return DecisionOutcome(
            decision=existing,
            version=decided_on,
            new_version=session.get(PlanVersion, new_id) if new_id else None,
            recorded_now=False,
        )
    problems = validate_decision(
        session=session, cycle=cycle, version=version, stage=stage, data=data, final_stage=final_stage
    )
    if problems:
        raise DecisionRefused(problems)
    contact = _resolve_contact(session, data.approver)
    assert contact is not None
    decided_by = data.entered_by and f"{data.entered_by} (thay {contact.email or contact.full_name})"
    who = decided_by or contact.email or contact.full_name
    payload: dict[str, Any] = {"stage": stage.code, "version": version.number}
    items = {
        i.row_ref: i
        for i in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id))
        if i.row_ref is not None
    }
    source_ids = {s.code: s.id for s in list_funding_sources(session=session, cycle_id=cycle.id)}  # type: ignore[arg-type]
    new_version: PlanVersion | None = None
    if data.decision == "adjust":
        applied = []
        for adj in data.adjustments:
            item = items[adj.item_ref]
            amount_row = session.exec(
                select(PlanItemAmount).where(
                    PlanItemAmount.item_id == item.id,
                    PlanItemAmount.funding_source_id == source_ids[adj.source_code],
                )
            ).first()
            if amount_row is None:
                amount_row = PlanItemAmount(item_id=item.id, funding_source_id=source_ids[adj.source_code])  # type: ignore[arg-type]
                session.add(amount_row)
            before = (
                amount_row.approved_amount if amount_row.approved_amount is not None else amount_row.amount
            )
            after = _amount_in_dong(adj.amount, cycle.money_unit)
            amount_row.approved_amount = after
            entry = {
                "item": adj.item_ref,
                "source": adj.source_code,
                "before": before,
                "after": after,
                "reason": nfc(adj.reason),
            }
            applied.append(entry)
            record_audit(
                session=session,
                actor=who,
                action="plan.amount_adjusted",
                entity="planitem",
                entity_id=item.id,
                cycle_id=cycle.id,
                details=entry | {"stage": stage.code, "version": version.number, "key": idempotency_key},
            )
        payload["adjustments"] = applied
    if data.decision == "reject_items":
        for ref in data.rejected_items:
            items[ref].rejected = True
            record_audit(
                session=session,
                actor=who,
                action="plan.item_rejected",
                entity="planitem",
                entity_id=items[ref].id,
                cycle_id=cycle.id,
                details={
                    "item": ref,
                    "reason": nfc(data.comment),
                    "stage": stage.code,
                    "key": idempotency_key,
                },
            )
        payload["rejected_items"] = list(data.rejected_items)
    if data.decision in ("adjust", "reject_items"):
        session.flush()
        new_version = freeze_version(
            session=session, cycle=cycle, reason=f"{data.decision}:{stage.code}", actor=who, parent=version
        )
        payload["new_version_id"] = new_version.id
        payload["new_version"] = new_version.number
    if data.decision == "return_for_revision":
        payload["return_to"] = data.return_to
        payload["unit_codes"] = list(data.unit_codes) if data.return_to == "units" else []
    if data.decision == "approve" and data.decision_number:
        payload["decision_number"] = nfc(data.decision_number)
        payload["decision_date"] = data.decision_date.isoformat() if data.decision_date else None
        payload["signer"] = nfc(data.signer)
    decision = ApprovalDecision(
        idempotency_key=idempotency_key,
        plan_version_id=version.id,  # type: ignore[arg-type]
        stage_id=stage.id,  # type: ignore[arg-type]
        decision=data.decision,
        decided_by_contact_id=contact.id,
        entered_by=nfc(data.entered_by),
        comment=nfc(data.comment),
        payload=payload,
    )
    session.add(decision)
    session.flush()
    record_audit(
        session=session,
        actor=who,
        action=f"approval.{data.decision}",
        entity="approvaldecision",
        entity_id=decision.id,
        cycle_id=cycle.id,
        details=payload
        | {
            "key": idempotency_key,
            "approver": contact.email or contact.full_name,
            "entered_by": data.entered_by,
            "comment": nfc(data.comment),
            "recorded_by": actor,
        },
    )
    session.flush()
    return DecisionOutcome(decision=decision, version=version, new_version=new_version)


def list_decisions(*, session: Session, cycle: PlanningCycle) -> list[ApprovalDecision]:
    return list(
        session.exec(
            select(ApprovalDecision)
            .join(PlanVersion, col(PlanVersion.id) == col(ApprovalDecision.plan_version_id))
            .where(PlanVersion.cycle_id == cycle.id)
            .order_by(col(ApprovalDecision.id))
        )
    )


# ---------------------------------------------------------------- the end of the chain


def finalize(
    *,
    session: Session,
    cycle: PlanningCycle,
    decision_number: str,
    decision_date: date,
    signer: str,
    actor: str,
) -> PlanVersion:
    """Issue the plan: every amount not adjusted is approved as proposed, the decision's number, date and
    signer are stored on the cycle, the cycle becomes ``approved`` and a final version is frozen.
    Idempotent: a second call with the same decision number returns the final version."""
    assert cycle.id is not None
    latest = latest_version(session=session, cycle=cycle)
    if latest is not None and latest.is_final and cycle.decision_number == nfc(decision_number):
        return latest
    for row in session.exec(
        select(PlanItemAmount)
        .join(PlanItem, col(PlanItem.id) == col(PlanItemAmount.item_id))
        .where(
            PlanItem.cycle_id == cycle.id,
            col(PlanItem.rejected).is_(False),
            col(PlanItemAmount.approved_amount).is_(None),
        )
    ):
        row.approved_amount = row.amount
    cycle.decision_number = nfc(decision_number)
    cycle.decision_date = decision_date
    cycle.decision_signer = nfc(signer)
    cycle.status = CycleStatus.approved
    session.add(cycle)
    session.flush()
    version = freeze_version(session=session, cycle=cycle, reason="final", actor=actor, final=True)
    record_audit(
        session=session,
        actor=actor,
        action="plan.approved",
        entity="planningcycle",
        entity_id=cycle.id,
        cycle_id=cycle.id,
        details={
            "decision_number": cycle.decision_number,
            "decision_date": decision_date.isoformat(),
            "signer": cycle.decision_signer,
            "version": version.number,
            "content_hash": version.content_hash,
        },
    )
    session.flush()
    return version


def effective_plan(*, session: Session, cycle: PlanningCycle, as_of: date) -> ConsolidatedPlan:
    """The plan with the amounts that count now (approved where a decision set one, else proposed), its
    totals and its checks computed on those amounts, for the workbook sent to approvers. After
    ``finalize`` this equals ``build_plan(amount_basis="approved_amount")``."""
    return build_plan(session=session, cycle=cycle, as_of=as_of, amount_basis="approved_else_proposed")


def approved_items_by_unit(*, session: Session, cycle: PlanningCycle) -> dict[int, list[dict[str, Any]]]:
    """Per lead unit id, its approved items: ``{name, source, amount}`` per funding source with an amount."""
    sources = {s.id: s.name for s in list_funding_sources(session=session, cycle_id=cycle.id)}  # type: ignore[arg-type]
    result: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = session.exec(
        select(PlanItem, PlanItemAmount)
        .join(PlanItemAmount, col(PlanItemAmount.item_id) == col(PlanItem.id))
        .where(PlanItem.cycle_id == cycle.id, col(PlanItem.rejected).is_(False))
        .order_by(col(PlanItem.position), col(PlanItem.id), col(PlanItemAmount.funding_source_id))
    )
    for item, amount in rows:
        if amount.approved_amount is None or amount.funding_source_id not in sources:
            continue
        result[item.lead_unit_id].append(
            {"name": item.name, "source": sources[amount.funding_source_id], "amount": amount.approved_amount}
        )
    return dict(result)


def unit_ids_by_code(*, session: Session, codes: list[str]) -> list[Unit]:
    units = [get_unit_by_code(session=session, code=c) for c in codes]
    return [u for u in units if u is not None]


# ---------------------------------------------------------------- reading the chain back


@lru_cache
def approval_texts() -> dict[str, Any]:
    """Labels of the audit workbook and of the decision kinds, from the YAML template."""
    with (TEMPLATES_DIR / "workbook" / "approval_audit.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def chain_audit_entries(*, session: Session, cycle: PlanningCycle) -> list[AuditEntry]:
    """The cycle's audit entries written by the chain (configuration, versions, decisions, adjustments)."""
    entries = session.exec(
        select(AuditEntry).where(AuditEntry.cycle_id == cycle.id).order_by(col(AuditEntry.id))
    ).all()
    return [e for e in entries if e.action.startswith(CHAIN_ACTIONS)]


def audit_rows(*, session: Session, cycle: PlanningCycle) -> list[dict[str, Any]]:
    """One row per entry, headed with the labels of the template (also the Prefect table artifact)."""
    texts = approval_texts()
    columns = texts["columns"]
    actions = texts["actions"]
    return [
        {
            columns["at"]: entry.at.strftime("%d/%m/%Y %H:%M:%S") if entry.at else "",
            columns["actor"]: entry.actor,
            columns["action"]: actions.get(entry.action, entry.action),
            columns["entity"]: f"{entry.entity} {entry.entity_id or ''}".strip(),
            columns["details"]: json.dumps(entry.details or {}, ensure_ascii=False, sort_keys=True),
        }
        for entry in chain_audit_entries(session=session, cycle=cycle)
    ]


def audit_workbook(*, session: Session, cycle: PlanningCycle) -> bytes:
    """The chain's audit entries as an .xlsx file (one sheet, header row frozen, filters on)."""
    texts = approval_texts()
    rows = audit_rows(session=session, cycle=cycle)
    headers = list(texts["columns"].values())
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(texts["sheet"])
    bold = workbook.add_format({"bold": True, "font_name": "Times New Roman", "bg_color": "#DDEBF7"})
    normal = workbook.add_format({"font_name": "Times New Roman", "text_wrap": True, "valign": "top"})
    sheet.write(0, 0, texts["title"].format(year=cycle.year), workbook.add_format({"bold": True}))
    for c, header in enumerate(headers):
        sheet.write(2, c, header, bold)
    for r, row in enumerate(rows, start=3):
        for c, header in enumerate(headers):
            sheet.write_string(r, c, str(row[header]), normal)
    for c, width in enumerate((20, 36, 30, 22, 80)):
        sheet.set_column(c, c, width)
    sheet.freeze_panes(3, 0)
    sheet.autofilter(2, 0, 2 + len(rows), len(headers) - 1)
    workbook.close()
    return buffer.getvalue()


@dataclass
class VersionSummary:
    number: int
    content_hash: str
    reason: str | None
    parent: int | None
    is_final: bool
    totals: dict[str, int]
    decisions: list[dict[str, Any]] = field(default_factory=list)


def chain_summary(*, session: Session, cycle: PlanningCycle) -> list[VersionSummary]:
    """Every version of the cycle with its totals and the decisions taken on it (for the artifact)."""
    versions = list(
        session.exec(
            select(PlanVersion).where(PlanVersion.cycle_id == cycle.id).order_by(col(PlanVersion.number))
        )
    )
    numbers = {v.id: v.number for v in versions}
    stages = {s.id: s for s in list_stages(session=session, cycle=cycle)}
    contacts = {c.id: c for c in session.exec(select(Contact))}
    summaries = {
        v.id: VersionSummary(
            number=v.number,
            content_hash=v.content_hash,
            reason=v.reason,
            parent=numbers.get(v.parent_version_id),
            is_final=v.is_final,
            totals=version_totals(v.content),
        )
        for v in versions
    }
    for decision in list_decisions(session=session, cycle=cycle):
        contact = contacts.get(decision.decided_by_contact_id)
        stage = stages.get(decision.stage_id)
        summaries[decision.plan_version_id].decisions.append(
            {
                "stage": stage.name if stage else decision.stage_id,
                "decision": decision.decision,
                "approver": (contact.full_name if contact else ""),
                "entered_by": decision.entered_by,
                "at": decision.decided_at,
                "comment": decision.comment,
                "payload": decision.payload or {},
            }
        )
    return list(summaries.values())


def render_report(template: str, **context: Any) -> str:
    """Render a Markdown report from ``templates/reports/``."""
    return environment().get_template(f"reports/{template}").render(**context)


def decision_request_markdown(
    *,
    session: Session,
    cycle: PlanningCycle,
    version: PlanVersion,
    stage: ApprovalStage,
    problems: list[str],
    findings: list[dict[str, Any]],
    workbook_name: str | None,
) -> str:
    """What the approver reads above the form: totals, changes since the previous version, the checks'
    findings, and why the previous answer was refused (if it was)."""
    parent = session.get(PlanVersion, version.parent_version_id) if version.parent_version_id else None
    return render_report(
        "approval_request.md.j2",
        cycle=cycle,
        version=version,
        stage=stage,
        approvers=stage_approvers(session=session, stage=stage),
        sources=version.content["sources"],
        totals=version_totals(version.content),
        parent=parent,
        changes=version_changes(parent.content if parent else None, version.content),
        items=[i for i in version.content["items"] if not i["rejected"]],
        findings=findings,
        problems=problems,
        workbook_name=workbook_name,
        money_unit=cycle.money_unit,
        effective=effective_amount,
        labels=approval_texts()["decisions"],
    )


def decisions_markdown(*, session: Session, cycle: PlanningCycle, version: int | None = None) -> str:
    """The versions with their decisions (or only ``version``), as the approval artifacts show them."""
    versions = chain_summary(session=session, cycle=cycle)
    return render_report(
        "approval_decisions.md.j2",
        cycle=cycle,
        versions=[v for v in versions if version is None or v.number == version],
        sources=[s.code for s in list_funding_sources(session=session, cycle_id=cycle.id)],  # type: ignore[arg-type]
        labels=approval_texts()["decisions"],
    )
