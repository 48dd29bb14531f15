"""Prefect steps of the `circulate-for-approval` and `amend-plan` flows, around the plain functions of
``tasks/approval/``: the tasks, the approvers' forms (``RunInput``), the wait for a decision, and what a
run reports.

Every task is safe to run again: a suspended run that is resumed re-executes the flow from the top, so
the circulation's first version is found again by the flow run's id (audit entry
``approval.circulation_started``), an amendment again by its request key, decisions are recorded once per
key, messages are keyed per version (or amendment), stage and contact, and files for a version are written
once. Pause keys and decision keys: ``tasks/approval/suspension.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from prefect import get_run_logger, suspend_flow_run, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.flow_runs import resume_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import Field
from sqlmodel import Session

from models.base import CycleStatus
from models.cycle import PlanningCycle
from models.db import session_scope
from models.items import PlanVersion
from plancycle.settings import get_settings
from tasks.approval.amendments import (
    AmendmentDecisionKind,
    AmendmentError,
    AmendmentProposal,
    amended_content,
    amendment_stage,
    amendment_texts,
    decide_amendment,
    get_amendment,
    propose_amendment,
)
from tasks.approval.chain import (
    ApprovalError,
    StageConfig,
    configure_chain,
    get_stage,
    list_stages,
    load_chain_file,
    stage_groups,
)
from tasks.approval.decisions import (
    DecisionData,
    DecisionRefused,
    begin_circulation,
    effective_plan,
    finalize,
    record_decision,
    unit_ids_by_code,
)
from tasks.approval.notices import amendment_messages, approval_request_messages, plan_approved_messages
from tasks.approval.reports import (
    amendment_markdown,
    audit_rows,
    decision_request_markdown,
    decisions_markdown,
)
from tasks.approval.suspension import (
    CIRCULATION_FLOW,
    input_schema_key,
    parse_pause_key,
    run_url,
    waits_for_stage,
)
from tasks.approval.versions import get_version, latest_version, list_versions, version_totals
from tasks.artifacts import next_step, publish_file_link, publish_markdown, render_next_step
from tasks.consolidation.outputs import plan_folder
from tasks.errors import PlancycleError
from tasks.notify.delivery import Message
from tasks.submissions.cycles import require_cycle
from tasks.submissions.review import ItemComment, ReviewError, return_submission
from templates import load_yaml


def _words() -> dict[str, Any]:
    return load_yaml("reports/approval.vi.yaml")


# ---------------------------------------------------------------- the approver's form and the wait


def prefect_ui_url() -> str:
    """The Prefect UI's address: ``PREFECT_UI_URL``, else the API's address without ``/api``."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    return PREFECT_UI_URL.value() or (PREFECT_API_URL.value() or "").removesuffix("/api")


def flow_run_link() -> str:
    """The address of this flow run in the Prefect UI (where the approver decides)."""
    return run_url(str(flow_run.id), prefect_ui_url())


class DecisionInput(RunInput, DecisionData):
    """The approver's form in the Prefect UI (fields from ``DecisionData``)."""


class AmendmentDecisionInput(RunInput):
    """The approver's form: approve (with the amending decision's number, date, signer) or return."""

    approver: str = Field("", title="Người quyết định (email hoặc mã liên hệ của người phê duyệt)")
    decision: AmendmentDecisionKind = Field(
        "approve", title="Quyết định: approve = thống nhất điều chỉnh, return_for_revision = trả lại"
    )
    comment: str | None = Field(None, title="Ý kiến")
    decision_number: str | None = Field(None, title="Số quyết định điều chỉnh")
    decision_date: date | None = Field(None, title="Ngày quyết định")
    signer: str | None = Field(None, title="Người ký")
    entered_by: str | None = Field(None, title="Người nhập thay (khi nhập hộ người phê duyệt)")


def wait_for_decision(
    form: type[DecisionInput] | type[AmendmentDecisionInput], description: str, key: str, timeout_days: int
) -> DecisionData:
    """Suspend the run under pause ``key`` until an approver answers ``form`` (no process waits); the
    answer as ``DecisionData``. A re-executed run gets the answer already given under the same key."""
    answer = suspend_flow_run(
        wait_for_input=form.with_initial_data(description=description),
        key=key,
        timeout=timeout_days * 86_400,
    )
    return DecisionData.model_validate(answer.model_dump(include=set(DecisionData.model_fields)))


def returned(summary: dict[str, Any], reason: str, **values: object) -> State:
    """How a run ends when the plan (or the amendment) is returned: completed, named "Trả lại"."""
    words = _words()["returned"]
    return Completed(message=words[reason].format(**values), name=words["name"], data=summary)


# ---------------------------------------------------------------- answering a waiting run (CLI, portal)
# ``plancycle decide`` and the approver's page in the portal give a decision to the circulation waiting
# for it through the Prefect API, with the same ``run_input`` the Prefect UI form sends: the flow validates
# and records it itself (one decision path).


def waiting_run(*, year: int, stage_code: str, version: int | None = None) -> FlowRun | None:
    """The suspended circulation of ``year`` whose pause key names ``stage_code`` (and ``version`` when
    given), newest first."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[CIRCULATION_FLOW])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
        )
    for run in sorted(runs, key=lambda r: r.created or 0, reverse=True):  # type: ignore[arg-type,return-value]
        key = str(run.state.state_details.pause_key) if run.state else ""
        pause = parse_pause_key(key)
        if version is not None and (pause is None or pause.version_number != version):
            continue
        if int(run.parameters.get("year", 0)) == year and waits_for_stage(key, stage_code):
            return run
    return None


def input_ready(run: FlowRun, timeout: float = 0) -> bool:
    """Whether the suspended run has saved the form it waits for. Prefect marks the run suspended first
    and saves the form's schema just after, so a decision sent in between would not be checked against
    it; wait up to ``timeout`` seconds for it."""
    import time

    from prefect.exceptions import ObjectNotFound

    key = str(run.state.state_details.pause_key) if run.state else ""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                client.read_flow_run_input(run.id, input_schema_key(key))
                return True
            except ObjectNotFound:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.2)


def send_decision(*, year: int, stage_code: str, data: DecisionData, version: int | None = None) -> FlowRun:
    """Resume the waiting run with ``data`` as its input (the same ``run_input`` the Prefect UI form
    sends); returns the run as it was waiting. ``ApprovalError`` when no run waits for the stage (on
    ``version`` when given) or Prefect refuses the answer."""
    run = waiting_run(year=year, stage_code=stage_code, version=version)
    if run is None or not input_ready(run, timeout=30):
        raise ApprovalError("no_waiting_run", year=year, stage=stage_code)
    answer: dict[str, Any] = data.model_dump(mode="json")
    try:
        resume_flow_run(run.id, run_input=answer)
    except RuntimeError as error:
        raise ApprovalError("resume_refused", reason=str(error)) from None
    return run


# ---------------------------------------------------------------- circulate-for-approval


@dataclass
class Circulation:
    """Where a circulation starts: the version first circulated, the stages by sequence, the package."""

    year: int
    version_number: int
    groups: list[list[str]]
    workbook: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    refusal: str | None = None  # why the circulation cannot start (no chain, a wrong chain)


def _package_path(year: int, number: int) -> Path:
    return plan_folder(year) / f"KH{year}_trinh-duyet_v{number}.xlsx"


def default_chain_file() -> Path:
    """The province's default chain: ``PLANCYCLE_APPROVAL_CHAIN_FILE``, else data_dir/approval_chain.yaml
    (the demo seed writes one)."""
    settings = get_settings()
    return settings.approval_chain_file or settings.resolved_data_dir / "approval_chain.yaml"


def _default_stages() -> list[StageConfig]:
    from pydantic import ValidationError

    path = default_chain_file()
    if not path.exists():
        return []
    try:
        return load_chain_file(path)
    except (OSError, ValueError, ValidationError) as error:
        raise ApprovalError("bad_chain_file", path=path, reason=str(error).splitlines()[0]) from None


@task(name="chốt phiên bản và bắt đầu trình duyệt", cache_policy=NO_CACHE)
def start_circulation(
    year: int, as_of: date, stages: list[StageConfig] | None, flow_run_id: str, actor: str
) -> Circulation:
    """Configure the chain (if given; else the cycle's; else the province's default chain file), freeze
    the plan, and remember which version this run circulates; a re-executed run gets the same version
    back even if decisions have since created newer ones. A missing or wrong chain comes back as
    ``refusal`` (the Vietnamese message the run ends with), nothing written."""
    try:
        with session_scope() as session:
            cycle = require_cycle(session=session, year=year)
            if stages:
                configure_chain(session=session, cycle=cycle, stages=stages, actor=actor)
            chain = list_stages(session=session, cycle=cycle)
            if not chain:
                defaults = _default_stages()
                if defaults:
                    configure_chain(session=session, cycle=cycle, stages=defaults, actor=actor)
                    chain = list_stages(session=session, cycle=cycle)
            if not chain:
                raise ApprovalError("no_stages", year=year)
            version = begin_circulation(session=session, cycle=cycle, flow_run_id=flow_run_id, actor=actor)
            findings = write_package(session, cycle, version, as_of)
            _publish_package(year, version.number)
            return Circulation(
                year=year,
                version_number=version.number,
                groups=[[s.code for s in group] for group in stage_groups(chain)],
                workbook=str(_package_path(year, version.number)),
                findings=findings,
            )
    except PlancycleError as error:
        return Circulation(year=year, version_number=0, groups=[], workbook="", refusal=error.message_vi)


def refused(message: str) -> State:
    """How a run ends when it cannot start (no chain, a wrong chain): failed, with the Vietnamese
    message, no traceback."""
    return Failed(message=message, name=_words()["refused_name"])


def write_package(
    session: Session, cycle: PlanningCycle, version: PlanVersion, as_of: date
) -> list[dict[str, Any]]:
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
        cycle = require_cycle(session=session, year=year)
        version = get_version(session=session, cycle=cycle, number=version_number)
        assert version is not None
        findings = write_package(session, cycle, version, as_of)
    _publish_package(year, version_number)
    return str(_package_path(year, version_number)), findings


def _publish_package(year: int, number: int) -> None:
    """The circulated version's workbook, downloadable from the run's artifacts."""
    description = _words()["artifacts"]["package"].format(number=number, year=year)
    publish_file_link(_package_path(year, number), key=f"approval-package-{year}", description=description)


@task(name="thư xin ý kiến người phê duyệt", cache_policy=NO_CACHE)
def approval_messages(
    year: int,
    version_number: int,
    stage_codes: list[str],
    workbook: str,
    link: str,
    as_of: date,
    wait_days: int = 30,
) -> list[Message]:
    """One message per approver of each stage, keyed by version, stage and contact: a re-executed run
    (or a second notice of the same version) sends nothing twice. Each approver's message links to their
    own page in the portal (scoped to them, the stage and the version, valid while the stage waits); the
    reply-by date is the stage's deadline, else N working days after sending."""
    from tasks.approval.access import approver_url, issue_approver_token, link_expiry
    from tasks.common.calendar import WorkingCalendar

    settings = get_settings()
    messages: list[Message] = []
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        version = get_version(session=session, cycle=cycle, number=version_number)
        assert version is not None
        reply_by = WorkingCalendar.from_session(session).add_working_days(
            as_of, settings.approval_reply_working_days
        )
        for code in stage_codes:
            stage = get_stage(session=session, cycle=cycle, code=code)

            def page(contact: Any, stage: Any = stage) -> str:
                token = issue_approver_token(
                    cycle=cycle,
                    stage=stage,
                    version_number=version_number,
                    contact=contact,
                    expires=link_expiry(as_of, wait_days),
                    settings=settings,
                )
                return approver_url(token, settings)

            deadline = stage.deadline or cycle.approval_deadline
            messages += approval_request_messages(
                session=session,
                cycle=cycle,
                stage=stage,
                key=f"approval:{year}:v{version_number}:{code}",
                content=version.content,
                plan_title=cycle.title,
                due=deadline if deadline and deadline > as_of else reply_by,
                link=link,
                attachments=[Path(workbook)],
                link_for=page,
            )
    return messages


@task(name="nội dung xin ý kiến", cache_policy=NO_CACHE)
def decision_request(
    year: int, version_number: int, stage_code: str, problems: list[str], workbook: str, findings: list[dict]
) -> str:
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
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
        cycle = require_cycle(session=session, year=year)
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
            logger.warning(_words()["log"]["decision_refused"], refused.messages_vi)
            return TakenDecision(problems=refused.messages_vi)
        payload = outcome.decision.payload or {}
        logger.info(_words()["log"]["stage_decided"], stage_code, outcome.decision.decision, version_number)
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
        cycle = require_cycle(session=session, year=year)
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
                get_run_logger().warning(_words()["log"]["not_returned"], unit.code, error.message_vi)
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
    from tasks.consolidation.pdf import docx_to_pdf
    from tasks.consolidation.plan import build_plan

    settings = get_settings()
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
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
        document = write_plan_document(
            plan, folder / f"{stem}.docx", province_name=settings.province_name, issued=True
        )
        pdf = docx_to_pdf(document)  # when LibreOffice is installed (best effort)
        words = _words()["artifacts"]
        for path, kind in ((workbook, "issued_workbook"), (document, "issued_document")):
            key = f"plan-{kind.replace('_', '-')}-{year}"
            publish_file_link(path, key=key, description=words[kind].format(year=year))
        return {
            "version": version.number,
            "content_hash": version.content_hash,
            "total": version_totals(version.content)["total"],
            "workbook": str(workbook),
            "document": str(document),
            "pdf": str(pdf) if pdf else None,
            "messages": plan_approved_messages(session=session, cycle=cycle, settings=settings),
        }


@task(name="công bố nhật ký phê duyệt", cache_policy=NO_CACHE)
def publish_chain(year: int, issued_as: str | None = None) -> str:
    """Artifacts: the versions with their decisions (Markdown) and the chain's audit entries (table). Once
    the plan is issued (``issued_as``: the decision's number, possibly empty), the decisions end with the
    next step (the progress reports)."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        markdown = decisions_markdown(session=session, cycle=cycle)
        per_version = {
            v.number: decisions_markdown(session=session, cycle=cycle, version=v.number)
            for v in list_versions(session=session, cycle=cycle)
        }
        rows = audit_rows(session=session, cycle=cycle)
    words = _words()["artifacts"]
    shown = markdown
    if issued_as is not None:
        shown += render_next_step(next_step("plan_issued", {"year": year, "decision_number": issued_as}))
    create_markdown_artifact(
        shown, key=f"approval-decisions-{year}", description=words["decisions"].format(year=year)
    )
    for number, text in per_version.items():  # one artifact per plan version, its history in the UI
        create_markdown_artifact(
            text,
            key=f"approval-v{number}-{year}",
            description=words["version"].format(number=number, year=year),
        )
    create_table_artifact(table=rows, key=f"approval-audit-{year}", description=words["audit"])
    return markdown


# ---------------------------------------------------------------- amend-plan


@dataclass
class AmendmentRound:
    """What the flow needs between tasks: the amendment, its stage, the approvers' messages."""

    number: int
    stage_code: str
    state: str
    messages: list[Message] = field(default_factory=list)


@task(name="ghi nhận đề xuất điều chỉnh", cache_policy=NO_CACHE)
def start_amendment(
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
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
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
        messages = approval_request_messages(
            session=session,
            cycle=cycle,
            stage=stage,
            key=f"amendment:{year}:{amendment.number}:{stage.code}",
            content=amended_content(base.content, amendment.proposal, cycle.money_unit),
            plan_title=amendment_texts()["plan_title"].format(title=cycle.title),
            due=stage.deadline if stage.deadline and stage.deadline >= as_of else as_of,
            link=link,
        )
        return AmendmentRound(
            number=amendment.number, stage_code=stage.code, state=amendment.state, messages=messages
        )


@task(name="nội dung xin ý kiến điều chỉnh", cache_policy=NO_CACHE)
def amendment_request(year: int, number: int, problems: list[str]) -> str:
    """The approver's page of amendment ``number``, with why the previous answer was refused (if it was)."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        amendment = get_amendment(session=session, cycle=cycle, number=number)
        return amendment_markdown(session=session, cycle=cycle, amendment=amendment, problems=problems)


@task(name="ghi nhận ý kiến về điều chỉnh", cache_policy=NO_CACHE)
def take_amendment_decision(
    year: int, number: int, stage_code: str, data: DecisionData, idempotency_key: str, actor: str
) -> tuple[str, list[str]]:
    """Validate and record one decision in one transaction: ``(state, problems)``; problems mean nothing
    was recorded and the flow asks again."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
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


@task(name="kết quả điều chỉnh", cache_policy=NO_CACHE)
def amendment_outcome(year: int, number: int, as_of: date) -> tuple[dict[str, Any], list[Message], str]:
    """The units' messages once approved, the summary, and the Markdown of the outcome (artifact)."""
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
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


def publish_amendment(year: int, number: int, markdown: str, summary: dict[str, Any]) -> None:
    """The amendment's outcome as the run's artifact and log line."""
    words = _words()
    create_markdown_artifact(
        markdown,
        key=f"amendment-{year}-{number}",
        description=words["artifacts"]["amendment"].format(number=number),
    )
    get_run_logger().info(words["log"]["amendment_outcome"], number, summary)


# ---------------------------------------------------------------- a plan issued outside plancycle


@task(name="nhập kế hoạch đã ban hành", cache_policy=NO_CACHE)
def import_plan_file(
    url: str, year: int, statuses_url: str | None, replace: bool, unit: str | None, actor: str, workdir: Path
) -> dict[str, Any]:
    """Import an issued plan's appendix (any fsspec URL) as the plan of ``year``, in one transaction; a
    Markdown artifact tells what was stored, or every reason it was refused (then the run fails)."""
    import fsspec

    from tasks.approval.plan_import import PlanImportError, PlanImportRefused, import_issued_plan

    def local(address: str) -> Path:
        if "://" not in address:
            return Path(address)
        target = workdir / Path(address.rsplit("/", 1)[-1]).name
        with fsspec.open(address, "rb") as source, target.open("wb") as sink:
            sink.write(source.read())
        return target

    texts = load_yaml("reports/plan_import.vi.yaml")
    try:
        with session_scope() as session:
            result = import_issued_plan(
                session=session,
                path=local(url),
                year=year,
                statuses=local(statuses_url) if statuses_url else None,
                replace=replace,
                actor=actor,
                unit=unit,
            )
    except (PlanImportError, PlanImportRefused) as error:
        issues = [i.message("vi") for i in getattr(error, "issues", [])]
        publish_markdown(
            "reports/plan_import.md.j2",
            key=f"plan-import-{year}",
            description=texts["artifacts"]["refused"],
            year=year,
            result=None,
            error=error.message_vi,
            issues=issues,
        )
        raise
    publish_markdown(
        "reports/plan_import.md.j2",
        key=f"plan-import-{year}",
        description=texts["artifacts"]["imported"],
        year=year,
        result=result,
        outcome=texts["outcomes"][result.outcome],
        error=None,
        issues=[],
    )
    get_run_logger().info(
        texts["log"]["imported"].format(
            outcome=texts["outcomes"][result.outcome], **result.model_dump(exclude={"outcome"})
        )
    )
    return result.model_dump(mode="json")
