"""Open the year's cycle: record it, ask every unit for its proposals, send each its workbook and link."""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.runtime import flow_run

from plancycle.settings import get_settings
from tasks.common.forms import (
    AS_OF_HINT,
    AS_OF_TITLE,
    OptionalDate,
    OptionalText,
    OptionalTextList,
    choice,
    choice_field,
    form_field,
    optional_field,
)
from tasks.notify.steps import deliver
from tasks.notify.team import OPERATOR_HOOKS
from tasks.submissions.cycles import ApplicationFieldSpec, CycleSpec, FundingSourceSpec, read_cycle_settings
from tasks.submissions.steps import (
    open_cycle_task,
    prepare_call_messages,
    publish_open_cycle,
    refresh_dashboard,
)

UNIT_CHOICES = {"all": "Tất cả đơn vị", "by_kind": "Theo loại đơn vị", "list": "Theo danh sách mã đơn vị"}
MONEY_UNIT_CHOICES = {"dong": "đồng", "trieu": "triệu đồng", "ty": "tỷ đồng"}


@flow(name="open-cycle", flow_run_name="mở kỳ kế hoạch năm {year}", log_prints=True, **OPERATOR_HOOKS)
def open_cycle(
    year: int = form_field(title="Năm kế hoạch", ge=2000, le=2100),
    submission_deadline: date = form_field(title="Hạn đơn vị gửi đề xuất"),
    title: OptionalText = optional_field(title="Tên kế hoạch (để trống: mặc định)"),
    guidance_reference: OptionalText = optional_field(
        title="Văn bản hướng dẫn", description="vd. CV 2055/BTTTT-THH"
    ),
    units: choice(UNIT_CHOICES) = choice_field("all", UNIT_CHOICES, title="Đơn vị được đề nghị"),
    unit_kinds: OptionalTextList = optional_field(title="Loại đơn vị (khi chọn theo loại)"),
    unit_codes: OptionalTextList = optional_field(title="Mã đơn vị (khi chọn theo danh sách)"),
    money_unit: choice(MONEY_UNIT_CHOICES) = choice_field(
        "trieu", MONEY_UNIT_CHOICES, title="Đơn vị tiền hiển thị"
    ),
    funding_sources: list[FundingSourceSpec] = form_field([], title="Nguồn vốn (để trống: mặc định)"),
    coordinating_unit_code: OptionalText = optional_field(
        title="Mã cơ quan chủ trì tổng hợp",
        description="Cơ quan điều phối kỳ kế hoạch; ký thư gửi các đơn vị",
    ),
    coordinator_proposes: bool = form_field(True, title="Cơ quan chủ trì cũng đề xuất"),
    other_leads_allowed: bool = form_field(False, title="Cho phép đề xuất do đơn vị khác chủ trì"),
    application_fields: list[ApplicationFieldSpec] = form_field(
        [], title="Lĩnh vực ứng dụng (để trống: mặc định)"
    ),
    settings_file: OptionalText = optional_field(
        title="Kỹ thuật — tệp thiết lập của kỳ (YAML)",
        description="documents: ngày tham chiếu, tên cơ quan, nơi nhận; layout: bố cục phụ lục",
    ),
    as_of: OptionalDate = optional_field(title=AS_OF_TITLE, description=AS_OF_HINT),
) -> dict[str, int]:
    """Mở kỳ kế hoạch: ghi nhận kỳ, lập yêu cầu cho từng đơn vị, gửi mẫu biểu và đường dẫn riêng.

    Chạy lại không tạo thêm gì và không gửi trùng.
    """
    as_of = as_of or get_settings().today()
    spec = CycleSpec(
        year=year,
        title=title,
        guidance_reference=guidance_reference,
        submission_deadline=submission_deadline,
        units=units,
        unit_kinds=unit_kinds or [],
        unit_codes=unit_codes or [],
        money_unit=money_unit,
        funding_sources=funding_sources or None,
        coordinating_unit_code=coordinating_unit_code,
        coordinator_proposes=coordinator_proposes,
        other_leads_allowed=other_leads_allowed,
        application_fields=application_fields or None,
        settings=read_cycle_settings(settings_file),
    )
    opened = open_cycle_task(spec, as_of, actor=f"flow-run:{flow_run.get_id()}")
    messages = prepare_call_messages(opened.cycle_id)
    result = deliver(messages, as_of=as_of)
    summary = {
        "cycle_id": opened.cycle_id,
        "units_requested": len(opened.submission_ids),
        "new_requests": len(opened.new_submission_ids),
        "messages": len(result.deliveries),
        "sent_now": result.sent_now,
        "failed": len(result.failed),
    }
    counts = refresh_dashboard(year, as_of, stage="open_cycle")
    publish_open_cycle(year, summary, as_of, counts)
    return summary
