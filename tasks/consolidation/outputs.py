"""What a consolidation run leaves behind: the folder of a cycle's plan files, the appendix workbook and the
draft document written there (the workbook read back and its totals checked), and the totals table the
coordinator reads in the Prefect UI. Plain functions; ``steps.py`` wraps them as Prefect tasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plancycle.settings import get_settings
from tasks.consolidation.annexes import write_plan_workbook
from tasks.consolidation.consolidated import ConsolidatedPlan, consolidation_texts
from tasks.consolidation.document import write_plan_document
from tasks.consolidation.totals_check import check_plan_file
from tasks.excel.layout import render_text


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


def write_plan_files(plan: ConsolidatedPlan, folder: Path, *, province_name: str) -> PlanFiles:
    """The appendix workbook and the draft document, named by year and date (a re-run the same day
    replaces them); then the workbook is read back and its printed totals checked against its rows."""
    stem = render_text(consolidation_texts()["file_stem"], year=plan.year, as_of=plan.as_of)
    workbook = write_plan_workbook(plan, folder / f"{stem}.xlsx", province_name=province_name)
    document = write_plan_document(plan, folder / f"{stem}.docx", province_name=province_name)
    report = check_plan_file(workbook)
    mismatches = [str(m) for m in report.mismatches]
    return PlanFiles(workbook=workbook, document=document, workbook_mismatches=mismatches)


def totals_table(plan: ConsolidatedPlan) -> list[dict[str, object]]:
    """Group and grand totals, one row per group, in the plan's display unit (Vietnamese format). The total
    comes right after the number of items, so the column that matters stays on the page however many
    funding sources follow."""
    labels = consolidation_texts()["totals_table"]
    unit = plan.money_unit_label
    source_labels = {s.code: render_text(labels["source"], code=s.code, unit=unit) for s in plan.sources}
    total_label = render_text(labels["total"], unit=unit)
    rows: list[dict[str, object]] = []
    for group in plan.groups.to_dict("records"):
        row: dict[str, object] = {labels["stt"]: group["group_roman"], labels["group"]: group["group_label"]}
        row[labels["items"]] = int(group["items"])
        row[total_label] = plan.money(int(group["total"]))
        for source in plan.sources:
            row[source_labels[source.code]] = plan.money(int(group[source.column]))
        rows.append(row)
    grand: dict[str, object] = {labels["stt"]: "", labels["group"]: labels["grand_total"]}
    grand[labels["items"]] = len(plan.items)
    grand[total_label] = plan.money(plan.grand_totals["total"])
    for source in plan.sources:
        grand[source_labels[source.code]] = plan.money(plan.grand_totals[source.code])
    rows.append(grand)
    return rows


def consolidation_text(key: str, **values: object) -> str:
    """One line of ``templates/workbook/consolidation.yaml`` by dotted key ("log.consolidated",
    "artifacts.summary"), rendered with ``values``: what the flow logs and the artifacts are called."""
    text: object = consolidation_texts()
    for part in key.split("."):
        text = text[part]  # type: ignore[index]
    return render_text(str(text), **values)
