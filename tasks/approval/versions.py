"""Plan versions: immutable snapshots of the plan (canonical JSON, sha256), frozen when a circulation starts,
when a decision changes amounts or items, and when the plan is issued or amended; and what changed between
two of them. Plain functions in the caller's transaction; every version frozen writes an audit entry."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, col, select

from models.audit import record_audit
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit
from tasks.approval.chain import ApprovalError


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


def list_versions(*, session: Session, cycle: PlanningCycle) -> list[PlanVersion]:
    """The cycle's plan versions, first to last."""
    return list(
        session.exec(
            select(PlanVersion).where(PlanVersion.cycle_id == cycle.id).order_by(col(PlanVersion.number))
        )
    )


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
                subject=latest,
                cycle=cycle,
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
        subject=version,
        cycle=cycle,
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
