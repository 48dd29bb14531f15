"""Through the year: keep the reporting calendar, and when a period's cut-off is near ask every unit with
approved items or indicators for its progress report, with its prefilled workbook and its own link."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from prefect import flow
from prefect.runtime import flow_run

from plancycle.settings import get_settings
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    EmptyIfNone,
    OptionalDate,
    OptionalInt,
    choice,
    choice_field,
    form_field,
    optional_field,
)
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.progress.calendar import ReportingOverrides
from tasks.progress.periods import PeriodOverride
from tasks.progress.steps import open_periods_and_request, prepare_progress_messages, publish_requests
from tasks.submissions.steps import refresh_dashboard

PeriodKindName = Literal["quarterly", "six_monthly", "annual", "monthly"]
PERIOD_CHOICES = {"quarterly": "quý", "six_monthly": "6 tháng", "annual": "năm", "monthly": "tháng"}


@flow(
    name="request-progress-reports",
    flow_run_name=run_name("đề nghị báo cáo tiến độ ngày {as_of}"),
    log_prints=True,
    **OPERATOR_HOOKS,
)
def request_progress_reports(
    year: OptionalInt = optional_field(title="Năm kế hoạch (để trống: mọi kỳ đã phê duyệt, đang thực hiện)"),
    kinds: list[choice(PERIOD_CHOICES)] = choice_field(
        ["quarterly"], PERIOD_CHOICES, title="Loại kỳ báo cáo"
    ),
    deadline_working_days: OptionalInt = optional_field(
        ge=0, title="Hạn gửi: số ngày làm việc sau ngày chốt số liệu (để trống: 3)"
    ),
    by_kind: Annotated[dict[PeriodKindName, PeriodOverride], EmptyIfNone] = form_field(
        {}, title="Quy định riêng theo loại kỳ (để trống: như nhau cho mọi loại kỳ)"
    ),
    fixed_deadlines: Annotated[dict[str, date], EmptyIfNone] = form_field(
        {}, title="Hạn cố định theo kỳ", description='Theo nhãn kỳ, ví dụ {"Quý IV/2027": "2027-12-20"}'
    ),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> dict[str, int]:
    """Lập lịch kỳ báo cáo; khi gần đến ngày chốt số liệu, đề nghị từng đơn vị báo cáo tiến độ và gửi
    biểu mẫu điền sẵn cùng đường dẫn riêng.

    Chạy hằng ngày: ngoài thời gian đề nghị của một kỳ thì không làm gì; chạy lại không tạo thêm yêu
    cầu và không gửi trùng.
    """
    as_of = as_of or get_settings().today()
    overrides = ReportingOverrides(
        deadline_working_days=deadline_working_days,
        by_kind=by_kind or {},
        fixed_deadlines=fixed_deadlines or {},
    )
    periods = open_periods_and_request(
        year, as_of, list(kinds), overrides, actor=f"flow-run:{flow_run.get_id()}"
    )
    if not periods:
        return {"periods": 0, "new_reports": 0, "messages": 0, "sent_now": 0}
    messages = prepare_progress_messages([p.period_id for p in periods])
    result = deliver(messages, as_of=as_of) if messages else None
    summary = {
        "periods": len(periods),
        "new_reports": sum(p.new_reports for p in periods),
        "messages": len(result.deliveries) if result else 0,
        "sent_now": result.sent_now if result else 0,
    }
    publish_requests(as_of, periods, summary)
    for cycle_year in sorted({p.cycle_year for p in periods}):
        refresh_dashboard(cycle_year, as_of)
    return summary
