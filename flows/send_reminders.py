"""Daily urging: remind units before and after their deadline, escalate, and brief the coordinator."""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow

from plancycle.settings import get_settings
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    OptionalDate,
    OptionalInt,
    optional_field,
)
from tasks.notify.steps import deliver, redeliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.progress.steps import remind_progress_reports
from tasks.reminders.steps import plan_approver_reminders, plan_digest, plan_reminders, publish_reminders
from tasks.submissions.steps import refresh_dashboard, resolve_cycle_year


@flow(
    name="send-reminders", flow_run_name=run_name("nhắc hạn ngày {as_of}"), log_prints=True, **OPERATOR_HOOKS
)
def send_reminders(
    year: OptionalInt = optional_field(title="Năm kế hoạch (để trống: kỳ đang nhận đề xuất)"),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> dict[str, int]:
    """Nhắc hạn các đơn vị chưa gửi, báo cáo thủ trưởng khi quá hạn lâu, gửi bản tin cho cơ quan tổng hợp.

    Tính theo hạn của từng đơn vị; bỏ lỡ ngày nào thì chỉ gửi lời nhắc phù hợp nhất, không gửi trùng.
    """
    settings = get_settings()
    now = settings.local_now()
    moment: date | datetime = as_of or now  # a given date checks days off only; "now" also quiet hours
    day = as_of or now.date()
    redeliver()  # notices that failed transiently earlier (any flow, the portal) and are due again
    # Progress reports of every cycle being implemented, whichever cycle is collecting.
    progress_messages, _ = remind_progress_reports(moment)
    if progress_messages:
        deliver(progress_messages, as_of=day)
    # Approvers of every plan out for approval (tasks/reminders/approvers.py).
    approver_messages = plan_approver_reminders(moment)
    if approver_messages:
        deliver(approver_messages, as_of=day)
    year = resolve_cycle_year(year)
    if year is None:
        return {"reminders": 0}
    messages, rows = plan_reminders(year, moment)
    result = deliver(messages, as_of=day) if messages else None
    digest, figures = plan_digest(year, day, len(result.failed) if result else 0)
    digest_result = deliver(digest, as_of=day) if digest else None
    publish_reminders(year, day, rows, figures)
    refresh_dashboard(year, day, stage="reminders")
    return {
        "reminders": len(rows),
        "messages_sent": result.sent_now if result else 0,
        "digest_sent": digest_result.sent_now if digest_result else 0,
    }
