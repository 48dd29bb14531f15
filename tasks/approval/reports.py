"""What people read of the approval chain, as plain functions: the approver's page above the form, the
versions with their decisions (artifacts), and the chain's audit entries (table artifact and Excel file).
Words from ``templates/workbook/approval_audit.yaml`` and ``templates/reports/approval_*.md.j2``."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import xlsxwriter
from sqlmodel import Session, col, select

from models.approval import ApprovalStage
from models.audit import AuditEntry
from models.cycle import PlanningCycle, list_funding_sources
from models.items import PlanVersion
from models.registry import Contact
from tasks.approval.amendments import Amendment, amended_content, amendment_texts
from tasks.approval.chain import list_stages, stage_approvers
from tasks.approval.decisions import list_decisions
from tasks.approval.versions import (
    effective_amount,
    get_version,
    latest_version,
    list_versions,
    version_changes,
    version_totals,
)
from tasks.common.money import format_money_with_unit
from templates import environment, format_local_datetime, load_yaml

CHAIN_ACTIONS = ("approval.", "plan.version", "plan.amount", "plan.item", "plan.approved")


def approval_texts() -> dict[str, Any]:
    """Labels of the audit workbook and of the decision kinds, from the YAML template."""
    return load_yaml("workbook/approval_audit.yaml")


def chain_audit_entries(*, session: Session, cycle: PlanningCycle) -> list[AuditEntry]:
    """The cycle's audit entries written by the chain (configuration, versions, decisions, adjustments)."""
    entries = session.exec(
        select(AuditEntry).where(AuditEntry.cycle_id == cycle.id).order_by(col(AuditEntry.id))
    ).all()
    return [e for e in entries if e.action.startswith(CHAIN_ACTIONS)]


def audit_rows(*, session: Session, cycle: PlanningCycle) -> list[dict[str, Any]]:
    """One row per entry, headed with the labels of the template (also the Prefect table artifact): local
    time, who, what, about what (a version named as its files name it), the details as a sentence."""
    texts = approval_texts()
    columns = texts["columns"]
    actions = texts["actions"]
    return [
        {
            columns["at"]: format_local_datetime(entry.at),
            columns["actor"]: texts["actors"].get(entry.actor, entry.actor),
            columns["action"]: actions.get(entry.action, entry.action),
            columns["entity"]: _subject(session, cycle, entry, texts),
            columns["details"]: _details(entry.details or {}, texts, cycle.money_unit),
        }
        for entry in chain_audit_entries(session=session, cycle=cycle)
    ]


def version_name(cycle: PlanningCycle, version: PlanVersion) -> str:
    """A version as the documents name it: "Phiên bản 2 (KH2027_trinh-duyet_v2)", the issued one
    "Phiên bản 3 – bản ban hành (KH2027_ban-hanh_v3)"."""
    key = "version_final" if version.is_final else "version"
    return approval_texts()["subjects"][key].format(number=version.number, year=cycle.year)


def _subject(session: Session, cycle: PlanningCycle, entry: AuditEntry, texts: dict[str, Any]) -> str:
    from models.items import PlanItem

    subjects = texts["subjects"]
    if entry.entity == "planversion" and entry.entity_id:
        version = session.get(PlanVersion, int(entry.entity_id))
        if version is not None:
            return version_name(cycle, version)
    if entry.entity == "planitem" and entry.entity_id:
        item = session.get(PlanItem, int(entry.entity_id))
        if item is not None:
            return subjects["item"].format(ref=item.row_ref or item.position, name=item.name)
    if entry.entity == "approvaldecision":
        stage = (entry.details or {}).get("stage", "")
        return subjects["decision"].format(stage=stage)
    if entry.entity == "planningcycle":
        return subjects["cycle"].format(year=cycle.year)
    return f"{entry.entity} {entry.entity_id or ''}".strip()


def _details(details: dict[str, Any], texts: dict[str, Any], money_unit: str) -> str:
    """``details`` as "Bước: STC; Phiên bản: 2; …" in the template's words (technical keys left out)."""
    labels, values = texts["detail_labels"], texts["detail_values"]
    parts: list[str] = []
    for key, value in details.items():
        if key not in labels or value is None or value == "" or value == []:
            continue
        if key in ("before", "after") and isinstance(value, int):
            shown = format_money_with_unit(value, money_unit)
        elif key == "adjustments":
            shown = "; ".join(
                texts["adjustment"].format(
                    item=a.get("item"),
                    source=a.get("source"),
                    before=format_money_with_unit(a.get("before"), money_unit),
                    after=format_money_with_unit(a.get("after"), money_unit),
                    reason=a.get("reason") or "",
                )
                for a in value
            )
        elif key == "decision_date" and isinstance(value, str):
            shown = "/".join(reversed(value.split("-")))
        elif key == "reason" and isinstance(value, str) and ":" in value:  # "adjust:STC"
            kind, _, stage = value.partition(":")
            shown = f"{texts['decisions'].get(kind, kind)} ({stage})"
        elif isinstance(value, bool):
            shown = values["yes"] if value else values["no"]
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(values.get(key, {}).get(value, value) if isinstance(value, str) else value)
        parts.append(f"{labels[key]}: {shown}")
    return "; ".join(parts)


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
    versions = list_versions(session=session, cycle=cycle)
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


def _render(template: str, **context: Any) -> str:
    """A Markdown page from ``templates/reports/``."""
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
    return _render(
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
    return _render(
        "approval_decisions.md.j2",
        cycle=cycle,
        versions=[v for v in versions if version is None or v.number == version],
        sources=[s.code for s in list_funding_sources(session=session, cycle_id=cycle.id)],  # type: ignore[arg-type]
        labels=approval_texts()["decisions"],
        channels=approval_texts()["detail_values"]["channel"],
    )


def amendment_markdown(
    *, session: Session, cycle: PlanningCycle, amendment: Amendment, problems: list[str]
) -> str:
    """The approver's page of an amendment: the reason, every change with its reason, totals before and
    after."""
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
    return _render(
        "amendment_request.md.j2",
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
