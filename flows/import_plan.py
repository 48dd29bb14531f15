"""Start from last year's published plan: the issued plan's appendix (and, if given, its year-end
statuses) stored as that year's issued plan, so the next cycle prefills carry-over and Annex 01 from it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from tasks.approval.steps import import_plan_file
from tasks.common.forms import OptionalText, choice, choice_field, form_field, optional_field
from tasks.notify.team import OPERATOR_HOOKS

UNIT_CHOICES = {
    "file": "theo tệp (đơn vị tính ghi trong tệp)",
    "dong": "đồng",
    "trieu": "triệu đồng",
    "ty": "tỷ đồng",
}


@flow(name="import-plan", flow_run_name="nhập kế hoạch năm {year}", log_prints=True, **OPERATOR_HOOKS)
def import_plan(
    file: str = form_field(
        title="Tệp phụ lục kế hoạch đã ban hành",
        description="Đường dẫn hoặc URL (fsspec) của tệp .xlsx / .csv danh mục nhiệm vụ, dự án",
    ),
    year: int = form_field(..., title="Năm của kế hoạch", ge=2000, le=2100),
    statuses: OptionalText = optional_field(
        title="Tệp tình hình thực hiện cuối năm",
        description="Dạng Phụ lục 01: STT, tên nhiệm vụ, trạng thái triển khai (để trống nếu chưa có)",
    ),
    replace: bool = form_field(False, title="Thay kế hoạch đã nhập trước cho năm này"),
    unit: choice(UNIT_CHOICES) = choice_field(
        "file", UNIT_CHOICES, title="Đơn vị tính", description="Chỉ chọn khi tệp không ghi đơn vị tính"
    ),
) -> dict[str, object]:
    """Nhập kế hoạch năm trước đã ban hành ngoài plancycle: đơn vị chủ trì đối chiếu với danh bạ (tên chưa
    có được liệt kê kèm gợi ý), có vấn đề thì không ghi gì. Nhập lại cùng tệp không thay đổi gì."""
    with tempfile.TemporaryDirectory() as workdir:
        return import_plan_file(
            file,
            year,
            statuses,
            replace,
            None if unit == "file" else unit,
            actor=f"flow-run:{flow_run.get_id()}",
            workdir=Path(workdir),
        )
