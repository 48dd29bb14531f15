"""Amend the issued plan during the year ("điều chỉnh kế hoạch"): record the proposed changes (add items,
change amounts per funding source, drop items, each with its reason), ask one approval stage (the last
stage of the cycle's chain unless told otherwise) and wait suspended for its decision, as
circulate-for-approval does. Approved: the changes become a new plan version (``is_amendment``) and every
unit concerned is told. Returned: nothing changes."""

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from plancycle.settings import get_settings
from tasks.approval.amendments import AmendmentProposal
from tasks.approval.steps import (
    AmendmentDecisionInput,
    amendment_outcome,
    amendment_request,
    flow_run_link,
    publish_amendment,
    returned,
    start_amendment,
    take_amendment_decision,
    wait_for_decision,
)
from tasks.approval.suspension import AMENDMENT_FLOW, amendment_pause_key, decision_key
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    OptionalDate,
    OptionalInt,
    OptionalText,
    form_field,
    optional_field,
)
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.submissions.steps import refresh_dashboard

ACTOR = f"flow:{AMENDMENT_FLOW}"


@flow(
    name=AMENDMENT_FLOW,
    flow_run_name=run_name("điều chỉnh kế hoạch {year} ngày {as_of}"),
    log_prints=True,
    **OPERATOR_HOOKS,
)
def amend_plan(
    year: int = form_field(..., title="Năm kế hoạch"),
    proposal: AmendmentProposal | None = form_field(None, title="Nội dung điều chỉnh (đề xuất mới)"),
    amendment_number: OptionalInt = optional_field(title="Hoặc: số đề xuất điều chỉnh đã ghi nhận"),
    stage: OptionalText = optional_field(title="Bước phê duyệt (để trống: bước cuối của trình tự phê duyệt)"),
    timeout_days: int = form_field(30, ge=1, le=365, title="Số ngày chờ ý kiến tối đa"),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> Any:
    """Điều chỉnh kế hoạch: ghi nhận đề xuất, xin ý kiến một bước phê duyệt, áp dụng thành phiên bản mới."""
    as_of = as_of or get_settings().today()
    run_id = str(flow_run.id)
    started = start_amendment(
        year, proposal, amendment_number, stage, flow_run_link(), as_of, request_key=run_id, actor=ACTOR
    )
    number, state = started.number, started.state
    if state == "proposed":
        deliver(started.messages, as_of=as_of)
        attempt, problems = 1, []
        while True:
            description = amendment_request(year, number, problems)
            key = amendment_pause_key(number, attempt)
            data = wait_for_decision(AmendmentDecisionInput, description, key, timeout_days)
            state, problems = take_amendment_decision(
                year, number, started.stage_code, data, decision_key(run_id, key), actor=ACTOR
            )
            if not problems:
                break
            attempt += 1
    summary, messages, markdown = amendment_outcome(year, number, as_of)
    if messages:
        deliver(messages, as_of=as_of)
    publish_amendment(year, number, markdown, summary)
    refresh_dashboard(year, as_of)  # the board's approval lines as the amendment left them
    if state == "returned":
        return returned(summary, "amendment", number=number)
    return summary
