"""What the approver's page in the portal shows and takes, as plain functions: the plan version asked about
(totals by funding source and by group, the items, the changes since the previous version, the checks'
findings), the version's files (annex workbook, draft document; written once per version), the decision
the stage already took, and the page's form read into the ``DecisionData`` the Prefect UI form gives.
Sentences live in ``templates/portal/approver*.html.j2`` and ``templates/errors/approval.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from models.items import PlanVersion
from models.registry import Contact, Unit
from plancycle.settings import Settings
from tasks.approval.access import ApproverGrant, stage_decision
from tasks.approval.decisions import AdjustmentIn, DecisionData, effective_plan, validate_decision
from tasks.approval.versions import effective_amount, latest_version, version_changes, version_totals
from tasks.consolidation.outputs import plan_folder
from templates import error_text


def annex_path(year: int, number: int) -> Path:
    """The version's annex workbook (the one attached to the approvers' email)."""
    return plan_folder(year) / f"KH{year}_trinh-duyet_v{number}.xlsx"


def draft_path(year: int, number: int) -> Path:
    return plan_folder(year) / f"KH{year}_trinh-duyet_v{number}.docx"


def version_file(*, session: Session, grant: ApproverGrant, kind: str, settings: Settings) -> Path | None:
    """The annex (``"xlsx"``) or the draft document (``"docx"``) of the link's version, written once: a
    version never changes. The files are made from the plan as it stands, which is the version only while
    it is the latest one: an older version's file not written then is ``None``."""
    from tasks.consolidation.annexes import write_plan_workbook
    from tasks.consolidation.document import write_plan_document

    year, number = grant.cycle.year, grant.version.number
    path = annex_path(year, number) if kind == "xlsx" else draft_path(year, number)
    if not path.exists():
        latest = latest_version(session=session, cycle=grant.cycle)
        if latest is None or latest.id != grant.version.id:
            return None
        plan = effective_plan(session=session, cycle=grant.cycle, as_of=settings.today())
        if kind == "xlsx":
            write_plan_workbook(plan, path, province_name=settings.province_name)
        else:
            write_plan_document(plan, path, province_name=settings.province_name)
    return path


def _group_of(ref: str) -> str:
    """An item's group in the plan's numbering: "II.3" → "II"."""
    return ref.split(".", 1)[0] if "." in ref else ""


def page_context(
    *, session: Session, grant: ApproverGrant, settings: Settings, with_findings: bool = True
) -> dict[str, Any]:
    """Everything the approver's page shows (amounts in đồng; the template formats them)."""
    version = grant.version
    content = version.content
    sources = content["sources"]
    units = {u.code: u for u in session.exec(select(Unit))}
    items = []
    for item in content["items"]:
        if item["rejected"]:
            continue
        amounts = {code: effective_amount(a) for code, a in item["amounts"].items()}
        lead = units.get(item["lead_unit"])
        items.append(
            {
                "ref": item["ref"],
                "name": item["name"],
                "lead_unit": item["lead_unit"],
                "lead_unit_name": lead.name if lead else item["lead_unit"],
                "amounts": amounts,
                "total": sum(v or 0 for v in amounts.values()),
                "group": _group_of(item["ref"]),
            }
        )
    groups: dict[str, dict[str, Any]] = {}
    for item in items:
        group = groups.setdefault(
            item["group"], {"code": item["group"], "units": [], "totals": {}, "total": 0}
        )
        if item["lead_unit_name"] not in group["units"]:
            group["units"].append(item["lead_unit_name"])
        for code, amount in item["amounts"].items():
            group["totals"][code] = group["totals"].get(code, 0) + (amount or 0)
        group["total"] += item["total"]
    parent = session.get(PlanVersion, version.parent_version_id) if version.parent_version_id else None
    findings = []
    if with_findings:
        plan = effective_plan(session=session, cycle=grant.cycle, as_of=settings.today())
        findings = [
            {"severity": f.severity, "message_vi": f.message_vi, "refs": list(f.refs)} for f in plan.findings
        ]
    decision = stage_decision(session=session, grant=grant)
    lead_units = sorted({i["lead_unit"] for i in items if i["lead_unit"]})
    return {
        "cycle": grant.cycle,
        "stage": grant.stage,
        "version": version,
        "contact": grant.contact,
        "final_stage": grant.final_stage,
        "expires": grant.expires,
        "sources": sources,
        "totals": version_totals(content),
        "groups": list(groups.values()),
        "items": items,
        "parent": parent,
        "changes": version_changes(parent.content if parent else None, content),
        "findings": findings,
        "allowed": [k for k in grant.stage.allowed_decisions],
        "lead_units": [(code, units[code].name if code in units else code) for code in lead_units],
        "decision": decision,
        "decided_by": session.get(Contact, decision.decided_by_contact_id) if decision else None,
        "money_unit": grant.cycle.money_unit,
    }


def read_form(
    form: Mapping[str, Any], lists: Mapping[str, list[str]], grant: ApproverGrant, item_names: dict[str, str]
) -> tuple[DecisionData | None, list[str]]:
    """The page's form as the decision the Prefect UI form would give (approver: the link's contact,
    channel: portal), or the reasons it cannot be read. Per-item comments are written into the comment,
    one line per item ("I.3 – name: comment")."""
    decision = str(form.get("decision") or "")
    comment = str(form.get("comment") or "").strip()
    lines = [comment] if comment else []
    for ref, name in item_names.items():
        text = str(form.get(f"item_comment_{ref}") or "").strip()
        if text:
            lines.append(
                error_text("approver_page", "item_comment_line", "vi", ref=ref, name=name, text=text)
            )
    adjustments = []
    if decision == "adjust":
        for key, value in form.items():
            if not key.startswith("amount_") or not str(value).strip():
                continue
            ref, _, source = key.removeprefix("amount_").rpartition("__")
            reason = str(form.get(f"reason_{ref}") or "").strip()
            adjustments.append(
                AdjustmentIn(item_ref=ref, source_code=source, amount=str(value), reason=reason)
            )
    raw: dict[str, Any] = {
        "approver": str(grant.contact.id),
        "decision": decision,
        "comment": "\n".join(lines) or None,
        "return_to": "units" if form.get("return_to") == "units" else "coordinator",
        "unit_codes": lists.get("unit_codes", []) if form.get("return_to") == "units" else [],
        "adjustments": adjustments,
        "rejected_items": lists.get("rejected_items", []) if decision == "reject_items" else [],
        "channel": "portal",
    }
    if decision == "approve" and grant.final_stage:
        raw["decision_number"] = str(form.get("decision_number") or "").strip() or None
        raw["signer"] = str(form.get("signer") or "").strip() or None
        typed = str(form.get("decision_date") or "").strip()
        if typed:
            try:
                raw["decision_date"] = date.fromisoformat(typed)
            except ValueError:
                return None, [error_text("approver_page", "bad_decision_date", "vi", raw=typed)]
    try:
        return DecisionData.model_validate(raw), []
    except ValidationError:
        return None, [error_text("approver_page", "decision_unreadable", "vi")]


def check_decision(*, session: Session, grant: ApproverGrant, data: DecisionData) -> list[str]:
    """The flow's own check (``validate_decision``), run before the answer is sent, so an invalid
    decision is shown on the page; the flow checks it again when it records it."""
    return validate_decision(
        session=session,
        cycle=grant.cycle,
        version=grant.version,
        stage=grant.stage,
        data=data,
        final_stage=grant.final_stage,
    )
