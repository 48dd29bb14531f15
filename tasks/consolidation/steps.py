"""Prefect tasks of the `consolidate-plan` flow: consolidate in one transaction, write the appendices and
the draft document, check the written workbook's totals, and publish what the coordinator reads in the
Prefect UI (a Markdown summary, the totals table, links to the files). The rules are in ``plan.py`` and
``outputs.py``; these wrappers add the session, the settings, the log and the artifacts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from models.db import session_scope
from plancycle.settings import get_settings
from tasks.artifacts import next_step, publish_file_link, publish_markdown
from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.outputs import PlanFiles, consolidation_text, totals_table, write_plan_files
from tasks.consolidation.plan import MaterializeResult, build_plan, materialize_plan, plan_is_frozen
from tasks.submissions.cycles import require_cycle


@task(name="tổng hợp danh mục từ đề xuất", cache_policy=NO_CACHE)
def consolidate(
    year: int, statuses: tuple[str, ...], grouping: str | None, as_of: date, actor: str
) -> tuple[ConsolidatedPlan, MaterializeResult | None]:
    """Copy the chosen submissions into the plan (unless the plan is already frozen for approval: then
    the current plan is used as it stands) and compute totals, comparisons, Annex 01 and the checks."""
    logger = get_run_logger()
    with session_scope() as session:
        cycle = require_cycle(session=session, year=year)
        assert cycle.id is not None
        materialized = None
        frozen = plan_is_frozen(session, cycle.id)
        if frozen is None:
            materialized = materialize_plan(
                session=session, cycle=cycle, statuses=statuses, grouping=grouping, actor=actor
            )
            logger.info(
                consolidation_text(
                    "log.consolidated", items=materialized.items, versions=materialized.versions
                )
            )
        else:
            logger.warning(consolidation_text("log.frozen", number=frozen.number))
        plan = build_plan(session=session, cycle=cycle, grouping=grouping, as_of=as_of, statuses=statuses)
    return plan, materialized


@task(name="xuất phụ lục và dự thảo kế hoạch", cache_policy=NO_CACHE)
def write_outputs(plan: ConsolidatedPlan, folder: Path) -> PlanFiles:
    """The appendix workbook and the draft document, named by year and date (a re-run the same day
    replaces them); then the workbook is read back and its printed totals checked against its rows."""
    files = write_plan_files(plan, folder, province_name=get_settings().province_name)
    if files.workbook_mismatches:
        get_run_logger().error(consolidation_text("log.mismatches", mismatches=files.workbook_mismatches))
    return files


@task(name="công bố kết quả tổng hợp", cache_policy=NO_CACHE)
def publish_plan(
    plan: ConsolidatedPlan,
    files: PlanFiles,
    materialized: MaterializeResult | None,
    after: dict[str, Any] | None = None,
) -> None:
    """The Markdown summary (with download links of the two files, ending with the next step; ``after``:
    the cycle's counts), the totals table and one link artifact per file, keyed by year."""
    workbook = publish_file_link(
        files.workbook, key=f"plan-workbook-{plan.year}", description=consolidation_text("artifacts.workbook")
    )
    document = publish_file_link(
        files.document, key=f"plan-document-{plan.year}", description=consolidation_text("artifacts.document")
    )
    publish_markdown(
        "reports/plan_summary.md.j2",
        key=f"plan-summary-{plan.year}",
        description=consolidation_text("artifacts.summary", year=plan.year),
        plan=plan,
        files=files,
        materialized=materialized,
        downloads={"workbook": workbook, "document": document},
        next_step=next_step("consolidate_plan", after) if after else None,
    )
    create_table_artifact(
        table=totals_table(plan),
        key=f"plan-totals-{plan.year}",
        description=consolidation_text("artifacts.totals"),
    )
