"""Prefect tasks of the `circulate-for-approval` flow, around the plain functions of
``tasks/approval/chain.py``.

Every task is safe to run again: a suspended run that is resumed re-executes the flow from the top, so
the circulation's first version is found again by the flow run's id (audit entry
``approval.circulation_started``), decisions are recorded once per key, messages are keyed per version,
stage and contact, and files for a version are written once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import col, select

from models.audit import AuditEntry, record_audit
from models.base import CycleStatus
from models.db import session_scope
from models.items import PlanVersion
from models.registry import list_unit_recipients
from plancycle.settings import get_settings
from tasks.approval.chain import (
    ApprovalError,
    DecisionData,
    DecisionRefused,
    StageConfig,
    approved_items_by_unit,
    audit_rows,
    configure_chain,
    decision_request_markdown,
    decisions_markdown,
    effective_plan,
    finalize,
    freeze_version,
    get_stage,
    get_version,
    list_stages,
    record_decision,
    require_cycle,
    stage_approvers,
    stage_groups,
    unit_ids_by_code,
    version_totals,
)
from tasks.consolidation.steps import plan_folder
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import unit_context
from tasks.submissions.review import ItemComment, ReviewError, return_submission


@dataclass
class Circulation:
    """Where a circulation starts: the version first circulated, the stages by sequence, the package."""

    year: int
    version_number: int
    groups: list[list[str]]
    workbook: str
    findings: list[dict[str, Any]] = field(default_factory=list)


def _package_path(year: int, number: int) -> Path:
    return plan_folder(year) / f"KH{year}_trinh-duyet_v{number}.xlsx"


@task(name="chốt phiên bản và bắt đầu trình duyệt", cache_policy=NO_CACHE)
def start_circulation(
    year: int, as_of: date, stages: list[StageConfig] | None, flow_run_id: str, actor: str
) -> Circulation:
    """Configure the chain (if given), freeze the plan, and remember which version this run circulates;
    a re-executed run gets the same version back even if decisions have since created newer ones."""
    with session_scope() as session:
        cycle = require_cycle(session, year)
        if stages:
            configure_chain(session=session, cycle=cycle, stages=stages, actor=actor)
        chain = list_stages(session=session, cycle=cycle)
        if not chain:
            raise ApprovalError("no_stages", year=year)
        started = [
            e
            for e in session.exec(
                select(AuditEntry)
                .where(AuditEntry.cycle_id == cycle.id, AuditEntry.action == "approval.circulation_started")
                .order_by(col(AuditEntry.id))
            )
            if (e.details or {}).get("flow_run_id") == flow_run_id
        ]
        if started:
            version = session.get(PlanVersion, int(started[0].entity_id or 0))
            assert version is not None
        else:
            version = freeze_version(session=session, cycle=cycle, reason="circulation", actor=actor)
            record_audit(
                session=session,
                actor=actor,
                action="approval.circulation_started",
                entity="planversion",
                entity_id=version.id,
                cycle_id=cycle.id,
                details={"flow_run_id": flow_run_id, "version": version.number},
            )
            cycle.status = CycleStatus.circulating
            session.add(cycle)
        findings = write_package(session, cycle, version, as_of)
        return Circulation(
            year=year,
            version_number=version.number,
            groups=[[s.code for s in group] for group in stage_groups(chain)],
            workbook=str(_package_path(year, version.number)),
            findings=findings,
        )


def write_package(session: Any, cycle: Any, version: PlanVersion, as_of: date) -> list[dict[str, Any]]:
    """The appendix workbook of a version, written once (a version never changes), and the findings of
    the checks on the plan as it stands."""
    from tasks.consolidation.annexes import write_plan_workbook

    plan = effective_plan(session=session, cycle=cycle, as_of=as_of)
    path = _package_path(cycle.year, version.number)
    if not path.exists():
        write_plan_workbook(plan, path, province_name=get_settings().province_name)
    return [{"severity": f.severity, "message_vi": f.message_vi, "refs": list(f.refs)} for f in plan.findings]


@task(name="chuẩn bị phiên bản để trình", cache_policy=NO_CACHE)
def prepare_version(year: int, version_number: int, as_of: date) -> tuple[str, list[dict[str, Any]]]:
    """The workbook of a version created by a decision during the run (written once)."""
    with session_scope() as session:
        cycle = require_cycle(session, year)
        version = get_version(session=session, cycle=cycle, number=version_number)
        assert version is not None
        findings = write_package(session, cycle, version, as_of)
    return str(_package_path(year, version_number)), findings


@task(name="thư xin ý kiến người phê duyệt", cache_policy=NO_CACHE)
def approval_messages(
    year: int, version_number: int, stage_codes: list[str], workbook: str, link: str, as_of: date
) -> list[Message]:
    """One message per approver of each stage, keyed by version, stage and contact: a re-executed run
    (or a second notice of the same version) sends nothing twice."""
    messages: list[Message] = []
    with session_scope() as session:
        cycle = require_cycle(session, year)
        version = get_version(session=session, cycle=cycle, number=version_number)
        assert version is not None
        totals = version_totals(version.content)
        count = sum(1 for i in version.content["items"] if not i["rejected"])
        for code in stage_codes:
            stage = get_stage(session=session, cycle=cycle, code=code)
            for contact in stage_approvers(session=session, stage=stage):
                messages.append(
                    Message(
                        template="approval_requested",
                        key=f"approval:{year}:v{version_number}:{code}",
                        contact_id=contact.id,  # type: ignore[arg-type]
                        unit_id=contact.unit_id,
                        cycle_id=cycle.id,
                        context={
                            "cycle": {"title": cycle.title, "year": cycle.year},
                            "plan_title": cycle.title,
                            "item_count": count,
                            "total": totals["total"],
                            "due": stage.deadline or cycle.approval_deadline or as_of,
                            "link": link,
                        },
                        attachments=[Path(workbook)],
                    )
                )
    return messages


@task(name="nội dung xin ý kiến", cache_policy=NO_CACHE)
def decision_request(
    year: int, version_number: int, stage_code: str, problems: list[str], workbook: str, findings: list[dict]
) -> str:
    with session_scope() as session:
        cycle = require_cycle(session, year)
        version = get_version(session=session, cycle=cycle, number=version_number)
        assert version is not None
        stage = get_stage(session=session, cycle=cycle, code=stage_code)
        return decision_request_markdown(
            session=session,
            cycle=cycle,
            version=version,
            stage=stage,
            problems=problems,
            findings=findings,
            workbook_name=Path(workbook).name,
        )


@dataclass
class TakenDecision:
    problems: list[str]
    decision: str | None = None
    version_number: int | None = None  # the version to continue with
    new_version: bool = False
    return_to: str | None = None
    unit_codes: list[str] = field(default_factory=list)
    comment: str | None = None
    recorded_now: bool = False


@task(name="ghi nhận ý kiến", cache_policy=NO_CACHE)
def take_decision(
    year: int,
    version_number: int,
    stage_code: str,
    data: DecisionData,
    idempotency_key: str,
    actor: str,
    final_stage: bool,
) -> TakenDecision:
    """Validate and record one decision in one transaction; an invalid one writes nothing and comes back
    with its problems (the flow asks again)."""
    logger = get_run_logger()
    with session_scope() as session:
        cycle = require_cycle(session, year)
        version = get_version(session=session, cycle=cycle, number=version_number)
        stage = get_stage(session=session, cycle=cycle, code=stage_code)
        assert version is not None
        try:
            outcome = record_decision(
                session=session,
                cycle=cycle,
                version=version,
                stage=stage,
                data=data,
                idempotency_key=idempotency_key,
                actor=actor,
                final_stage=final_stage,
            )
        except DecisionRefused as refused:
            logger.warning("Ý kiến chưa hợp lệ, hỏi lại: %s", refused.messages_vi)
            return TakenDecision(problems=refused.messages_vi)
        payload = outcome.decision.payload or {}
        return TakenDecision(
            problems=[],
            decision=outcome.decision.decision,
            version_number=outcome.current_version.number,
            new_version=outcome.new_version is not None,
            return_to=payload.get("return_to"),
            unit_codes=list(payload.get("unit_codes") or []),
            comment=outcome.decision.comment,
            recorded_now=outcome.recorded_now,
        )


@task(name="trả lại đơn vị", cache_policy=NO_CACHE)
def return_to_units(year: int, unit_codes: list[str], comment: str, reviewer: str) -> list[Message]:
    """Mark the units' submissions returned (as the review does) and build their messages; a unit whose
    submission is already returned gets the same message key again, so nothing is sent twice."""
    settings = get_settings()
    messages: list[Message] = []
    with session_scope() as session:
        cycle = require_cycle(session, year)
        cycle.status = CycleStatus.reviewing
        session.add(cycle)
        for unit in unit_ids_by_code(session=session, codes=unit_codes):
            try:
                outcome = return_submission(
                    session=session,
                    year=year,
                    unit_code=unit.code,
                    reviewer=reviewer,
                    comment=comment,
                    item_comments=list[ItemComment](),
                    new_deadline=None,
                    settings=settings,
                )
            except ReviewError as error:
                get_run_logger().warning("Không trả lại được %s: %s", unit.code, error.message_vi)
                continue
            messages.extend(outcome.messages)
    return messages


@task(name="ban hành kế hoạch", cache_policy=NO_CACHE)
def publish_final_plan(
    year: int, decision_number: str, decision_date: date, signer: str, as_of: date, actor: str
) -> dict[str, Any]:
    """Finalize, then write the issued plan's workbook and document (approved amounts) into the plan
    folder, and build each lead unit's message of its approved items."""
    from tasks.consolidation.annexes import write_plan_workbook
    from tasks.consolidation.document import write_plan_document
    from tasks.consolidation.plan import build_plan

    settings = get_settings()
    with session_scope() as session:
        cycle = require_cycle(session, year)
        version = finalize(
            session=session,
            cycle=cycle,
            decision_number=decision_number,
            decision_date=decision_date,
            signer=signer,
            actor=actor,
        )
        plan = build_plan(session=session, cycle=cycle, as_of=as_of, amount_basis="approved_amount")
        folder = plan_folder(year)
        stem = f"KH{year}_ban-hanh_v{version.number}"
        workbook = write_plan_workbook(plan, folder / f"{stem}.xlsx", province_name=settings.province_name)
        document = write_plan_document(plan, folder / f"{stem}.docx", province_name=settings.province_name)
        messages: list[Message] = []
        from models.registry import Unit

        for unit_id, items in approved_items_by_unit(session=session, cycle=cycle).items():
            unit = session.get(Unit, unit_id)
            assert unit is not None
            base = unit_context(session=session, unit=unit, cycle=cycle, settings=settings)
            for contact in list_unit_recipients(session=session, unit_id=unit_id):
                messages.append(
                    Message(
                        template="plan_approved",
                        key=f"plan-approved:{year}:{cycle.decision_number}:{unit.code}",
                        contact_id=contact.id,  # type: ignore[arg-type]
                        unit_id=unit_id,
                        cycle_id=cycle.id,
                        context=base
                        | {
                            "decision_number": cycle.decision_number,
                            "decision_date": cycle.decision_date,
                            "items": items,
                            "total": sum(i["amount"] for i in items),
                        },
                    )
                )
        return {
            "version": version.number,
            "content_hash": version.content_hash,
            "total": version_totals(version.content)["total"],
            "workbook": str(workbook),
            "document": str(document),
            "messages": messages,
        }


@task(name="công bố nhật ký phê duyệt", cache_policy=NO_CACHE)
def publish_chain(year: int) -> str:
    """Artifacts: the versions with their decisions (Markdown) and the chain's audit entries (table)."""
    with session_scope() as session:
        cycle = require_cycle(session, year)
        markdown = decisions_markdown(session=session, cycle=cycle)
        per_version = {
            v.number: decisions_markdown(session=session, cycle=cycle, version=v.number)
            for v in session.exec(select(PlanVersion).where(PlanVersion.cycle_id == cycle.id))
        }
        rows = audit_rows(session=session, cycle=cycle)
    create_markdown_artifact(markdown, key=f"approval-decisions-{year}", description=f"Trình duyệt {year}")
    for number, text in per_version.items():  # one artifact per plan version, its history in the UI
        create_markdown_artifact(
            text, key=f"approval-v{number}-{year}", description=f"Phiên bản {number} của kế hoạch {year}"
        )
    create_table_artifact(table=rows, key=f"approval-audit-{year}", description="Nhật ký phê duyệt")
    return markdown
