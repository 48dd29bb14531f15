"""Consolidate the provincial plan from the units' accepted submissions: Annex 01 and 02 with exact totals,
the summary with charts, the draft plan document, and every inconsistency found before anyone signs."""

from __future__ import annotations

from datetime import date
from typing import Literal

from prefect import flow, get_run_logger

from plancycle.settings import get_settings
from tasks.common.forms import form_field
from tasks.consolidation.consolidated import DEFAULT_STATUSES
from tasks.consolidation.outputs import consolidation_text, plan_folder
from tasks.consolidation.steps import consolidate, publish_plan, write_outputs
from tasks.notify.team import OPERATOR_HOOKS


@flow(
    name="consolidate-plan",
    flow_run_name="tổng hợp kế hoạch {year} ngày {as_of}",
    log_prints=True,
    **OPERATOR_HOOKS,
)
def consolidate_plan(
    year: int = form_field(..., title="Năm kế hoạch"),
    statuses: list[Literal["accepted", "submitted", "returned"]] | None = form_field(
        None, title="Đề xuất được đưa vào (để trống: chỉ các đề xuất đã chấp nhận)"
    ),
    grouping: Literal["lead_unit", "field", "none"] | None = form_field(
        None,
        title="Nhóm danh mục theo: lead_unit = đơn vị chủ trì, field = lĩnh vực ứng dụng, none = không nhóm",
        description="Để trống: theo bố cục của kỳ kế hoạch (mặc định: đơn vị chủ trì)",
    ),
    as_of: date | None = form_field(None, title="Ngày tổng hợp (để trống: hôm nay)"),
    output_dir: str | None = form_field(None, title="Thư mục ghi tệp (để trống: data/plans/<năm>)"),
) -> dict[str, object]:
    """Tổng hợp danh mục nhiệm vụ, dự án từ đề xuất của các đơn vị; xuất phụ lục, dự thảo; kiểm tra."""
    as_of = as_of or get_settings().today()
    chosen = tuple(statuses or DEFAULT_STATUSES)
    plan, materialized = consolidate(year, chosen, grouping, as_of, actor="flow:consolidate-plan")
    folder = plan_folder(year, output_dir)
    files = write_outputs(plan, folder)
    publish_plan(plan, files, materialized)
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
