"""Close the plan year: every approved item's final status from the last report, the cycle closed, and the
carry-over candidates that next year's call for submissions prefills (and its Annex 01 shows)."""

from prefect import flow

from plancycle.settings import get_settings
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    OptionalDate,
    form_field,
    optional_field,
)
from tasks.notify.team import OPERATOR_HOOKS
from tasks.progress.steps import close, log_progress
from tasks.submissions.steps import refresh_dashboard


@flow(
    name="close-year",
    flow_run_name=run_name("khóa sổ kế hoạch {year} ngày {as_of}"),
    log_prints=True,
    **OPERATOR_HOOKS,
)
def close_year(
    year: int = form_field(..., title="Năm kế hoạch"),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> dict[str, object]:
    """Khóa sổ cuối năm: chốt tình trạng từng nhiệm vụ theo báo cáo cuối, lập danh sách chuyển tiếp."""
    as_of = as_of or get_settings().today()
    summary = close(year, as_of)
    log_progress("year_closed", year=year, summary=summary)
    refresh_dashboard(year, as_of)  # the cycle's board says the year is closed
    return summary
