"""Daily urging: remind units before and after their deadline, escalate, and brief the coordinator."""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import Field

from models.cycle import get_cycle_by_year
from models.db import session_scope
from plancycle.settings import get_settings
from tasks.artifacts import publish_markdown
from tasks.common.calendar import WorkingCalendar
from tasks.notify.delivery import Message
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.progress.requests import remind_progress_reports
from tasks.reminders.approvers import plan_approval_reminders
from tasks.reminders.units import ReminderRow, digest_messages, plan_submission_reminders
from tasks.submissions.steps import resolve_cycle_year


@task(name="xác định việc nhắc hạn", cache_policy=NO_CACHE)
def plan_reminders(year: int, moment: date | datetime) -> tuple[list[Message], list[ReminderRow]]:
    """Which reminder each open request is due now; stale steps are recorded as skipped."""
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year)
        assert cycle is not None
        plan = plan_submission_reminders(session=session, cycle=cycle, as_of=moment, settings=get_settings())
    return plan.messages, plan.rows


@task(name="nhắc người phê duyệt", cache_policy=NO_CACHE)
def plan_approver_reminders(moment: date | datetime) -> list[Message]:
    """Reminders due now to the approvers of the stages a circulating plan is waiting for."""
    with session_scope() as session:
        messages, _rows = plan_approval_reminders(session=session, as_of=moment, settings=get_settings())
    return messages


@task(name="lập bản tin cho cơ quan tổng hợp", cache_policy=NO_CACHE)
def plan_digest(year: int, day: date, failed_deliveries: int) -> tuple[list[Message], dict]:
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year)
        assert cycle is not None
        if not WorkingCalendar.from_session(session).is_working_day(day):
            return [], {}
        return digest_messages(
            session=session,
            cycle=cycle,
            day=day,
            failed_deliveries=failed_deliveries,
            settings=get_settings(),
        )


@flow(name="send-reminders", flow_run_name="nhắc hạn ngày {as_of}", log_prints=True, **OPERATOR_HOOKS)
def send_reminders(
    year: int | None = Field(None, title="Năm kế hoạch (để trống: kỳ đang nhận đề xuất)"),
    as_of: date | None = Field(None, title="Ngày nhắc (để trống: hôm nay, theo giờ hiện tại)"),
) -> dict[str, int]:
    """Nhắc hạn các đơn vị chưa gửi, báo cáo thủ trưởng khi quá hạn lâu, gửi bản tin cho cơ quan tổng hợp.

    Tính theo hạn của từng đơn vị; bỏ lỡ ngày nào thì chỉ gửi lời nhắc phù hợp nhất, không gửi trùng.
    """
    settings = get_settings()
    now = settings.local_now()
    moment: date | datetime = as_of or now  # a given date checks days off only; "now" also quiet hours
    day = as_of or now.date()
    # Progress reports of every cycle being implemented, whichever cycle is collecting
    # (tasks/progress/requests.py).
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
    if rows:
        create_table_artifact(
            table=[r.model_dump(mode="json") for r in rows],
            key=f"reminders-{year}",
            description=f"Nhắc hạn ngày {day:%d/%m/%Y}",
        )
    if figures:
        publish_markdown(
            "reports/digest.md.j2",
            key=f"digest-{year}",
            description=f"Bản tin ngày {day:%d/%m/%Y}",
            figures=figures,
            rows=rows,
        )
    return {
        "reminders": len(rows),
        "messages_sent": result.sent_now if result else 0,
        "digest_sent": digest_result.sent_now if digest_result else 0,
    }
