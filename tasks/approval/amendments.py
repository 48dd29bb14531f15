"""Amendments during the year ("điều chỉnh kế hoạch"): add items, change amounts per funding source, drop
items, each with its reason, through a short approval, as a new plan version.

Plain functions, in the caller's transaction, built on the approval chain of ``tasks/approval/chain.py``:

- ``propose_amendment``: validates a proposal and records it (audit entry ``amendment.proposed``, which
  is append-only: a proposal never changes; a corrected one is a new amendment). Numbered per cycle.
- ``amended_content``: the plan as it would be after the amendment (for the approver's preview).
- ``decide_amendment``: one decision of one approval stage, through ``record_decision`` (same validation,
  same idempotency key, same audit). ``approve`` (with the decision's number, date and signer) applies the
  changes and freezes a new ``PlanVersion`` with ``is_amendment=True`` whose parent is the version decided
  on; ``return_for_revision`` (with a comment) closes the amendment unapplied.
- ``amendment_messages``: what each unit concerned is told once the amendment is approved.

Amounts are typed in the cycle's display unit (Vietnamese format accepted) and stored as integer đồng.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Literal

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.approval import ApprovalStage
from models.audit import AuditEntry, record_audit
from models.base import ItemStatus, nfc
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit, get_unit_by_code, list_unit_recipients
from plancycle.settings import Settings
from tasks.approval.chain import (
    DecisionData,
    DecisionRefused,
    effective_amount,
    latest_version,
    list_stages,
    record_decision,
    version_changes,
    version_totals,
)
from tasks.common.money import MoneyFormatError, parse_money
from tasks.consolidation.plan import roman
from tasks.notify.delivery import Message
from templates import TEMPLATES_DIR, environment, error_text

ENTITY = "amendment"
AMENDABLE = {"approved", "implementing"}


@lru_cache
def amendment_texts() -> dict[str, Any]:
    with (TEMPLATES_DIR / "workbook" / "amendments.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class AmendmentError(ValueError):
    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.message_vi = error_text("amendments", key, "vi", **values)
        super().__init__(error_text("amendments", key, "en", **values))


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


def parse_change(text: str) -> ChangeAmount:
    """``"I.3:NSDP=1.000:lý do"`` → item I.3, source NSDP, amount "1.000" (display unit), reason."""
    ref, _, rest = text.partition(":")
    source, _, rest = rest.partition("=")
    amount, _, reason = rest.partition(":")
    return ChangeAmount(
        item_ref=ref.strip(), source_code=source.strip(), amount=amount.strip(), reason=reason
    )


def parse_drop(text: str) -> DropItem:
    """``"II.1:lý do"`` → item II.1 and its reason."""
    ref, _, reason = text.partition(":")
    return DropItem(item_ref=ref.strip(), reason=reason)


def parse_add(text: str) -> AddItem:
    """``"SYT|Tên nhiệm vụ|NSDP=500,NSTW=100|lý do"`` → a new item of unit SYT."""
    parts = [p.strip() for p in text.split("|")]
    while len(parts) < 4:
        parts.append("")
    code, name, amounts, reason = parts[:4]
    pairs = {}
    for chunk in filter(None, (c.strip() for c in amounts.split(";" if ";" in amounts else ","))):
        source, _, value = chunk.partition("=")
        pairs[source.strip()] = value.strip()
    return AddItem(lead_unit_code=code, name=name, amounts=pairs, reason=reason)


# ---------------------------------------------------------------- validation


def _money(raw: str, money_unit: str) -> int:
    if raw.strip().startswith(("-", "−")):
        raise MoneyFormatError(raw, "số âm", "negative")
    value = parse_money(raw.strip(), money_unit)
    if value is None:
        raise MoneyFormatError(raw, "để trống", "empty")
    return value


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


def _entries(session: Session, cycle: PlanningCycle) -> list[AuditEntry]:
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
    for entry in _entries(session, cycle):
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
    record_audit(
        session=session,
        actor=actor,
        action="amendment.proposed",
        entity=ENTITY,
        entity_id=number,
        cycle_id=cycle.id,
        details=details,
    )
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
    for change in proposal.change_amounts:
        item = items[change.item_ref]
        row = session.exec(
            select(PlanItemAmount).where(
                PlanItemAmount.item_id == item.id,
                PlanItemAmount.funding_source_id == sources[change.source_code],
            )
        ).first()
        if row is None:
            row = PlanItemAmount(item_id=item.id, funding_source_id=sources[change.source_code])  # type: ignore[arg-type]
            session.add(row)
        before = row.approved_amount if row.approved_amount is not None else row.amount
        row.approved_amount = _money(change.amount, cycle.money_unit)
        concerned.add(item.lead_unit_id)
        record_audit(
            session=session,
            actor=actor,
            action="plan.amount_adjusted",
            entity="planitem",
            entity_id=item.id,
            cycle_id=cycle.id,
            details=context
            | {
                "item": change.item_ref,
                "source": change.source_code,
                "before": before,
                "after": row.approved_amount,
                "reason": nfc(change.reason),
            },
        )
    for drop in proposal.drop_items:
        item = items[drop.item_ref]
        item.rejected = True
        item.status_note = nfc(drop.reason)
        session.add(item)
        concerned.add(item.lead_unit_id)
        record_audit(
            session=session,
            actor=actor,
            action="plan.item_rejected",
            entity="planitem",
            entity_id=item.id,
            cycle_id=cycle.id,
            details=context | {"item": drop.item_ref, "reason": nfc(drop.reason)},
        )
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
        record_audit(
            session=session,
            actor=actor,
            action="plan.item_added",
            entity="planitem",
            entity_id=item.id,
            cycle_id=cycle.id,
            details=context
            | {"item": ref, "name": item.name, "amounts": amounts, "reason": nfc(added.reason)},
        )
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
        record_audit(
            session=session,
            actor=who,
            action="amendment.returned",
            entity=ENTITY,
            entity_id=number,
            cycle_id=cycle.id,
            details={"decision_id": decision.id, "comment": decision.comment, "stage": stage.code},
        )
        session.flush()
        return get_amendment(session=session, cycle=cycle, number=number)
    units = _apply(session, cycle, amendment, who, decision.id)
    new_version = _freeze_amendment(session, cycle, amendment, who, parent=outcome.version)
    record_audit(
        session=session,
        actor=who,
        action="amendment.approved",
        entity=ENTITY,
        entity_id=number,
        cycle_id=cycle.id,
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
    from tasks.approval.chain import freeze_version

    version = freeze_version(
        session=session, cycle=cycle, reason=f"amendment:{amendment.number}", actor=actor, parent=parent
    )
    version.is_amendment = True  # a flag on the version, never its content (as is_final)
    session.add(version)
    session.flush()
    return version


# ---------------------------------------------------------------- what people read


def amendment_markdown(
    *, session: Session, cycle: PlanningCycle, amendment: Amendment, problems: list[str]
) -> str:
    """The approver's page: the reason, every change with its reason, totals before and after."""
    from tasks.approval.chain import get_version

    if amendment.state == "approved" and amendment.version is not None:
        applied = get_version(session=session, cycle=cycle, number=amendment.version)
        assert applied is not None and applied.parent_version_id is not None
        base = session.get(PlanVersion, applied.parent_version_id)
        assert base is not None
        after = applied.content
    else:
        base = latest_version(session=session, cycle=cycle)
        assert base is not None
        after = amended_content(base.content, amendment.proposal, cycle.money_unit)
    return (
        environment()
        .get_template("reports/amendment_request.md.j2")
        .render(
            cycle=cycle,
            amendment=amendment,
            base=base,
            before_totals=version_totals(base.content),
            after_totals=version_totals(after),
            changes=version_changes(base.content, after),
            sources=base.content["sources"],
            problems=problems,
            money_unit=cycle.money_unit,
            effective=effective_amount,
            texts=amendment_texts(),
        )
    )


def amendment_messages(
    *, session: Session, cycle: PlanningCycle, amendment: Amendment, settings: Settings, as_of: date
) -> list[Message]:
    """Each unit concerned (lead unit of an item added, changed or dropped) is told its approved items
    after the amendment; keyed per amendment and unit, so a re-run sends nothing twice."""
    from tasks.approval.chain import approved_items_by_unit
    from tasks.notify.unit_messages import unit_context

    template = "plan_amended"
    entry = next(
        e
        for e in _entries(session, cycle)
        if e.action == "amendment.approved" and e.entity_id == amendment.entity_id
    )
    details = entry.details or {}
    items = approved_items_by_unit(session=session, cycle=cycle)
    changes_by_unit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in _unit_changes(session, cycle, amendment):
        changes_by_unit[change["unit"]].append(change)
    messages: list[Message] = []
    for code in details.get("units", []):
        unit = get_unit_by_code(session=session, code=code)
        if unit is None or unit.id is None:
            continue
        base = unit_context(session=session, unit=unit, cycle=cycle, settings=settings)
        unit_items = items.get(unit.id, [])
        for contact in list_unit_recipients(session=session, unit_id=unit.id):
            messages.append(
                Message(
                    template=template,  # type: ignore[arg-type]
                    key=f"plan-amended:{cycle.year}:{amendment.number}:{code}",
                    contact_id=contact.id,  # type: ignore[arg-type]
                    unit_id=unit.id,
                    cycle_id=cycle.id,
                    context=base
                    | {
                        "decision_number": details.get("decision_number"),
                        "decision_date": date.fromisoformat(details["decision_date"])
                        if details.get("decision_date")
                        else as_of,
                        "amendment_number": amendment.number,
                        "reason": amendment.proposal.reason,
                        "changes": changes_by_unit.get(code, []),
                        "items": unit_items,
                        "total": sum(i["amount"] for i in unit_items),
                    },
                )
            )
    return messages


def _unit_changes(session: Session, cycle: PlanningCycle, amendment: Amendment) -> list[dict[str, Any]]:
    """The amendment's changes as plain rows with the lead unit's code (for the units' messages)."""
    texts = amendment_texts()["kinds"]
    units = {u.id: u.code for u in session.exec(select(Unit))}
    by_ref = {i.row_ref: i for i in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id))}
    rows: list[dict[str, Any]] = []
    for change in amendment.proposal.change_amounts:
        item = by_ref[change.item_ref]
        rows.append(
            {
                "unit": units[item.lead_unit_id],
                "kind": texts["amount"],
                "name": item.name,
                "reason": change.reason,
            }
        )
    for drop in amendment.proposal.drop_items:
        item = by_ref[drop.item_ref]
        rows.append(
            {
                "unit": units[item.lead_unit_id],
                "kind": texts["rejected"],
                "name": item.name,
                "reason": drop.reason,
            }
        )
    for added in amendment.proposal.add_items:
        rows.append(
            {"unit": added.lead_unit_code, "kind": texts["added"], "name": added.name, "reason": added.reason}
        )
    return rows


# ---------------------------------------------------------------- Prefect tasks of amend-plan


@dataclass
class AmendmentRound:
    """What the flow needs between tasks: the amendment, its stage, the approvers' messages."""

    number: int
    stage_code: str
    state: str
    messages: list[Message] = field(default_factory=list)


def start_amendment_run(
    year: int,
    proposal: AmendmentProposal | None,
    number: int | None,
    stage_code: str | None,
    link: str,
    as_of: date,
    request_key: str,
    actor: str,
) -> AmendmentRound:
    """Record the proposal (once per ``request_key``) or take amendment ``number``; build the stage
    approvers' messages (keyed per amendment and stage: sent once)."""
    from models.db import session_scope
    from tasks.approval.chain import require_cycle, stage_approvers

    with session_scope() as session:
        cycle = require_cycle(session, year)
        if proposal is not None:
            amendment = propose_amendment(
                session=session, cycle=cycle, proposal=proposal, actor=actor, request_key=request_key
            )
        elif number is not None:
            amendment = get_amendment(session=session, cycle=cycle, number=number)
        else:
            raise AmendmentError("empty")
        stage = amendment_stage(session=session, cycle=cycle, code=stage_code)
        base = latest_version(session=session, cycle=cycle)
        assert base is not None
        after = amended_content(base.content, amendment.proposal, cycle.money_unit)
        title = amendment_texts()["plan_title"].format(title=cycle.title)
        messages = [
            Message(
                template="approval_requested",
                key=f"amendment:{year}:{amendment.number}:{stage.code}",
                contact_id=contact.id,  # type: ignore[arg-type]
                unit_id=contact.unit_id,
                cycle_id=cycle.id,
                context={
                    "cycle": {"title": cycle.title, "year": cycle.year},
                    "plan_title": title,
                    "item_count": sum(1 for i in after["items"] if not i["rejected"]),
                    "total": version_totals(after)["total"],
                    "due": stage.deadline if stage.deadline and stage.deadline >= as_of else as_of,
                    "link": link,
                },
            )
            for contact in stage_approvers(session=session, stage=stage)
        ]
        return AmendmentRound(
            number=amendment.number, stage_code=stage.code, state=amendment.state, messages=messages
        )


def amendment_request(year: int, number: int, problems: list[str]) -> str:
    from models.db import session_scope
    from tasks.approval.chain import require_cycle

    with session_scope() as session:
        cycle = require_cycle(session, year)
        amendment = get_amendment(session=session, cycle=cycle, number=number)
        return amendment_markdown(session=session, cycle=cycle, amendment=amendment, problems=problems)


def take_amendment_decision(
    year: int, number: int, stage_code: str, data: DecisionData, idempotency_key: str, actor: str
) -> tuple[str, list[str]]:
    """Validate and record one decision in one transaction: ``(state, problems)``; problems mean nothing
    was recorded and the flow asks again."""
    from models.db import session_scope
    from tasks.approval.chain import require_cycle

    with session_scope() as session:
        cycle = require_cycle(session, year)
        stage = amendment_stage(session=session, cycle=cycle, code=stage_code)
        try:
            amendment = decide_amendment(
                session=session,
                cycle=cycle,
                number=number,
                stage=stage,
                data=data,
                idempotency_key=idempotency_key,
                actor=actor,
            )
        except DecisionRefused as refused:
            return "proposed", refused.messages_vi
        return amendment.state, []


def amendment_outcome(year: int, number: int, as_of: date) -> tuple[dict[str, Any], list[Message], str]:
    """The units' messages once approved, the summary, and the Markdown of the outcome (artifact)."""
    from models.db import session_scope
    from plancycle.settings import get_settings
    from tasks.approval.chain import require_cycle

    with session_scope() as session:
        cycle = require_cycle(session, year)
        amendment = get_amendment(session=session, cycle=cycle, number=number)
        messages: list[Message] = []
        if amendment.state == "approved":
            messages = amendment_messages(
                session=session, cycle=cycle, amendment=amendment, settings=get_settings(), as_of=as_of
            )
        version = latest_version(session=session, cycle=cycle)
        assert version is not None
        summary = {
            "amendment": amendment.number,
            "outcome": amendment.state,
            "version": amendment.version,
            "decision_number": amendment.decision_number,
            "total_dong": version_totals(version.content)["total"],
        }
        markdown = amendment_markdown(session=session, cycle=cycle, amendment=amendment, problems=[])
        return summary, messages, markdown
