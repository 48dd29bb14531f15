"""Circulate the consolidated plan for appraisal and approval: freeze a version, ask each stage of the
cycle's chain in turn (stages with the same sequence one after another in the same round), wait for each
decision suspended (no process waits), record it, and issue the plan when the last stage approves.

A return for revision ends the run ("Trả lại"): the units concerned are told and their submissions are
marked returned; after they resubmit, the coordinator consolidates again and starts a new circulation."""

import re
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import Field

from plancycle.settings import get_settings
from tasks.approval.chain import DecisionData, StageConfig
from tasks.approval.steps import (
    approval_messages,
    decision_request,
    prepare_version,
    publish_chain,
    publish_final_plan,
    return_to_units,
    start_circulation,
    take_decision,
)
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.reminders.approvers import run_url

ACTOR = "flow:circulate-for-approval"


class DecisionInput(RunInput, DecisionData):
    """The approver's form in the Prefect UI (fields from ``DecisionData``)."""


def flow_run_link() -> str:
    """The address of this flow run in the Prefect UI (where the approver decides)."""
    return run_url(str(flow_run.id))


def pause_key(version_number: int, stage_code: str, attempt: int) -> str:
    """One suspension per version, stage and attempt: the same key when the run re-executes. Prefect
    accepts only lowercase letters, digits and dashes in input keys."""
    stage = re.sub(r"[^a-z0-9]+", "-", stage_code.lower()).strip("-")
    return f"v{version_number}-{stage}-{attempt}"


@flow(
    name="circulate-for-approval",
    flow_run_name="trình duyệt kế hoạch {year} ngày {as_of}",
    log_prints=True,
    **OPERATOR_HOOKS,
)
def circulate_for_approval(
    year: int = Field(..., title="Năm kế hoạch"),
    as_of: date | None = Field(None, title="Ngày trình (để trống: hôm nay)"),
    stages: list[StageConfig] | None = Field(
        None, title="Trình tự phê duyệt (để trống: trình tự đã cấu hình cho kỳ kế hoạch)"
    ),
    timeout_days: int = Field(30, ge=1, le=365, title="Số ngày chờ tối đa mỗi ý kiến"),
) -> Any:
    """Trình duyệt kế hoạch: chốt phiên bản, xin ý kiến từng bước, ghi nhận, điều chỉnh, ban hành."""
    as_of = as_of or get_settings().today()
    logger = get_run_logger()
    run_id = str(flow_run.id)
    link = flow_run_link()
    circulation = start_circulation(year, as_of, stages, run_id, actor=ACTOR)
    version, workbook, findings = circulation.version_number, circulation.workbook, circulation.findings
    last_group = len(circulation.groups) - 1
    final: DecisionData | None = None
    for group_index, group in enumerate(circulation.groups):
        deliver(approval_messages(year, version, group, workbook, link, as_of), as_of=as_of)
        for stage_index, stage_code in enumerate(group):
            is_final_stage = group_index == last_group and stage_index == len(group) - 1
            attempt, problems = 1, []
            while True:
                description = decision_request(year, version, stage_code, problems, workbook, findings)
                answer = suspend_flow_run(
                    wait_for_input=DecisionInput.with_initial_data(description=description),
                    key=pause_key(version, stage_code, attempt),
                    timeout=timeout_days * 86_400,
                )
                data = DecisionData.model_validate(answer.model_dump(include=set(DecisionData.model_fields)))
                taken = take_decision(
                    year,
                    version,
                    stage_code,
                    data,
                    f"{run_id}:{pause_key(version, stage_code, attempt)}",
                    actor=ACTOR,
                    final_stage=is_final_stage,
                )
                if not taken.problems:
                    break
                attempt, problems = attempt + 1, taken.problems
            logger.info("Bước %s: %s (phiên bản %s).", stage_code, taken.decision, version)
            if taken.decision == "return_for_revision":
                if taken.return_to == "units":
                    deliver(return_to_units(year, taken.unit_codes, taken.comment or "", ACTOR), as_of=as_of)
                publish_chain(year)
                summary = {"outcome": "returned", "stage": stage_code, "version": version}
                return Completed(message=f"Trả lại tại bước {stage_code}", name="Trả lại", data=summary)
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
    publish_chain(year)
    return {"outcome": "approved", **published}
