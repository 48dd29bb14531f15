"""Close the plan year: every approved item's final status from the last report, the cycle closed, and the
carry-over candidates that next year's call for submissions prefills (and its Annex 01 shows)."""

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import Field

from models.cycle import get_cycle_by_year
from models.db import session_scope
from models.items import PlanItem
from models.registry import Unit
from plancycle.settings import get_settings
from tasks.consolidation.plan import STATUS_LABELS, ConsolidationError
from tasks.notify.team import OPERATOR_HOOKS
from tasks.progress.year_end import close_year as close_year_records


@task(name="khóa sổ cuối năm", cache_policy=NO_CACHE)
def close(year: int, as_of: date) -> dict[str, object]:
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year)
        if cycle is None:
            raise ConsolidationError(f"Chưa có kỳ kế hoạch năm {year}.", f"no planning cycle for {year}")
        result = close_year_records(
            session=session,
            cycle=cycle,
            as_of=as_of,
            actor="flow:close-year",
            timezone=get_settings().timezone,
        )
        session.commit()
        rows = []
        for unit_id, item_ids in result.carry_over_candidates.items():
            unit = session.get(Unit, unit_id)
            for item_id in item_ids:
                item = session.get(PlanItem, item_id)
                assert item is not None
                rows.append(
                    {
                        "Đơn vị": unit.name if unit else str(unit_id),
                        "Nhiệm vụ, dự án": item.name,
                        "Tình trạng": STATUS_LABELS.get(item.status, item.status),
                        "Tỷ lệ (%)": item.percent_complete,
                    }
                )
    create_table_artifact(
        table=rows or [{"Kết quả": "Mọi nhiệm vụ đã hoàn thành hoặc hủy bỏ: không có nhiệm vụ chuyển tiếp."}],
        key=f"carry-over-{year}",
        description=f"Nhiệm vụ chuyển tiếp sang năm {year + 1} (kỳ báo cáo cuối: {result.period_label})",
    )
    return {
        "period": result.period_label,
        "items": len(result.final_statuses),
        "carry_over": len(rows),
        "unreported_items": len(result.unreported),
        "missing_reports": [r.unit_code for r in result.missing_reports],
        "closed_now": result.closed_now,
    }


@flow(
    name="close-year", flow_run_name="khóa sổ kế hoạch {year} ngày {as_of}", log_prints=True, **OPERATOR_HOOKS
)
def close_year(
    year: int = Field(..., title="Năm kế hoạch"),
    as_of: date | None = Field(None, title="Ngày khóa sổ (để trống: hôm nay)"),
) -> dict[str, object]:
    """Khóa sổ cuối năm: chốt tình trạng từng nhiệm vụ theo báo cáo cuối, lập danh sách chuyển tiếp."""
    summary = close(year, as_of or get_settings().today())
    get_run_logger().info("Khóa sổ năm %s: %s", year, summary)
    return summary
