"""The issued plan and its progress as open data: four tables (items, amounts per source and class, lead
units with their codes, progress per reporting period) written as CSV files with a Frictionless
``datapackage.json`` descriptor, and served as JSON by the portal (``portal/open_data.py``).

Published plans only (a cycle approved, being implemented or closed, with a final version). No personal
data: no contacts, no free text from progress reports (problems and proposals may name people).
Descriptor and field titles: ``templates/open_data/datapackage.yaml``; the layout: docs/open-data.md.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.base import CycleStatus
from models.cycle import PlanningCycle, get_cycle_by_year, list_application_fields, list_funding_sources
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit
from tasks.errors import PlancycleError
from templates import load_yaml

PUBLISHED = (CycleStatus.approved.value, CycleStatus.implementing.value, CycleStatus.closed.value)
TABLES = ("items", "amounts", "units", "progress")


class OpenDataError(PlancycleError):
    catalog = "open_data"


def published_cycles(*, session: Session) -> list[PlanningCycle]:
    """Cycles whose plan has been issued (a final version exists), by year."""
    finals = select(PlanVersion.cycle_id).where(col(PlanVersion.is_final).is_(True))
    return list(
        session.exec(
            select(PlanningCycle)
            .where(col(PlanningCycle.status).in_(PUBLISHED), col(PlanningCycle.id).in_(finals))
            .order_by(col(PlanningCycle.year))
        )
    )


def published_cycle(*, session: Session, year: int) -> PlanningCycle:
    cycle = get_cycle_by_year(session=session, year=year)
    if cycle is None or cycle not in published_cycles(session=session):
        raise OpenDataError("not_published", year=year)
    return cycle


def tables(*, session: Session, cycle: PlanningCycle) -> dict[str, list[dict[str, Any]]]:
    """The four tables of a published plan, rows as plain dicts (amounts in đồng)."""
    year = cycle.year
    sources = {s.id: s for s in list_funding_sources(session=session, cycle_id=cycle.id)}  # type: ignore[arg-type]
    fields = {f.code: f.name for f in list_application_fields(session=session, cycle_id=cycle.id)}  # type: ignore[arg-type]
    items = list(
        session.exec(
            select(PlanItem)
            .where(PlanItem.cycle_id == cycle.id, col(PlanItem.rejected).is_(False))
            .order_by(col(PlanItem.position), col(PlanItem.id))
        )
    )
    ref_of = {i.id: i.row_ref or str(i.position) for i in items}
    units = {u.id: u for u in session.exec(select(Unit))}
    amount_rows: list[dict[str, Any]] = []
    totals: dict[int, int] = dict.fromkeys(ref_of, 0)
    by_item = {i.id: i for i in items}
    for amount in session.exec(
        select(PlanItemAmount)
        .where(col(PlanItemAmount.item_id).in_(list(ref_of)))
        .order_by(col(PlanItemAmount.item_id), col(PlanItemAmount.funding_source_id))
    ):
        value = amount.approved_amount if amount.approved_amount is not None else amount.amount
        source = sources.get(amount.funding_source_id)
        if source is None:
            continue
        totals[amount.item_id] += value or 0
        amount_rows.append(
            {
                "year": year,
                "ref": ref_of[amount.item_id],
                "source_code": source.code,
                "source_name": source.name,
                "class_code": by_item[amount.item_id].class_code,
                "amount_dong": value,
            }
        )
    item_rows = [
        {
            "year": year,
            "ref": ref_of[i.id],
            "name": i.name,
            "lead_unit_code": units[i.lead_unit_id].code,
            "field": fields.get(i.field_code or "", i.field_code),
            "class_code": i.class_code,
            "subfield_code": i.subfield_code,
            "origin": i.origin,
            "start_year": i.start_year,
            "end_year": i.end_year,
            "total_dong": totals[i.id],  # type: ignore[index]
            "status": i.status,
            "percent_complete": i.percent_complete,
        }
        for i in items
    ]
    lead_ids = sorted({i.lead_unit_id for i in items}, key=lambda u: units[u].code)
    unit_rows = [
        {
            "code": units[u].code,
            "name": units[u].name,
            "kind": units[u].kind,
            "admin_code": units[u].admin_code,
            "eid_code": units[u].eid_code,
            "successor_code": units[units[u].successor_id].code if units[u].successor_id in units else None,
        }
        for u in lead_ids
    ]
    progress_rows: list[dict[str, Any]] = []
    if ref_of:
        statement = sa.text(
            "SELECT e.plan_item_id, p.label, p.kind, p.ends_on, e.status, e.percent_complete, e.disbursed "
            "FROM progressentry AS e JOIN progressreport AS r ON r.id = e.report_id "
            "JOIN reportingperiod AS p ON p.id = r.period_id WHERE p.cycle_id = :cycle "
            "ORDER BY p.ends_on, p.id, e.plan_item_id"
        ).bindparams(cycle=cycle.id)
        for row in session.connection().execute(statement):
            if row.plan_item_id not in ref_of:
                continue
            ends_on = row.ends_on if isinstance(row.ends_on, date) else date.fromisoformat(str(row.ends_on))
            progress_rows.append(
                {
                    "year": year,
                    "ref": ref_of[row.plan_item_id],
                    "period": row.label,
                    "period_kind": row.kind,
                    "period_end": ends_on.isoformat(),
                    "status": row.status,
                    "percent_complete": row.percent_complete,
                    "disbursed_dong": row.disbursed,
                }
            )
    return {"items": item_rows, "amounts": amount_rows, "units": unit_rows, "progress": progress_rows}


def descriptor(cycle: PlanningCycle) -> dict[str, Any]:
    """The ``datapackage.json`` of a published plan: one CSV resource per table, with its schema."""
    spec = load_yaml("open_data/datapackage.yaml")
    decision = " ".join(
        p
        for p in (cycle.decision_number, cycle.decision_date and cycle.decision_date.strftime("%d/%m/%Y"))
        if p
    )
    resources = []
    for name in TABLES:
        table = spec["resources"][name]
        schema: dict[str, Any] = {"fields": table["fields"], "primaryKey": table["primaryKey"]}
        if table.get("foreignKeys"):
            schema["foreignKeys"] = table["foreignKeys"]
        resources.append(
            {
                "name": name,
                "title": table["title"],
                "path": f"{name}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "profile": "tabular-data-resource",
                "schema": schema,
            }
        )
    return {
        "profile": "tabular-data-package",
        "name": spec["name"].format(year=cycle.year),
        "title": spec["title"].format(title=cycle.title),
        "description": spec["description"].format(year=cycle.year, decision=decision or "—"),
        "licenses": spec["licenses"],
        "resources": resources,
    }


def write_data_package(*, session: Session, year: int, folder: Path) -> Path:
    """Write the package of the published plan of ``year`` into ``folder``; returns the descriptor's path.
    The same data gives the same files."""
    cycle = published_cycle(session=session, year=year)
    folder.mkdir(parents=True, exist_ok=True)
    data = tables(session=session, cycle=cycle)
    package = descriptor(cycle)
    for resource in package["resources"]:
        names = [f["name"] for f in resource["schema"]["fields"]]
        with (folder / resource["path"]).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
            writer.writeheader()
            for row in data[resource["name"]]:
                writer.writerow({k: "" if row.get(k) is None else row[k] for k in names})
    path = folder / "datapackage.json"
    path.write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
