"""Circulate the consolidated plan for appraisal and approval: freeze a version, ask each stage of the
cycle's chain in turn (stages with the same sequence one after another in the same round), wait for each
decision suspended (no process waits), record it, and issue the plan when the last stage approves.

A return for revision ends the run ("Trả lại"): the units concerned are told and their submissions are
marked returned; after they resubmit, the coordinator consolidates again and starts a new circulation."""

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from plancycle.settings import get_settings
from tasks.approval.chain import StageConfig
from tasks.approval.decisions import DecisionData
from tasks.approval.steps import (
    DecisionInput,
    approval_messages,
    decision_request,
    flow_run_link,
    prepare_version,
    publish_chain,
    publish_final_plan,
    refused,
    return_to_units,
    returned,
    start_circulation,
    take_decision,
    wait_for_decision,
)
from tasks.approval.suspension import CIRCULATION_FLOW, decision_key, pause_key
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    OptionalDate,
    form_field,
    optional_field,
)
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.submissions.steps import refresh_dashboard

ACTOR = f"flow:{CIRCULATION_FLOW}"


@flow(
    name=CIRCULATION_FLOW,
    flow_run_name=run_name("trình duyệt kế hoạch {year} ngày {as_of}"),
    log_prints=True,
    **OPERATOR_HOOKS,
)
def circulate_for_approval(
    year: int = form_field(..., title="Năm kế hoạch"),
    stages: list[StageConfig] = form_field(
        [],
        title="Trình tự phê duyệt (để trống: trình tự đã cấu hình cho kỳ kế hoạch, "
        "hoặc trình tự mặc định của tỉnh)",
    ),
    timeout_days: int = form_field(30, ge=1, le=365, title="Số ngày chờ tối đa mỗi ý kiến"),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> Any:
    """Trình duyệt kế hoạch: chốt phiên bản, xin ý kiến từng bước, ghi nhận, điều chỉnh, ban hành."""
    as_of = as_of or get_settings().today()
    run_id = str(flow_run.id)
    link = flow_run_link()
    circulation = start_circulation(year, as_of, stages, run_id, actor=ACTOR)
    if circulation.refusal:
        return refused(circulation.refusal)
    version, workbook, findings = circulation.version_number, circulation.workbook, circulation.findings
    refresh_dashboard(year, as_of)
    last_group = len(circulation.groups) - 1
    final: DecisionData | None = None
    for group_index, group in enumerate(circulation.groups):
        deliver(approval_messages(year, version, group, workbook, link, as_of, timeout_days), as_of=as_of)
        for stage_index, stage_code in enumerate(group):
            is_final_stage = group_index == last_group and stage_index == len(group) - 1
            attempt, problems = 1, []
            while True:
                description = decision_request(year, version, stage_code, problems, workbook, findings)
                key = pause_key(version, stage_code, attempt)
                data = wait_for_decision(DecisionInput, description, key, timeout_days)
                taken = take_decision(
                    year,
                    version,
                    stage_code,
                    data,
                    decision_key(run_id, key),
                    actor=ACTOR,
                    final_stage=is_final_stage,
                )
                if not taken.problems:
                    break
                attempt, problems = attempt + 1, taken.problems
            if taken.decision == "return_for_revision":
                if taken.return_to == "units":
                    deliver(return_to_units(year, taken.unit_codes, taken.comment or "", ACTOR), as_of=as_of)
                publish_chain(year)
                refresh_dashboard(year, as_of)
                summary = {"outcome": "returned", "stage": stage_code, "version": version}
                return returned(summary, "at_stage", stage=stage_code)
            if taken.new_version and taken.version_number is not None:
                version = taken.version_number
                workbook, findings = prepare_version(year, version, as_of)
            if is_final_stage:
                final = data
    assert final is not None and final.decision_date is not None
    published = publish_final_plan(
        year, final.decision_number or "", final.decision_date, final.signer or "", as_of, actor=ACTOR
    )
    deliver(published.pop("messages"), as_of=as_of)
    publish_chain(year, issued_as=final.decision_number or "")
    refresh_dashboard(year, as_of)
    return {"outcome": "approved", **published}
