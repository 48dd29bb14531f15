"""Collect what units send: workbooks dropped in the inbox folder, then an up-to-date picture of who
has answered (table and progress in the Prefect UI)."""

from __future__ import annotations

from prefect import flow

from plancycle.settings import get_settings
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    TECHNICAL_HINT,
    OptionalDate,
    OptionalInt,
    OptionalText,
    optional_field,
)
from tasks.notify.steps import redeliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.submissions.steps import (
    ingest_inbox,
    log_collected,
    log_no_collecting_cycle,
    publish_status,
    refresh_dashboard,
    resolve_cycle_year,
)


@flow(
    name="collect-submissions",
    flow_run_name=run_name("tiếp nhận đề xuất ngày {as_of}"),
    log_prints=True,
    **OPERATOR_HOOKS,
)
def collect_submissions(
    year: OptionalInt = optional_field(title="Năm kế hoạch (để trống: kỳ đang nhận đề xuất)"),
    inbox_url: OptionalText = optional_field(
        title="Kỹ thuật — thư mục nhận tệp (để trống: thư mục đã cấu hình)", description=TECHNICAL_HINT
    ),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> dict[str, int]:
    """Nhận các tệp đề xuất trong thư mục, kiểm tra, ghi nhận, báo đơn vị; cập nhật bảng tình hình."""
    settings = get_settings()
    as_of = as_of or settings.today()
    year = resolve_cycle_year(year)
    outcomes = ingest_inbox(year, inbox_url or settings.resolved_inbox_url, as_of)
    redeliver()  # hourly: notices (e.g. the portal's intake notices) that failed transiently and are due
    if year is None:
        log_no_collecting_cycle(len(outcomes))
        return {"files": len(outcomes), "accepted": sum(o.accepted and not o.duplicate for o in outcomes)}
    rows = publish_status(year, as_of)
    refresh_dashboard(year, as_of, stage="collect_submissions")
    summary = {
        "files": len(outcomes),
        "accepted": sum(o.accepted and not o.duplicate for o in outcomes),
        "invalid": sum(not o.accepted and o.rejected_reason is None for o in outcomes),
        "unattributed": sum(o.rejected_reason is not None for o in outcomes),
        "units": len(rows),
        "late": sum(1 for r in rows if r.days_late),
    }
    log_collected(summary)
    return summary
