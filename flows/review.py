"""The coordinator's decisions on a unit's submission: accept, return with comments, extend, exempt."""

from __future__ import annotations

from prefect import flow

from tasks.common.forms import (
    OptionalDate,
    OptionalText,
    OptionalTextList,
    choice,
    form_field,
    optional_field,
)
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.submissions.review import ItemComment
from tasks.submissions.steps import (
    publish_acceptances,
    publish_review,
    record_acceptances,
    record_review,
    refresh_dashboard,
)

ACTION_CHOICES = {
    "accept": "chấp nhận",
    "return": "trả lại để sửa",
    "extend": "gia hạn",
    "exempt": "miễn gửi",
}


@flow(
    name="review-submission",
    flow_run_name="xem xét đề xuất {unit_code} năm {year}",
    log_prints=True,
    **OPERATOR_HOOKS,
)
def review_submission(
    year: int = form_field(title="Năm kế hoạch"),
    unit_code: str = form_field(title="Mã đơn vị"),
    action: choice(ACTION_CHOICES) = form_field(title="Quyết định"),
    comment: OptionalText = optional_field(title="Ý kiến chung / lý do"),
    item_comments: list[ItemComment] = form_field([], title="Ý kiến theo từng nhiệm vụ (khi trả lại)"),
    new_deadline: OptionalDate = optional_field(title="Hạn mới (gia hạn, hoặc khi trả lại)"),
    reviewer: str = form_field("coordinator", title="Người xem xét"),
) -> dict[str, object]:
    """Xem xét đề xuất của một đơn vị; đơn vị được báo kèm ý kiến và đường dẫn."""
    outcome, changes = record_review(
        year, unit_code, action, reviewer, comment, item_comments or [], new_deadline
    )
    sent = deliver(outcome.messages).sent_now if outcome.messages else 0
    counts = refresh_dashboard(year, stage="review")
    publish_review(year, unit_code, outcome, action, changes, comment, counts)
    return {"status": outcome.status, "version": outcome.version_number, "messages_sent": sent}


@flow(
    name="accept-submissions",
    flow_run_name="chấp nhận đề xuất năm {year}",
    log_prints=True,
    **OPERATOR_HOOKS,
)
def accept_submissions_flow(
    year: int = form_field(title="Năm kế hoạch"),
    unit_codes: OptionalTextList = optional_field(
        title="Mã các đơn vị (để trống: mọi đề xuất đã nhận, chưa xem xét)"
    ),
    comment: OptionalText = optional_field(title="Ý kiến chung"),
    reviewer: str = form_field("coordinator", title="Người xem xét"),
) -> dict[str, object]:
    """Chấp nhận cùng lúc đề xuất của nhiều đơn vị đã xem xét xong (trả lại thì dùng review-submission)."""
    result = record_acceptances(year, unit_codes, reviewer, comment)
    counts = refresh_dashboard(year, stage="review")
    publish_acceptances(year, result, comment, counts)
    return {"accepted": [o.unit_code for o in result.accepted], "refused": result.refused}
