"""Prefect tasks of the `consolidate-plan` flow: consolidate in one transaction, write the appendices and
the draft document, check the written workbook's totals, and publish what the coordinator reads in the
Prefect UI (a Markdown summary, the totals table, links to the files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from models.cycle import get_cycle_by_year
from models.db import session_scope
from plancycle.settings import get_settings
from tasks.consolidation.plan import (
    ConsolidatedPlan,
    ConsolidationError,
    MaterializeResult,
    build_plan,
    materialize_plan,
    plan_is_frozen,
)
from templates import environment


@dataclass
class PlanFiles:
    workbook: Path
    document: Path
    workbook_mismatches: list[str]


def plan_folder(year: int, output_dir: str | None = None) -> Path:
    """Where a cycle's plan files go: ``output_dir`` when given, else data_dir/plans/<year>."""
    folder = (
        Path(output_dir).expanduser()
        if output_dir
        else get_settings().resolved_data_dir / "plans" / str(year)
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@task(name="tổng hợp danh mục từ đề xuất", cache_policy=NO_CACHE)
def consolidate(
    year: int, statuses: tuple[str, ...], grouping: str, as_of: date, actor: str
) -> tuple[ConsolidatedPlan, MaterializeResult | None]:
    """Copy the chosen submissions into the plan (unless the plan is already frozen for approval: then
    the current plan is used as it stands) and compute totals, comparisons, Annex 01 and the checks."""
    logger = get_run_logger()
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year)
        if cycle is None:
            raise ConsolidationError(
                f"Chưa có kỳ kế hoạch năm {year}: hãy mở kỳ (flow open-cycle) trước.",
                f"no planning cycle for {year}",
            )
        assert cycle.id is not None
        materialized = None
        frozen = plan_is_frozen(session, cycle.id)
        if frozen is None:
            materialized = materialize_plan(
                session=session, cycle=cycle, statuses=statuses, grouping=grouping, actor=actor
            )
            logger.info(
                "Đã tổng hợp %s nhiệm vụ, dự án từ %s đề xuất.", materialized.items, materialized.versions
            )
        else:
            logger.warning(
                "Kế hoạch đã chốt phiên bản %s: xuất lại phụ lục từ kế hoạch hiện hành, không tổng hợp lại.",
                frozen.number,
            )
        plan = build_plan(session=session, cycle=cycle, grouping=grouping, as_of=as_of, statuses=statuses)
    return plan, materialized


@task(name="xuất phụ lục và dự thảo kế hoạch", cache_policy=NO_CACHE)
def write_outputs(plan: ConsolidatedPlan, folder: Path) -> PlanFiles:
    """The appendix workbook and the draft document, named by year and date (a re-run the same day
    replaces them); then the workbook is read back and its printed totals checked against its rows."""
    from tasks.consolidation.annexes import write_plan_workbook
    from tasks.consolidation.document import write_plan_document
    from tasks.consolidation.totals_check import check_plan_file

    province = get_settings().province_name
    stem = f"KH{plan.year}_tong-hop_{plan.as_of.isoformat()}"
    workbook = write_plan_workbook(plan, folder / f"{stem}.xlsx", province_name=province)
    document = write_plan_document(plan, folder / f"{stem}.docx", province_name=province)
    report = check_plan_file(workbook)
    mismatches = [str(m) for m in report.mismatches]
    if mismatches:
        get_run_logger().error("Phụ lục vừa xuất có dòng tổng không khớp: %s", mismatches)
    return PlanFiles(workbook=workbook, document=document, workbook_mismatches=mismatches)


def totals_table(plan: ConsolidatedPlan) -> list[dict[str, object]]:
    """Group and grand totals, one row per group, amounts in đồng (exact) per funding source."""
    rows: list[dict[str, object]] = []
    for group in plan.groups.to_dict("records"):
        row: dict[str, object] = {"STT": group["group_roman"], "Nhóm": group["group_label"]}
        row["Số mục"] = int(group["items"])
        for source in plan.sources:
            row[f"{source.code} (đồng)"] = int(group[source.column])
        row["Tổng cộng (đồng)"] = int(group["total"])
        rows.append(row)
    grand: dict[str, object] = {"STT": "", "Nhóm": "TỔNG CỘNG", "Số mục": len(plan.items)}
    for source in plan.sources:
        grand[f"{source.code} (đồng)"] = plan.grand_totals[source.code]
    grand["Tổng cộng (đồng)"] = plan.grand_totals["total"]
    rows.append(grand)
    return rows


@task(name="công bố kết quả tổng hợp", cache_policy=NO_CACHE)
def publish_plan(plan: ConsolidatedPlan, files: PlanFiles, materialized: MaterializeResult | None) -> str:
    markdown = (
        environment()
        .get_template("reports/plan_summary.md.j2")
        .render(plan=plan, files=files, materialized=materialized)
    )
    create_markdown_artifact(
        markdown, key=f"plan-summary-{plan.year}", description=f"Tổng hợp kế hoạch {plan.year}"
    )
    create_table_artifact(
        table=totals_table(plan),
        key=f"plan-totals-{plan.year}",
        description="Tổng kinh phí theo nhóm và nguồn vốn",
    )
    create_link_artifact(
        link=files.workbook.resolve().as_uri(),
        link_text=files.workbook.name,
        key=f"plan-workbook-{plan.year}",
        description="Phụ lục 01, Phụ lục 02, tổng hợp và kiểm tra (Excel)",
    )
    create_link_artifact(
        link=files.document.resolve().as_uri(),
        link_text=files.document.name,
        key=f"plan-document-{plan.year}",
        description="Dự thảo kế hoạch (Word)",
    )
    return markdown
