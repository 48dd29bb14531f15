"""What a unit's portal page shows once the plan is issued: the decision (number, date, signer), the unit's
items as approved per funding source beside what it proposed (with the reason of each cut or adjustment,
and the items left out), and the issued plan's files. Plain functions in the caller's session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models.audit import AuditEntry
from models.base import CycleStatus
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit
from tasks.consolidation.outputs import plan_folder


def issued_version(*, session: Session, cycle: PlanningCycle) -> PlanVersion | None:
    """The latest version marked final (the issued plan, or its latest amendment)."""
    return session.exec(
        select(PlanVersion)
        .where(PlanVersion.cycle_id == cycle.id, col(PlanVersion.is_final).is_(True))
        .order_by(col(PlanVersion.number).desc())
    ).first()


def issued_file(*, session: Session, cycle_id: int, kind: str) -> Path | None:
    """The issued plan's document (``"docx"``) or annex (``"xlsx"``), if it was written."""
    cycle = session.get(PlanningCycle, cycle_id)
    if cycle is None or kind not in ("docx", "xlsx", "pdf") or cycle.status != CycleStatus.approved:
        return None
    version = issued_version(session=session, cycle=cycle)
    if version is None:
        return None
    path = plan_folder(cycle.year) / f"KH{cycle.year}_ban-hanh_v{version.number}.{kind}"
    return path if path.exists() else None


def approved_view(*, session: Session, cycle: PlanningCycle, unit: Unit) -> dict[str, Any] | None:
    """The unit's approved plan, or ``None`` while the plan is not issued."""
    if cycle.status != CycleStatus.approved or not cycle.decision_number:
        return None
    sources = list_funding_sources(session=session, cycle_id=cycle.id)  # type: ignore[arg-type]
    reasons: dict[tuple[str, str | None], str] = {}
    for entry in session.exec(
        select(AuditEntry)
        .where(
            AuditEntry.cycle_id == cycle.id,
            col(AuditEntry.action).in_(["plan.amount_adjusted", "plan.item_rejected"]),
        )
        .order_by(col(AuditEntry.id))
    ):
        details = entry.details or {}
        key = (
            entry.entity_id or "",
            details.get("source") if entry.action == "plan.amount_adjusted" else None,
        )
        reasons[key] = str(details.get("reason") or "")
    items = list(
        session.exec(
            select(PlanItem)
            .where(PlanItem.cycle_id == cycle.id, PlanItem.lead_unit_id == unit.id)
            .order_by(col(PlanItem.position), col(PlanItem.id))
        )
    )
    code_of = {s.id: s.code for s in sources}
    rows = []
    totals = {s.code: 0 for s in sources}
    for item in items:
        amounts = {
            code_of[a.funding_source_id]: a
            for a in session.exec(select(PlanItemAmount).where(PlanItemAmount.item_id == item.id))
            if a.funding_source_id in code_of
        }
        cells = []
        for source in sources:
            row = amounts.get(source.code)
            proposed = row.amount if row else None
            approved = None if item.rejected or row is None else row.approved_amount
            changed = not item.rejected and row is not None and approved != proposed
            cells.append(
                {
                    "code": source.code,
                    "proposed": proposed,
                    "approved": approved,
                    "changed": changed,
                    "reason": reasons.get((str(item.id), source.code), "") if changed else "",
                }
            )
            totals[source.code] += approved or 0
        rows.append(
            {
                "ref": item.row_ref or str(item.position),
                "name": item.name,
                "rejected": bool(item.rejected),
                "reason": reasons.get((str(item.id), None), "") if item.rejected else "",
                "cells": cells,
            }
        )
    used = [  # only the sources the unit's items name: the table stays narrow on a phone
        n for n, _s in enumerate(sources) if any(r["cells"][n]["proposed"] is not None for r in rows)
    ]
    for row in rows:
        row["cells"] = [row["cells"][n] for n in used]
    sources = [sources[n] for n in used]
    totals = {s.code: totals[s.code] for s in sources}
    version = issued_version(session=session, cycle=cycle)
    return {
        "decision_number": cycle.decision_number,
        "decision_date": cycle.decision_date,
        "signer": cycle.decision_signer,
        "sources": sources,
        "rows": rows,
        "totals": totals,
        "total": sum(totals.values()),
        "version": version.number if version else None,
        "has_document": issued_file(session=session, cycle_id=cycle.id, kind="docx") is not None,  # type: ignore[arg-type]
        "has_pdf": issued_file(session=session, cycle_id=cycle.id, kind="pdf") is not None,  # type: ignore[arg-type]
        "has_annex": issued_file(session=session, cycle_id=cycle.id, kind="xlsx") is not None,  # type: ignore[arg-type]
    }
