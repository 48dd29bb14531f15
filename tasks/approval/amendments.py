"""Amendments during the year ("điều chỉnh kế hoạch"): add items, change amounts per funding source, drop
items, each with its reason, through a short approval, as a new plan version.

Plain functions, in the caller's transaction, built on the approval chain (``tasks/approval/chain.py``,
``decisions.py``, ``versions.py``):

- ``propose_amendment``: validates a proposal and records it (audit entry ``amendment.proposed``, which
  is append-only: a proposal never changes; a corrected one is a new amendment). Numbered per cycle.
- ``amended_content``: the plan as it would be after the amendment (for the approver's preview).
- ``decide_amendment``: one decision of one approval stage, through ``record_decision`` (same validation,
  same idempotency key, same audit). ``approve`` (with the decision's number, date and signer) applies the
  changes and freezes a new ``PlanVersion`` with ``is_amendment=True`` whose parent is the version decided
  on; ``return_for_revision`` (with a comment) closes the amendment unapplied.

What the approver reads is ``reports.amendment_markdown``; what each unit concerned is told once the
amendment is approved, ``notices.amendment_messages``.

Amounts are typed in the cycle's display unit (Vietnamese format accepted) and stored as integer đồng.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.approval import ApprovalStage
from models.audit import AuditEntry, record_audit
from models.base import ItemStatus, nfc
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit, get_unit_by_code
from tasks.approval.chain import list_stages
from tasks.approval.decisions import (
    DecisionData,
    DecisionRefused,
    amount_in_dong,
    record_decision,
    set_approved_amount,
)
from tasks.approval.versions import freeze_version, latest_version, version_totals
from tasks.common.money import MoneyFormatError
from tasks.consolidation.consolidated import roman
from tasks.errors import PlancycleError
from templates import error_text, load_yaml

ENTITY = "amendment"
AMENDABLE = {"approved", "implementing"}


def amendment_texts() -> dict[str, Any]:
    """Words of amendments: the approver's page, the approvers' and the units' messages."""
    return load_yaml("workbook/amendments.yaml")


class AmendmentError(PlancycleError):
    catalog = "amendments"


# ---------------------------------------------------------------- what is proposed


class AddItem(BaseModel):
    """A new item of the plan, with its amounts per funding source (display unit)."""

    name: str = Field(min_length=1, max_length=1000, title="Tên nhiệm vụ, dự án")
    lead_unit_code: str = Field(title="Mã đơn vị chủ trì")
    amounts: dict[str, str] = Field(default_factory=dict, title="Kinh phí theo mã nguồn vốn (vd. NSDP: 500)")
    field_code: str | None = Field(None, title="Mã lĩnh vực ứng dụng")
    origin: Literal["new", "carry_over"] = Field("new", title="Dự án mới / chuyển tiếp")
    objective: str | None = Field(None, title="Mục tiêu, nội dung")
    scope: str | None = Field(None, title="Phạm vi")
    start_year: int | None = Field(None, title="Năm bắt đầu")
    end_year: int | None = Field(None, title="Năm kết thúc")
    reason: str = Field("", title="Lý do bổ sung")


class ChangeAmount(BaseModel):
    """A new amount for one item and one funding source (display unit)."""

    item_ref: str = Field(title="STT nhiệm vụ, dự án (vd. I.3)")
    source_code: str = Field(title="Mã nguồn vốn")
    amount: str = Field(title="Số tiền mới (đơn vị tính của kế hoạch)")
    reason: str = Field("", title="Lý do điều chỉnh")


class DropItem(BaseModel):
    item_ref: str = Field(title="STT nhiệm vụ, dự án đưa ra khỏi kế hoạch")
    reason: str = Field("", title="Lý do")


class AmendmentProposal(BaseModel):
    """What the coordinator proposes to change (the flow's parameter and the CLI's options)."""

    reason: str = Field("", title="Lý do điều chỉnh kế hoạch")
    add_items: list[AddItem] = Field(default_factory=list, title="Bổ sung nhiệm vụ, dự án")
    change_amounts: list[ChangeAmount] = Field(default_factory=list, title="Điều chỉnh kinh phí")
    drop_items: list[DropItem] = Field(default_factory=list, title="Đưa ra khỏi kế hoạch")
    proposed_by: str = Field("", title="Người đề xuất")


# ---------------------------------------------------------------- validation


def _money(raw: str, money_unit: str) -> int:
    """An amount of the proposal in đồng: neither negative nor empty (``MoneyFormatError``)."""
    if raw.strip().startswith(("-", "−")):
        raise MoneyFormatError(raw, "số âm", "negative")
    return amount_in_dong(raw, money_unit)


def validate_proposal(*, session: Session, cycle: PlanningCycle, proposal: AmendmentProposal) -> list[str]:
    """Every reason to refuse the proposal, in Vietnamese (empty: valid)."""
    problems: list[str] = []

    def refuse(key: str, **values: object) -> None:
        problems.append(error_text("amendments", key, "vi", **values))

    if cycle.status not in AMENDABLE:
        refuse("not_amendable", year=cycle.year, status=cycle.status)
    if not (proposal.add_items or proposal.change_amounts or proposal.drop_items):
        refuse("empty")
    if not proposal.reason.strip():
        refuse("reason_required")
    live = {
        i.row_ref: i
        for i in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id))
        if i.row_ref and not i.rejected
    }
    codes = [s.code for s in list_funding_sources(session=session, cycle_id=cycle.id)]  # type: ignore[arg-type]
    dropped = {d.item_ref for d in proposal.drop_items}
    for change in proposal.change_amounts:
        if change.item_ref not in live:
            refuse("unknown_item", ref=change.item_ref)
        elif change.item_ref in dropped:
            refuse("changed_and_dropped", ref=change.item_ref)
        if change.source_code not in codes:
            refuse("unknown_source", code=change.source_code, codes=", ".join(codes))
        try:
            _money(change.amount, cycle.money_unit)
        except MoneyFormatError as error:
            refuse("bad_amount", ref=change.item_ref, code=change.source_code, message=error.message_vi)
        if not change.reason.strip():
            refuse("item_reason_required", ref=change.item_ref)
    for drop in proposal.drop_items:
        if drop.item_ref not in live:
            refuse("unknown_item", ref=drop.item_ref)
        if not drop.reason.strip():
            refuse("item_reason_required", ref=drop.item_ref)
    for added in proposal.add_items:
        if get_unit_by_code(session=session, code=added.lead_unit_code) is None:
            refuse("unknown_unit", code=added.lead_unit_code, name=added.name)
        if not added.amounts:
            refuse("add_needs_amount", name=added.name)
        for code, raw in added.amounts.items():
            if code not in codes:
                refuse("unknown_source", code=code, codes=", ".join(codes))
            try:
                _money(raw, cycle.money_unit)
            except MoneyFormatError as error:
                refuse("bad_amount", ref=added.name, code=code, message=error.message_vi)
        if not added.reason.strip():
            refuse("item_reason_required", ref=added.name)
    return problems


# ---------------------------------------------------------------- the record of amendments


@dataclass
class Amendment:
    number: int
    proposal: AmendmentProposal
    base_version: int
    state: Literal["proposed", "approved", "returned"] = "proposed"
    version: int | None = None  # the amended plan's version, once approved
    decision_id: int | None = None
    decision_number: str | None = None
    comment: str | None = None
    proposed_by: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def entity_id(self) -> str:
        return str(self.number)


def _log_amendment(
    session: Session, cycle: PlanningCycle, number: int, *, actor: str, action: str, details: dict[str, Any]
) -> None:
    """One entry of amendment ``number``'s log, as :func:`amendment_entries` reads it back."""
    record_audit(
        session=session,
        actor=actor,
        action=action,
        entity=ENTITY,
        entity_id=number,
        cycle=cycle,
        details=details,
    )


def amendment_entries(*, session: Session, cycle: PlanningCycle) -> list[AuditEntry]:
    """The cycle's audit entries about amendments (proposed, approved, returned), oldest first."""
    return list(
        session.exec(
            select(AuditEntry)
            .where(AuditEntry.cycle_id == cycle.id, AuditEntry.entity == ENTITY)
            .order_by(col(AuditEntry.id))
        )
    )


def list_amendments(*, session: Session, cycle: PlanningCycle) -> list[Amendment]:
    """Every amendment of the cycle with its state, read back from the append-only audit log."""
    found: dict[str, Amendment] = {}
    for entry in amendment_entries(session=session, cycle=cycle):
        details = entry.details or {}
        if entry.action == "amendment.proposed":
            found[entry.entity_id or ""] = Amendment(
                number=int(details["number"]),
                proposal=AmendmentProposal.model_validate(details["proposal"]),
                base_version=int(details["base_version"]),
                proposed_by=entry.actor,
                details=details,
            )
        elif entry.entity_id in found:
            amendment = found[entry.entity_id]
            if entry.action == "amendment.approved":
                amendment.state = "approved"
                amendment.version = details.get("version")
                amendment.decision_id = details.get("decision_id")
                amendment.decision_number = details.get("decision_number")
            elif entry.action == "amendment.returned":
                amendment.state = "returned"
                amendment.decision_id = details.get("decision_id")
                amendment.comment = details.get("comment")
    return sorted(found.values(), key=lambda a: a.number)


def get_amendment(*, session: Session, cycle: PlanningCycle, number: int) -> Amendment:
    for amendment in list_amendments(session=session, cycle=cycle):
        if amendment.number == number:
            return amendment
    raise AmendmentError("unknown_amendment", number=number, year=cycle.year)


def propose_amendment(
    *,
    session: Session,
    cycle: PlanningCycle,
    proposal: AmendmentProposal,
    actor: str,
    request_key: str | None = None,
) -> Amendment:
    """Validate and record a proposal as the cycle's next amendment. With ``request_key`` (e.g. the flow
    run id) a second call with the same key returns the amendment recorded the first time."""
    if request_key:
        for amendment in list_amendments(session=session, cycle=cycle):
            if amendment.details.get("request_key") == request_key:
                return amendment
    problems = validate_proposal(session=session, cycle=cycle, proposal=proposal)
    if problems:
        raise DecisionRefused(problems)
    base = latest_version(session=session, cycle=cycle)
    if base is None:
        raise AmendmentError("no_version", year=cycle.year)
    number = len(list_amendments(session=session, cycle=cycle)) + 1
    details = {
        "number": number,
        "base_version": base.number,
        "proposal": proposal.model_dump(mode="json"),
        "request_key": request_key,
    }
    _log_amendment(session, cycle, number, actor=actor, action="amendment.proposed", details=details)
    session.flush()
    return get_amendment(session=session, cycle=cycle, number=number)


# ---------------------------------------------------------------- the plan after the amendment


def amended_content(content: dict[str, Any], proposal: AmendmentProposal, money_unit: str) -> dict[str, Any]:
    """A version's content with the proposal applied in memory (the approver's preview): amounts changed
    become the approved amounts, dropped items are marked rejected, added items come last."""
    result = copy.deepcopy(content)
    by_ref = {i["ref"]: i for i in result["items"]}
    for change in proposal.change_amounts:
        item = by_ref[change.item_ref]
        amount = item["amounts"].setdefault(change.source_code, {"proposed": None, "approved": None})
        amount["approved"] = _money(change.amount, money_unit)
    for drop in proposal.drop_items:
        by_ref[drop.item_ref]["rejected"] = True
    for n, added in enumerate(proposal.add_items, start=1):
        values = {code: _money(raw, money_unit) for code, raw in added.amounts.items()}
        result["items"].append(
            {
                "id": f"new-{n}",
                "ref": f"+{n}",
                "name": nfc(added.name),
                "lead_unit": added.lead_unit_code,
                "origin": added.origin,
                "field": added.field_code,
                "rejected": False,
                "amounts": {code: {"proposed": v, "approved": v} for code, v in values.items()},
            }
        )
    return result


def _next_ref(session: Session, cycle: PlanningCycle, unit_id: int) -> tuple[str, str | None, int]:
    """STT, group heading and position of an item added for ``unit_id``: after the unit's last item in its
    group (``I.4`` after ``I.3``), or in a new group after the last one."""
    items = list(
        session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id).order_by(col(PlanItem.position)))
    )
    mine = [i for i in items if i.lead_unit_id == unit_id and i.row_ref and "." in i.row_ref]
    if mine:
        prefix = mine[-1].row_ref.split(".")[0]  # type: ignore[union-attr]
        numbers = [
            int(i.row_ref.split(".", 1)[1])  # type: ignore[union-attr]
            for i in items
            if i.row_ref and i.row_ref.split(".")[0] == prefix and i.row_ref.split(".", 1)[1].isdigit()
        ]
        group = [i for i in items if i.row_ref and i.row_ref.split(".")[0] == prefix]
        return f"{prefix}.{max(numbers, default=0) + 1}", mine[-1].group_label, max(i.position for i in group)
    prefixes = {i.row_ref.split(".")[0] for i in items if i.row_ref and "." in i.row_ref}
    unit = session.get(Unit, unit_id)
    last = max((i.position for i in items), default=0)
    return f"{roman(len(prefixes) + 1)}.1", unit.name if unit else None, last


def _apply(
    session: Session, cycle: PlanningCycle, amendment: Amendment, actor: str, decision_id: int | None
) -> list[str]:
    """Write the proposal into the plan's items and amounts, one audit entry per change; returns the unit
    codes concerned."""
    proposal = amendment.proposal
    sources = {s.code: s.id for s in list_funding_sources(session=session, cycle_id=cycle.id)}  # type: ignore[arg-type]
    items = {
        i.row_ref: i
        for i in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id))
        if i.row_ref and not i.rejected
    }
    context = {"amendment": amendment.number, "decision_id": decision_id}
    concerned: set[int] = set()

    def audit(action: str, row: PlanItem, /, **details: object) -> None:
        """One audit entry per change, each naming the amendment and the decision that made it."""
        record_audit(
            session=session, actor=actor, action=action, subject=row, cycle=cycle, details=context | details
        )

    for change in proposal.change_amounts:
        item = items[change.item_ref]
        after = _money(change.amount, cycle.money_unit)
        before = set_approved_amount(
            session=session, item=item, source_id=sources[change.source_code], amount=after
        )
        concerned.add(item.lead_unit_id)
        audit(
            "plan.amount_adjusted",
            item,
            item=change.item_ref,
            source=change.source_code,
            before=before,
            after=after,
            reason=nfc(change.reason),
        )
    for drop in proposal.drop_items:
        item = items[drop.item_ref]
        item.rejected = True
        item.status_note = nfc(drop.reason)
        session.add(item)
        concerned.add(item.lead_unit_id)
        audit("plan.item_rejected", item, item=drop.item_ref, reason=nfc(drop.reason))
    session.flush()
    for added in proposal.add_items:
        unit = get_unit_by_code(session=session, code=added.lead_unit_code)
        assert unit is not None and unit.id is not None
        ref, group_label, after = _next_ref(session, cycle, unit.id)
        # make room right after the group's last item, so the new item is printed in its group
        session.execute(
            sa.update(PlanItem)
            .where(col(PlanItem.cycle_id) == cycle.id, col(PlanItem.position) > after)
            .values(position=PlanItem.position + 1)
        )
        item = PlanItem(
            cycle_id=cycle.id,  # type: ignore[arg-type]
            row_ref=ref,
            group_label=group_label,
            position=after + 1,
            name=nfc(added.name) or added.name,
            lead_unit_id=unit.id,
            field_code=added.field_code,
            origin=added.origin,
            objective=nfc(added.objective),
            scope=nfc(added.scope),
            start_year=added.start_year or cycle.year,
            end_year=added.end_year or cycle.year,
            basis=nfc(added.reason),
            status=ItemStatus.proposed,
        )
        session.add(item)
        session.flush()
        amounts = {code: _money(raw, cycle.money_unit) for code, raw in added.amounts.items()}
        for code, value in amounts.items():
            session.add(
                PlanItemAmount(
                    item_id=item.id, funding_source_id=sources[code], amount=value, approved_amount=value
                )  # type: ignore[arg-type]
            )
        concerned.add(unit.id)
        audit("plan.item_added", item, item=ref, name=item.name, amounts=amounts, reason=nfc(added.reason))
    session.flush()
    units = {u.id: u.code for u in session.exec(select(Unit).where(col(Unit.id).in_(concerned)))}
    return sorted(units.values())


def amendment_stage(*, session: Session, cycle: PlanningCycle, code: str | None) -> ApprovalStage:
    """The stage that decides amendments: ``code``, else the last stage of the cycle's chain (the one that
    issued the plan issues its amendments)."""
    stages = list_stages(session=session, cycle=cycle)
    if code:
        for stage in stages:
            if stage.code == code:
                return stage
        raise AmendmentError("unknown_stage", code=code, year=cycle.year)
    if not stages:
        raise AmendmentError("no_stages", year=cycle.year)
    return stages[-1]


AmendmentDecisionKind = Literal["approve", "return_for_revision"]


def decide_amendment(
    *,
    session: Session,
    cycle: PlanningCycle,
    number: int,
    stage: ApprovalStage,
    data: DecisionData,
    idempotency_key: str,
    actor: str,
) -> Amendment:
    """Record the stage's decision on amendment ``number`` (``record_decision``: refused with
    ``DecisionRefused`` and nothing written when invalid; once per key). Approve needs the decision's
    number, date and signer, and applies the amendment as a new version (``is_amendment``); return needs a
    comment. An amendment already decided is returned as it is."""
    amendment = get_amendment(session=session, cycle=cycle, number=number)
    if amendment.state != "proposed":
        return amendment
    if data.decision not in ("approve", "return_for_revision"):
        raise DecisionRefused([error_text("amendments", "decision_kind", "vi", kind=data.decision)])
    if data.decision == "approve":
        problems = validate_proposal(session=session, cycle=cycle, proposal=amendment.proposal)
        if problems:  # the plan changed since the proposal (e.g. another amendment dropped an item)
            raise DecisionRefused(problems)
    version = latest_version(session=session, cycle=cycle)
    assert version is not None
    outcome = record_decision(
        session=session,
        cycle=cycle,
        version=version,
        stage=stage,
        data=data,
        idempotency_key=idempotency_key,
        actor=actor,
        final_stage=True,
    )
    decision = outcome.decision
    who = data.entered_by or data.approver or actor
    if decision.decision == "return_for_revision":
        _log_amendment(
            session,
            cycle,
            number,
            actor=who,
            action="amendment.returned",
            details={"decision_id": decision.id, "comment": decision.comment, "stage": stage.code},
        )
        session.flush()
        return get_amendment(session=session, cycle=cycle, number=number)
    units = _apply(session, cycle, amendment, who, decision.id)
    new_version = _freeze_amendment(session, cycle, amendment, who, parent=outcome.version)
    _log_amendment(
        session,
        cycle,
        number,
        actor=who,
        action="amendment.approved",
        details={
            "decision_id": decision.id,
            "decision_number": nfc(data.decision_number),
            "decision_date": data.decision_date.isoformat() if data.decision_date else None,
            "signer": nfc(data.signer),
            "stage": stage.code,
            "version": new_version.number,
            "parent": outcome.version.number,
            "units": units,
            "totals": version_totals(new_version.content),
        },
    )
    session.flush()
    return get_amendment(session=session, cycle=cycle, number=number)


def _freeze_amendment(
    session: Session, cycle: PlanningCycle, amendment: Amendment, actor: str, parent: PlanVersion
) -> PlanVersion:
    version = freeze_version(
        session=session, cycle=cycle, reason=f"amendment:{amendment.number}", actor=actor, parent=parent
    )
    version.is_amendment = True  # a flag on the version, never its content (as is_final)
    session.add(version)
    session.flush()
    return version
