"""What leadership and the coordinator read of a progress snapshot: the one-page Markdown summary
(``templates/reports/progress_summary.md.j2``), the units table of the Prefect artifact, and the figures a
consolidate-progress run returns."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tasks.common.numbers import format_percent
from tasks.consolidation.plan import STATUS_LABELS
from tasks.progress.report import ProgressSnapshot, report_texts
from templates import environment


def decimal_text(value: Decimal | None) -> str:
    """Display only: Decimal("90.0000") → "90", Decimal("12.5000") → "12,5"."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


def leadership_summary(snapshot: ProgressSnapshot, *, workbook_name: str | None = None) -> str:
    """The one-page Markdown summary (Prefect artifact; also the text of a report to leadership)."""
    attention = sorted(
        (i for i in snapshot.items if i.status in ("suspended", "not_started") or i.problems),
        key=lambda i: -i.approved,
    )
    return (
        environment()
        .get_template("reports/progress_summary.md.j2")
        .render(
            s=snapshot,
            texts=report_texts(),
            labels=STATUS_LABELS,
            pct=format_percent,
            num=decimal_text,
            attention=attention[:10],
            workbook_name=workbook_name,
        )
    )


def units_table(snapshot: ProgressSnapshot) -> list[dict[str, object]]:
    """One row per unit for the Prefect table artifact (amounts in exact đồng)."""
    columns = report_texts()["artifact_columns"]
    return [
        {
            columns["unit"]: u.unit_name,
            columns["items"]: u.totals.items,
            columns["percent"]: format_percent(u.totals.weighted_percent),
            columns["approved"]: u.totals.approved,
            columns["disbursed"]: u.totals.disbursed,
            columns["report"]: u.report.label,
        }
        for u in snapshot.units
    ]


def run_summary(snapshot: ProgressSnapshot, workbook: Path) -> dict[str, object]:
    """What a consolidate-progress run returns: the period, the plan's figures, who is late or missing."""
    return {
        "period": snapshot.period_label,
        "items": snapshot.plan.items,
        "percent": format_percent(snapshot.plan.weighted_percent),
        "approved_dong": snapshot.plan.approved,
        "disbursed_dong": snapshot.plan.disbursed,
        "late": [r.unit_code for r in snapshot.late],
        "missing": [r.unit_code for r in snapshot.missing],
        "indicators_met": snapshot.indicators_met,
        "indicators_not_met": snapshot.indicators_not_met,
        "workbook": str(workbook),
    }
