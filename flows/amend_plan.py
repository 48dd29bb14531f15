"""Amend the issued plan during the year ("điều chỉnh kế hoạch"): record the proposed changes (add items,
change amounts per funding source, drop items, each with its reason), ask one approval stage (the last
stage of the cycle's chain unless told otherwise) and wait suspended for its decision, as
circulate-for-approval does. Approved: the changes become a new plan version (``is_amendment``) and every
unit concerned is told. Returned: nothing changes."""

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, suspend_flow_run, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import Field

from flows.circulate_for_approval import flow_run_link
from plancycle.settings import get_settings
from tasks.approval import amendments
from tasks.approval.amendments import AmendmentDecisionKind, AmendmentProposal
from tasks.approval.chain import DecisionData
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS

ACTOR = "flow:amend-plan"


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


def pause_key(number: int, attempt: int) -> str:
    """One suspension per amendment and attempt (lowercase letters, digits, dashes: Prefect's rule)."""
    return f"amendment-{number}-{attempt}"


start = task(name="ghi nhận đề xuất điều chỉnh", cache_policy=NO_CACHE)(amendments.start_amendment_run)
request = task(name="nội dung xin ý kiến điều chỉnh", cache_policy=NO_CACHE)(amendments.amendment_request)
decide = task(name="ghi nhận ý kiến về điều chỉnh", cache_policy=NO_CACHE)(amendments.take_amendment_decision)
outcome = task(name="kết quả điều chỉnh", cache_policy=NO_CACHE)(amendments.amendment_outcome)


@flow(
    name="amend-plan",
    flow_run_name="điều chỉnh kế hoạch {year} ngày {as_of}",
    log_prints=True,
    **OPERATOR_HOOKS,
)
def amend_plan(
    year: int = Field(..., title="Năm kế hoạch"),
    proposal: AmendmentProposal | None = Field(None, title="Nội dung điều chỉnh (đề xuất mới)"),
    amendment_number: int | None = Field(None, title="Hoặc: số đề xuất điều chỉnh đã ghi nhận"),
    stage: str | None = Field(None, title="Bước phê duyệt (để trống: bước cuối của trình tự phê duyệt)"),
    as_of: date | None = Field(None, title="Ngày trình (để trống: hôm nay)"),
    timeout_days: int = Field(30, ge=1, le=365, title="Số ngày chờ ý kiến tối đa"),
) -> Any:
    """Điều chỉnh kế hoạch: ghi nhận đề xuất, xin ý kiến một bước phê duyệt, áp dụng thành phiên bản mới."""
    as_of = as_of or get_settings().today()
    run_id = str(flow_run.id)
    started = start(
        year, proposal, amendment_number, stage, flow_run_link(), as_of, request_key=run_id, actor=ACTOR
    )
    number, state = started.number, started.state
    if state == "proposed":
        deliver(started.messages, as_of=as_of)
        attempt, problems = 1, []
        while True:
            description = request(year, number, problems)
            answer = suspend_flow_run(
                wait_for_input=AmendmentDecisionInput.with_initial_data(description=description),
                key=pause_key(number, attempt),
                timeout=timeout_days * 86_400,
            )
            data = DecisionData.model_validate(answer.model_dump(include=set(DecisionData.model_fields)))
            state, problems = decide(
                year, number, started.stage_code, data, f"{run_id}:{pause_key(number, attempt)}", actor=ACTOR
            )
            if not problems:
                break
            attempt += 1
    summary, messages, markdown = outcome(year, number, as_of)
    if messages:
        deliver(messages, as_of=as_of)
    create_markdown_artifact(
        markdown, key=f"amendment-{year}-{number}", description=f"Điều chỉnh số {number}"
    )
    get_run_logger().info("Điều chỉnh số %s: %s", number, summary)
    if state == "returned":
        return Completed(message=f"Điều chỉnh số {number} bị trả lại", name="Trả lại", data=summary)
    return summary
