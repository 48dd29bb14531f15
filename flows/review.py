"""The coordinator's decisions on a unit's submission: accept, return with comments, extend, exempt."""

from __future__ import annotations

from datetime import date
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import Field

from models.db import session_scope
from plancycle.settings import get_settings
from tasks.artifacts import publish_markdown
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.submissions.review import (
    BatchAcceptance,
    ItemComment,
    ReviewOutcome,
    accept_submission,
    accept_submissions,
    changes_since_previous,
    exempt_unit,
    extend_deadline,
    return_submission,
)


@task(name="ghi quyết định xem xét", cache_policy=NO_CACHE)
def record_review(
    year: int,
    unit_code: str,
    action: str,
    reviewer: str,
    comment: str | None,
    item_comments: list[ItemComment],
    new_deadline: date | None,
) -> tuple[ReviewOutcome, list[dict]]:
    """Record the decision in one transaction; returns it with the changes since the previous version."""
    settings = get_settings()
    with session_scope() as session:
        if action == "accept":
            outcome = accept_submission(
                session=session,
                year=year,
                unit_code=unit_code,
                reviewer=reviewer,
                comment=comment,
                settings=settings,
            )
        elif action == "return":
            outcome = return_submission(
                session=session,
                year=year,
                unit_code=unit_code,
                reviewer=reviewer,
                comment=comment or "",
                item_comments=item_comments,
                new_deadline=new_deadline,
                settings=settings,
            )
        elif action == "extend":
            if new_deadline is None:
                raise ValueError("Cần nhập hạn mới (new_deadline) / new_deadline is required")
            outcome = extend_deadline(
                session=session,
                year=year,
                unit_code=unit_code,
                new_deadline=new_deadline,
                reason=comment or "",
                granted_by=reviewer,
            )
        else:
            outcome = exempt_unit(
                session=session, year=year, unit_code=unit_code, reason=comment or "", granted_by=reviewer
            )
        changes = [
            c.model_dump() for c in changes_since_previous(session=session, year=year, unit_code=unit_code)
        ]
    return outcome, changes


@flow(
    name="review-submission",
    flow_run_name="xem xét đề xuất {unit_code} năm {year}",
    log_prints=True,
    **OPERATOR_HOOKS,
)
def review_submission(
    year: int = Field(title="Năm kế hoạch"),
    unit_code: str = Field(title="Mã đơn vị"),
    action: Literal["accept", "return", "extend", "exempt"] = Field(
        title="Quyết định", description="accept: chấp nhận; return: trả lại; extend: gia hạn; exempt: miễn"
    ),
    comment: str | None = Field(None, title="Ý kiến chung / lý do"),
    item_comments: list[ItemComment] | None = Field(None, title="Ý kiến theo từng nhiệm vụ (khi trả lại)"),
    new_deadline: date | None = Field(None, title="Hạn mới (gia hạn, hoặc khi trả lại)"),
    reviewer: str = Field("coordinator", title="Người xem xét"),
) -> dict[str, object]:
    """Xem xét đề xuất của một đơn vị; đơn vị được báo kèm ý kiến và đường dẫn."""
    outcome, changes = record_review(
        year, unit_code, action, reviewer, comment, item_comments or [], new_deadline
    )
    sent = deliver(outcome.messages).sent_now if outcome.messages else 0
    publish_markdown(
        "reports/review.md.j2",
        key=f"review-{year}-{unit_code.lower()}",
        description=f"Xem xét đề xuất {unit_code} năm {year}",
        outcome=outcome,
        action=action,
        changes=changes,
        comment=comment,
    )
    return {"status": outcome.status, "version": outcome.version_number, "messages_sent": sent}


@task(name="chấp nhận các đề xuất", cache_policy=NO_CACHE)
def record_acceptances(
    year: int, unit_codes: list[str] | None, reviewer: str, comment: str | None
) -> BatchAcceptance:
    """Accept each unit in its own transaction; a unit that cannot be accepted is reported, not fatal."""
    return accept_submissions(
        year=year, unit_codes=unit_codes, reviewer=reviewer, comment=comment, settings=get_settings()
    )


@flow(
    name="accept-submissions",
    flow_run_name="chấp nhận đề xuất năm {year}",
    log_prints=True,
    **OPERATOR_HOOKS,
)
def accept_submissions_flow(
    year: int = Field(title="Năm kế hoạch"),
    unit_codes: list[str] | None = Field(
        None, title="Mã các đơn vị (để trống: mọi đề xuất đã nhận, chưa xem xét)"
    ),
    comment: str | None = Field(None, title="Ý kiến chung"),
    reviewer: str = Field("coordinator", title="Người xem xét"),
) -> dict[str, object]:
    """Chấp nhận cùng lúc đề xuất của nhiều đơn vị đã xem xét xong (trả lại thì dùng review-submission)."""
    result = record_acceptances(year, unit_codes, reviewer, comment)
    publish_markdown(
        "reports/acceptances.md.j2",
        key=f"acceptances-{year}",
        description=f"Chấp nhận đề xuất năm {year}",
        year=year,
        result=result,
        comment=comment,
    )
    if result.refused:
        get_run_logger().warning("Không chấp nhận được: %s", result.refused)
    return {"accepted": [o.unit_code for o in result.accepted], "refused": result.refused}
