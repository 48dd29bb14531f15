"""Decisions of the approval chain (thẩm định, phê duyệt) and the end of the chain, as plain functions.

- ``begin_circulation``: the version a circulation run asks about, frozen once per run.
- ``validate_decision`` / ``record_decision``: a decision on a version at a stage, refused with Vietnamese
  messages when invalid, recorded once per idempotency key; an adjustment or a rejection of items freezes
  a new version whose parent is the version decided on.
- ``finalize``: the issuing decision (number, date, signer); approved amounts become the plan.

Every function works in the caller's transaction and writes every change through ``record_audit``. Amounts
typed in a decision are in the cycle's display unit (``PlanningCycle.money_unit``), Vietnamese format
accepted, and stored as integer đồng.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.approval import ApprovalDecision, ApprovalStage
from models.audit import AuditEntry, record_audit
from models.base import CycleStatus, nfc
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit, get_unit_by_code
from tasks.approval.chain import DecisionKind, resolve_contact, stage_approvers
from tasks.approval.versions import freeze_version, latest_version
from tasks.common.amounts import MAX_ITEM_AMOUNT_CEILING, looks_typed_in_dong
from tasks.common.money import MONEY_UNIT_LABELS, MoneyFormatError, parse_money
from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.plan import build_plan
from templates import error_text, load_yaml

CIRCULATION_STARTED = "approval.circulation_started"
DecisionChannel = Literal["prefect_ui", "portal", "cli"]


class DecisionRefused(ValueError):
    """An invalid decision: nothing was recorded. ``messages_vi`` are shown to the approver (a list of
    messages already in words, not one key: it is not a ``PlancycleError``)."""

    def __init__(self, messages_vi: list[str]) -> None:
        self.messages_vi = messages_vi
        super().__init__("; ".join(messages_vi))


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
    channel: DecisionChannel = Field(
        "prefect_ui",
        title="Nhập từ: prefect_ui = giao diện Prefect, portal = trang phê duyệt, cli = dòng lệnh",
    )


def parse_adjustment(text: str) -> AdjustmentIn:
    """``"I.3:NSDP=1.000:lý do"`` → item I.3, source NSDP, amount "1.000" (display unit), reason."""
    ref, _, rest = text.partition(":")
    source, _, rest = rest.partition("=")
    amount, _, reason = rest.partition(":")
    return AdjustmentIn(
        item_ref=ref.strip(), source_code=source.strip(), amount=amount.strip(), reason=reason
    )


def amount_in_dong(raw: str, money_unit: str) -> int:
    """An amount typed in the cycle's display unit (Vietnamese format accepted), in đồng; an empty one is
    refused (``MoneyFormatError``)."""
    value = parse_money(raw.strip(), money_unit)
    if value is None:
        raise MoneyFormatError(raw, "để trống", "empty")
    if value > MAX_ITEM_AMOUNT_CEILING or looks_typed_in_dong(value, money_unit):
        raise MoneyFormatError(
            raw,
            "quá lớn cho một nhiệm vụ, một nguồn vốn; có phải đã ghi theo đồng thay vì "
            + MONEY_UNIT_LABELS[money_unit]
            + "?",
            "too large for one item and source; typed in đồng?",
        )
    return value


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
    words = load_yaml("reports/approval.vi.yaml")["decision"]

    def refuse(key: str, **values: object) -> None:
        problems.append(error_text("approval", key, "vi", **values))

    if data.decision not in stage.allowed_decisions:
        kinds = load_yaml("workbook/approval_audit.yaml")["decisions"]
        refuse(
            "decision_not_allowed",
            stage=stage.name,
            kind=kinds.get(data.decision, data.decision),
            allowed=", ".join(kinds.get(k, k) for k in stage.allowed_decisions),
        )
    contact = resolve_contact(session, data.approver) if data.approver.strip() else None
    approver_ids = {c.id for c in stage_approvers(session=session, stage=stage)}
    if contact is None or contact.id not in approver_ids:
        refuse("approver_not_in_stage", who=data.approver or words["no_approver"], stage=stage.name)
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
                    amount_in_dong(adj.amount, cycle.money_unit)
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


def set_approved_amount(
    *, session: Session, item: PlanItem, source_id: int | None, amount: int
) -> int | None:
    """Set what ``item`` is approved for from one funding source (the amount row is created if the item
    had none from it); returns the amount that counted before (approved, else proposed)."""
    row = session.exec(
        select(PlanItemAmount).where(
            PlanItemAmount.item_id == item.id, PlanItemAmount.funding_source_id == source_id
        )
    ).first()
    if row is None:
        row = PlanItemAmount(item_id=item.id, funding_source_id=source_id)  # type: ignore[arg-type]
        session.add(row)
    before = row.approved_amount if row.approved_amount is not None else row.amount
    row.approved_amount = amount
    return before


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
    contact = resolve_contact(session, data.approver)
    assert contact is not None
    decided_by = data.entered_by and load_yaml("reports/approval.vi.yaml")["decision"][
        "entered_on_behalf"
    ].format(entered_by=data.entered_by, approver=contact.email or contact.full_name)
    who = decided_by or contact.email or contact.full_name
    payload: dict[str, Any] = {"stage": stage.code, "version": version.number, "channel": data.channel}
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
            after = amount_in_dong(adj.amount, cycle.money_unit)
            before = set_approved_amount(
                session=session, item=item, source_id=source_ids[adj.source_code], amount=after
            )
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
                subject=item,
                cycle=cycle,
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
                subject=items[ref],
                cycle=cycle,
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
        subject=decision,
        cycle=cycle,
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


# ---------------------------------------------------------------- circulations


def circulation_entries(*, session: Session, cycle: PlanningCycle) -> list[AuditEntry]:
    """The cycle's circulations, oldest first: one audit entry ``approval.circulation_started`` per run,
    naming the run (``flow_run_id``) and the version it circulates."""
    return list(
        session.exec(
            select(AuditEntry)
            .where(AuditEntry.cycle_id == cycle.id, AuditEntry.action == CIRCULATION_STARTED)
            .order_by(col(AuditEntry.id))
        )
    )


def begin_circulation(*, session: Session, cycle: PlanningCycle, flow_run_id: str, actor: str) -> PlanVersion:
    """The version the run ``flow_run_id`` circulates: frozen and recorded the first time (the cycle
    becomes ``circulating``), found again when the run re-executes, even if decisions have since created
    newer versions."""
    for entry in circulation_entries(session=session, cycle=cycle):
        if (entry.details or {}).get("flow_run_id") == flow_run_id:
            version = session.get(PlanVersion, int(entry.entity_id or 0))
            assert version is not None
            return version
    version = freeze_version(session=session, cycle=cycle, reason="circulation", actor=actor)
    record_audit(
        session=session,
        actor=actor,
        action=CIRCULATION_STARTED,
        subject=version,
        cycle=cycle,
        details={"flow_run_id": flow_run_id, "version": version.number},
    )
    cycle.status = CycleStatus.circulating
    session.add(cycle)
    return version


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
        subject=cycle,
        cycle=cycle,
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
