"""Consolidate the units' progress reports for one period: where every item, unit and the whole plan
stands, money disbursed against money approved, who is late or has not reported, the indicators against
their targets; the status tracked on each item is updated; an Excel report and a leadership summary."""

from __future__ import annotations

from prefect import flow

from plancycle.settings import get_settings
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    OptionalDate,
    OptionalText,
    form_field,
    optional_field,
)
from tasks.notify.team import OPERATOR_HOOKS
from tasks.progress.steps import consolidate_period, publish_progress, write_progress_report
from tasks.submissions.steps import refresh_dashboard

ACTOR = "flow:consolidate-progress"


@flow(
    name="consolidate-progress",
    flow_run_name=run_name("tổng hợp tiến độ {year} ngày {as_of}"),
    log_prints=True,
    **OPERATOR_HOOKS,
)
def consolidate_progress(
    year: int = form_field(..., title="Năm kế hoạch"),
    period: OptionalText = optional_field(
        title="Kỳ báo cáo (vd. «Quý II/2027»; để trống: kỳ gần nhất đã chốt số liệu)"
    ),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> dict[str, object]:
    """Tổng hợp báo cáo tiến độ một kỳ: theo nhiệm vụ, đơn vị, toàn kế hoạch; giải ngân; đơn vị trễ hạn,
    chưa báo cáo; chỉ tiêu; cập nhật tình trạng từng nhiệm vụ; xuất Excel và tóm tắt cho lãnh đạo."""
    as_of = as_of or get_settings().today()
    snapshot = consolidate_period(year, period, as_of, actor=ACTOR)
    files = write_progress_report(snapshot)
    summary = publish_progress(snapshot, files)
    refresh_dashboard(year, as_of)
    return summary
