"""Consolidate the provincial plan from the units' accepted submissions: Annex 01 and 02 with exact totals,
the summary with charts, the draft plan document, and every inconsistency found before anyone signs."""

from __future__ import annotations

from prefect import flow, get_run_logger

from plancycle.settings import get_settings
from tasks.artifacts import run_name
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    TECHNICAL_HINT,
    OptionalDate,
    OptionalText,
    choice,
    choice_field,
    form_field,
    optional_field,
)
from tasks.consolidation.consolidated import DEFAULT_STATUSES
from tasks.consolidation.outputs import consolidation_text, plan_folder
from tasks.consolidation.steps import consolidate, publish_plan, write_outputs
from tasks.notify.team import OPERATOR_HOOKS
from tasks.submissions.steps import refresh_dashboard

STATUS_CHOICES = {"accepted": "đã chấp nhận", "submitted": "đã gửi, chưa xem xét", "returned": "đã trả lại"}
GROUPING_CHOICES = {
    "layout": "theo bố cục phụ lục của kỳ kế hoạch",
    "lead_unit": "đơn vị chủ trì",
    "field": "lĩnh vực ứng dụng",
    "none": "không nhóm",
}


@flow(
    name="consolidate-plan",
    flow_run_name=run_name("tổng hợp kế hoạch {year} ngày {as_of}"),
    log_prints=True,
    **OPERATOR_HOOKS,
)
def consolidate_plan(
    year: int = form_field(..., title="Năm kế hoạch"),
    statuses: list[choice(STATUS_CHOICES)] = choice_field(
        ["accepted"], STATUS_CHOICES, title="Đề xuất được đưa vào (thường: chỉ các đề xuất đã chấp nhận)"
    ),
    grouping: choice(GROUPING_CHOICES) = choice_field(
        "layout", GROUPING_CHOICES, title="Nhóm danh mục nhiệm vụ theo"
    ),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
    output_dir: OptionalText = optional_field(
        title="Kỹ thuật — thư mục ghi tệp (để trống: data/plans/<năm>)", description=TECHNICAL_HINT
    ),
) -> dict[str, object]:
    """Tổng hợp danh mục nhiệm vụ, dự án từ đề xuất của các đơn vị; xuất phụ lục, dự thảo; kiểm tra."""
    as_of = as_of or get_settings().today()
    chosen = tuple(statuses or DEFAULT_STATUSES)
    layout_grouping = None if grouping == "layout" else grouping  # None: the cycle's own appendix layout
    plan, materialized = consolidate(year, chosen, layout_grouping, as_of, actor="flow:consolidate-plan")
    folder = plan_folder(year, output_dir)
    files = write_outputs(plan, folder)
    counts = refresh_dashboard(year, as_of, stage="consolidate_plan")
    publish_plan(plan, files, materialized, counts)
    summary = {
        "items": len(plan.items),
        "groups": len(plan.groups),
        "total_dong": plan.grand_totals["total"],
        "errors": len(plan.errors),
        "warnings": len(plan.warnings),
        "workbook": str(files.workbook),
        "document": str(files.document),
        "workbook_mismatches": len(files.workbook_mismatches),
    }
    get_run_logger().info(consolidation_text("log.summary", summary=summary))
    return summary
