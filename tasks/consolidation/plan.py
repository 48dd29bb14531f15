"""Consolidation: from accepted submissions to the provincial plan (Annex 02), its totals and its checks.

Two steps, both exact to the đồng:

1. ``materialize_plan`` copies the items of the chosen submission versions into the cycle's plan
   (``PlanItem`` + ``PlanItemAmount``), in the plan's order, in one transaction. It refuses once a plan
   version has been frozen for approval: from then on the plan changes only through decisions.
2. ``build_plan`` reads the cycle's plan from the database with pandas (``frames.py``) and computes
   everything the appendices, the draft document and the Prefect artifacts show (``ConsolidatedPlan``,
   ``consolidated.py``): items grouped (by lead unit or by field) with Roman-numeral headings, totals per
   funding source per item, group and grand total, the new vs carry-over split, the comparison with last
   year's plan, envelopes with their gaps, Annex 01 (last year's items with the status units reported)
   and the findings of the checks (``checks.py``).

Money is int64 đồng throughout (pandas nullable ``Int64`` for amounts that may be unstated); a total is
a sum of integers, and only the writers round, for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from models.audit import record_audit
from models.base import CycleStatus, ItemStatus, SubmissionStatus
from models.cycle import FundingEnvelope, PlanningCycle
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit
from tasks.common.money import format_money
from tasks.consolidation.checks import run_checks
from tasks.consolidation.consolidated import (
    DEFAULT_STATUSES,
    ORIGIN_LABELS,
    STATUS_LABELS,
    ConsolidatedPlan,
    ConsolidationError,
    EnvelopeRow,
    SourceInfo,
    no_field_label,
    period_text,
)
from tasks.consolidation.dated import reference_date
from tasks.consolidation.duplicates import duplicate_findings, funded_items
from tasks.consolidation.frames import (
    AMOUNT_BASES,
    compute_totals,
    order_items,
    plan_fields,
    plan_items_frame,
    plan_sources,
    read_frame,
    units_frame,
)
from tasks.consolidation.legal_frame import (
    class_totals,
    configured_findings,
    frame_for,
    share_findings,
)
from tasks.submissions.workbook import previous_cycle_of
from templates import load_yaml

# ---------------------------------------------------------------- step 1: materialize


def _chosen_versions(session: Session, cycle_id: int, statuses: tuple[str, ...]) -> pd.DataFrame:
    """The latest version of every submission of the cycle whose status is in ``statuses``."""
    statement = sa.text(
        "SELECT sv.id AS version_id, submission.unit_id AS unit_id, submission.status AS status "
        "FROM submissionversion AS sv JOIN submission ON submission.id = sv.submission_id "
        "WHERE submission.cycle_id = :cycle AND submission.status IN :statuses "
        "AND sv.number = (SELECT max(sv2.number) FROM submissionversion AS sv2 "
        "WHERE sv2.submission_id = submission.id)"
    ).bindparams(sa.bindparam("statuses", expanding=True))
    rows = session.connection().execute(statement, {"cycle": cycle_id, "statuses": list(statuses)})
    return pd.DataFrame(rows.fetchall(), columns=["version_id", "unit_id", "status"])


@dataclass
class MaterializeResult:
    items: int
    amounts: int
    versions: int
    replaced: int


# While the plan is out for approval, approved or being implemented it changes only through decisions.
# A circulation that ended in a return puts the cycle back to "reviewing": consolidation may run again.
FROZEN_CYCLE_STATUSES = {
    CycleStatus.circulating.value,
    CycleStatus.approved.value,
    CycleStatus.implementing.value,
    CycleStatus.closed.value,
}


def plan_is_frozen(session: Session, cycle_id: int) -> PlanVersion | None:
    """The latest plan version when the cycle's plan is frozen (see ``FROZEN_CYCLE_STATUSES``), else None."""
    cycle = session.get(PlanningCycle, cycle_id)
    if cycle is None or cycle.status not in FROZEN_CYCLE_STATUSES:
        return None
    return session.exec(
        select(PlanVersion).where(PlanVersion.cycle_id == cycle_id).order_by(col(PlanVersion.number).desc())
    ).first()


def materialize_plan(
    *,
    session: Session,
    cycle: PlanningCycle,
    statuses: tuple[str, ...] = DEFAULT_STATUSES,
    grouping: str | None = None,
    actor: str,
) -> MaterializeResult:
    """Replace the cycle's draft plan by the items of the chosen submissions, in one transaction.

    Idempotent: the same submissions give the same plan. Refused once a plan version exists (the plan
    is then under approval and changes only through recorded decisions). ``grouping``: None for the
    cycle's layout (``layout.annex02.grouping``, else by lead unit)."""
    assert cycle.id is not None
    grouping = grouping or annex02_layout(cycle).get("grouping") or "lead_unit"
    unknown = sorted(set(statuses) - {s.value for s in SubmissionStatus})
    if unknown or not statuses:
        raise ConsolidationError(
            "invalid_statuses" if unknown else "no_statuses",
            unknown=", ".join(unknown),
            allowed=", ".join(s.value for s in SubmissionStatus),
            given=unknown or statuses,
        )
    frozen = plan_is_frozen(session, cycle.id)
    if frozen is not None:
        raise ConsolidationError("plan_frozen", year=cycle.year, version=frozen.number)
    try:
        versions = _chosen_versions(session, cycle.id, tuple(statuses))
        version_ids = [int(v) for v in versions["version_id"]]
        items = pd.DataFrame()
        if version_ids:
            items = read_frame(
                session,
                sa.text(
                    "SELECT id AS source_item_id, submission_version_id, sheet_row, row_ref, name, "
                    "lead_unit_id, co_lead_unit_ids, coordinating_units, field_code, origin, "
                    "procurement_mode, objective, scope, start_year, end_year, basis, carry_over_from_id, "
                    "class_code, subfield_code "
                    "FROM submissionitem WHERE submission_version_id IN :versions"
                ).bindparams(sa.bindparam("versions", version_ids, expanding=True)),
            )
        replaced = session.exec(
            select(sa.func.count()).select_from(PlanItem).where(PlanItem.cycle_id == cycle.id)
        ).one()
        plan_ids = select(PlanItem.id).where(PlanItem.cycle_id == cycle.id)
        session.exec(delete(PlanItemAmount).where(col(PlanItemAmount.item_id).in_(plan_ids)))
        session.exec(delete(PlanItem).where(col(PlanItem.cycle_id) == cycle.id))
        amount_count = 0
        if not items.empty:
            items["within"] = items["sheet_row"].fillna(0).astype("int64") * 1_000_000 + items[
                "source_item_id"
            ].astype("int64")
            ordered = order_items(
                items,
                grouping=grouping,
                units=units_frame(session),
                fields=plan_fields(session, cycle.id),
                coordinator_unit_id=cycle.coordinating_unit_id,
                layout=annex02_layout(cycle),
            )
            ordered["position"] = range(1, len(ordered) + 1)
            columns = [
                "row_ref",
                "name",
                "lead_unit_id",
                "co_lead_unit_ids",
                "coordinating_units",
                "field_code",
                "origin",
                "procurement_mode",
                "objective",
                "scope",
                "start_year",
                "end_year",
                "basis",
                "carry_over_from_id",
                "source_item_id",
                "position",
                "group_label",
                "class_code",
                "subfield_code",
            ]
            records = ordered[columns].astype(object).where(ordered[columns].notna(), None)
            records["row_ref"] = ordered["ref"]
            records["cycle_id"] = cycle.id
            records["status"] = ItemStatus.proposed.value
            records["rejected"] = False
            now = pd.Timestamp.now(tz="UTC").to_pydatetime()
            records["created_at"] = now
            records["updated_at"] = now
            session.execute(sa.insert(PlanItem), records.to_dict("records"))
            amount_count = (
                session.connection()
                .execute(
                    sa.text(
                        "INSERT INTO planitemamount (item_id, funding_source_id, amount) "
                        "SELECT p.id, a.funding_source_id, a.amount FROM planitem AS p "
                        "JOIN submissionitemamount AS a ON a.item_id = p.source_item_id "
                        "WHERE p.cycle_id = :cycle"
                    ),
                    {"cycle": cycle.id},
                )
                .rowcount
            )
        record_audit(
            session=session,
            actor=actor,
            action="plan.consolidated",
            subject=cycle,
            cycle=cycle,
            details={
                "statuses": list(statuses),
                "grouping": grouping,
                "versions": version_ids,
                "items": len(items),
                "replaced_items": int(replaced),
            },
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return MaterializeResult(
        items=len(items), amounts=int(amount_count), versions=len(version_ids), replaced=int(replaced)
    )


# ---------------------------------------------------------------- step 2: build


def annex02_layout(cycle: PlanningCycle) -> dict[str, Any]:
    """The cycle's own layout of Annex 02 (settings ``layout.annex02``); empty: the defaults."""
    return dict(((cycle.settings or {}).get("layout") or {}).get("annex02") or {})


def build_plan(
    *,
    session: Session,
    cycle: PlanningCycle,
    grouping: str | None = None,
    as_of: date,
    statuses: tuple[str, ...] = DEFAULT_STATUSES,
    amount_basis: Literal["amount", "approved_amount", "approved_else_proposed"] = "amount",
) -> ConsolidatedPlan:
    """Read the cycle's plan from the database and compute totals, comparisons, Annex 01 and findings."""
    assert cycle.id is not None
    grouping = grouping or annex02_layout(cycle).get("grouping") or "lead_unit"
    if amount_basis not in AMOUNT_BASES:
        raise ValueError(amount_basis)
    sources = plan_sources(session, cycle.id)
    units = units_frame(session)
    fields = plan_fields(session, cycle.id)
    raw = plan_items_frame(session, cycle.id, sources, amount_basis)
    raw["within"] = raw["position"].fillna(0).astype("int64")
    items = order_items(
        raw,
        grouping=grouping,
        units=units,
        fields=fields,
        coordinator_unit_id=cycle.coordinating_unit_id,
        layout=annex02_layout(cycle),
    )
    items["origin_label"] = items["origin"].map(ORIGIN_LABELS).fillna(items["origin"])
    items["period"] = [period_text(s, e) for s, e in zip(items["start_year"], items["end_year"], strict=True)]
    totals = compute_totals(items, sources)
    coordinator = session.get(Unit, cycle.coordinating_unit_id) if cycle.coordinating_unit_id else None
    plan = ConsolidatedPlan(
        cycle_id=cycle.id,
        year=cycle.year,
        title=cycle.title,
        money_unit=cycle.money_unit,
        grouping=grouping,
        as_of=as_of,
        statuses=tuple(statuses),
        sources=sources,
        items=items,
        decision_number=cycle.decision_number,
        decision_date=cycle.decision_date,
        decision_signer=cycle.decision_signer,
        guidance_reference=cycle.guidance_reference,
        coordinator_name=coordinator.name if coordinator else None,
        settings=dict(cycle.settings or {}),
        **totals,
    )
    previous = previous_cycle_of(session=session, cycle=cycle)
    previous_items = pd.DataFrame()
    if previous is not None and previous.id is not None:
        previous_sources = plan_sources(session, previous.id)
        previous_items = _previous_plan(session, previous, previous_sources)
        plan.previous_year = previous.year
        plan.previous_money_unit = previous.money_unit
        _compare_with_previous(plan, previous_items, previous_sources, units, fields)
        plan.annex01 = _annex01(session, cycle, previous, previous_items, previous_sources, units, fields)
    plan.envelopes = _envelopes(session, cycle, plan)
    plan.findings = run_checks(plan, previous_items)
    plan.by_class = class_totals(items, sources, frame_for(cycle.year))
    plan.budget_total = cycle.budget_total
    plan.findings += share_findings(plan, cycle.budget_total)
    plan.findings += duplicate_findings(plan, funded_items(session=session, year=cycle.year))
    plan.findings += configured_findings(
        load_yaml("documents/plan_document.vi.yaml")["bases"]["national"],
        reference_date(year=plan.year, settings=plan.settings, decision_date=plan.decision_date),
    )
    return plan


def _previous_plan(session: Session, previous: PlanningCycle, sources: list[SourceInfo]) -> pd.DataFrame:
    """Last year's plan items with amounts: approved amounts where a decision set them, else proposed."""
    return plan_items_frame(session, previous.id, sources, "approved_else_proposed")  # type: ignore[arg-type]


def _compare_with_previous(
    plan: ConsolidatedPlan,
    previous: pd.DataFrame,
    sources: list[SourceInfo],
    units: pd.DataFrame,
    fields: list[tuple[str, str]],
) -> None:
    """Totals of last year's plan per source code (matched by code) and per group of this year's plan;
    last year's groups with nothing this year are listed too (at 0), so the rows add up to both totals."""
    totals = {s.code: int(previous[s.column].fillna(0).astype("int64").sum()) for s in sources}
    totals["total"] = int(previous["total"].sum()) if len(previous) else 0
    plan.previous_totals = totals
    if plan.grouping == "none":
        keys = pd.Series("all", index=previous.index)
        labels = pd.Series("", index=previous.index)
    elif plan.grouping == "lead_unit":
        by_id = units.set_index("id")
        keys = "unit:" + previous["lead_unit_id"].map(by_id["code"]).astype(str)
        labels = previous["lead_unit_id"].map(by_id["name"])
    else:
        keys = "field:" + previous["field_code"].fillna("")
        labels = (
            previous["field_code"].map(dict(fields)).fillna(previous["field_code"]).fillna(no_field_label())
        )
    last_year = (
        pd.DataFrame({"group_key": keys, "group_label": labels, "previous_total": previous["total"]})
        .groupby("group_key", sort=False)
        .agg(group_label=("group_label", "first"), previous_total=("previous_total", "sum"))
        .reset_index()
    )
    compare = plan.groups[["group_key", "group_label", "total"]].merge(
        last_year, on="group_key", how="outer", suffixes=("", "_previous"), sort=False
    )
    compare["group_label"] = compare["group_label"].fillna(compare["group_label_previous"])
    compare["total"] = compare["total"].fillna(0).astype("int64")
    compare["previous_total"] = compare["previous_total"].fillna(0).astype("int64")
    compare["change"] = compare["total"] - compare["previous_total"]
    current = compare["group_key"].isin(plan.groups["group_key"])
    compare = pd.concat([compare[current], compare[~current]], ignore_index=True)
    plan.previous_by_group = compare[["group_key", "group_label", "previous_total", "total", "change"]]


def _reported_statuses(session: Session, cycle: PlanningCycle) -> pd.DataFrame:
    """The latest status each unit reported for last year's items, from the latest version of every
    submission of this cycle (whatever its review status: the unit's own account)."""
    frame = read_frame(
        session,
        sa.text(
            "SELECT r.plan_item_id, r.status, r.percent_complete, r.note, sv.number "
            "FROM itemstatusreport AS r JOIN submissionversion AS sv ON sv.id = r.submission_version_id "
            "JOIN submission AS s ON s.id = sv.submission_id WHERE s.cycle_id = :cycle"
        ).bindparams(cycle=cycle.id),
        ["plan_item_id", "status", "percent_complete", "note", "number"],
    )
    return frame.sort_values("number").drop_duplicates("plan_item_id", keep="last").set_index("plan_item_id")


def _annex01(
    session: Session,
    cycle: PlanningCycle,
    previous: PlanningCycle,
    previous_items: pd.DataFrame,
    previous_sources: list[SourceInfo],
    units: pd.DataFrame,
    fields: list[tuple[str, str]],
) -> pd.DataFrame:
    """Annex 01: last year's items in last year's order, with the status units reported this cycle (or the
    status tracked during the year when no unit reported one)."""
    if previous_items.empty:
        return pd.DataFrame()
    assert previous.id is not None
    frame = previous_items.sort_values(["position", "plan_item_id"]).reset_index(drop=True)
    names = units.set_index("id")["name"]
    field_names = dict(plan_fields(session, previous.id)) | dict(fields)
    reported = _reported_statuses(session, cycle)
    carried = set(
        session.exec(
            select(PlanItem.carry_over_from_id).where(
                PlanItem.cycle_id == cycle.id, col(PlanItem.carry_over_from_id).is_not(None)
            )
        )
    )
    status = frame["plan_item_id"].map(reported["status"]) if len(reported) else pd.Series(dtype=object)
    frame["status"] = status.where(status.notna(), frame["status"]) if len(reported) else frame["status"]
    if len(reported):
        percent = frame["plan_item_id"].map(reported["percent_complete"])
        frame["percent_complete"] = percent.where(
            frame["plan_item_id"].isin(reported.index), frame["percent_complete"]
        )
        note = frame["plan_item_id"].map(reported["note"])
        frame["note"] = note.where(frame["plan_item_id"].isin(reported.index), frame["status_note"])
        frame["reported"] = frame["plan_item_id"].isin(reported.index)
    else:
        frame["note"] = frame["status_note"]
        frame["reported"] = False
    source_text = _sources_text(frame, previous_sources, previous.money_unit)
    return pd.DataFrame(
        {
            "ref": [str(i + 1) for i in range(len(frame))],
            "plan_item_id": frame["plan_item_id"],
            "name": frame["name"],
            "lead_unit_name": frame["lead_unit_id"].map(names),
            "field_name": frame["field_code"].map(field_names).fillna(frame["field_code"]).fillna(""),
            "objective": frame["objective"],
            "scope": frame["scope"],
            "period": [
                period_text(s, e) for s, e in zip(frame["start_year"], frame["end_year"], strict=True)
            ],
            "sources": source_text,
            "total": frame["total"],
            "status": frame["status"],
            "status_label": frame["status"].map(STATUS_LABELS).fillna(frame["status"]),
            "percent_complete": frame["percent_complete"],
            "note": frame["note"],
            "reported": frame["reported"],
            "carried_over": frame["plan_item_id"].isin(carried),
        }
    )


def _sources_text(frame: pd.DataFrame, sources: list[SourceInfo], money_unit: str) -> list[str]:
    """Per row, the sources with their amounts as Annex 01 prints them: "NSĐP: 596; NSTW: chưa ghi số"."""
    parts: list[list[str]] = [[] for _ in range(len(frame))]
    unstated = list(frame["unstated_sources"])
    unstated_text = load_yaml("workbook/plan_annexes.yaml")["annex02"]["unstated"]
    for source in sources:
        for index, value in enumerate(frame[source.column]):
            if not pd.isna(value):
                parts[index].append(f"{source.code}: {format_money(int(value), money_unit)}")
            elif source.code in unstated[index].split(", "):
                parts[index].append(f"{source.code}: {unstated_text}")
    return ["; ".join(p) for p in parts]


def _envelopes(session: Session, cycle: PlanningCycle, plan: ConsolidatedPlan) -> list[EnvelopeRow]:
    by_id = {s.id: s for s in plan.sources}
    rows: list[EnvelopeRow] = []
    unit_totals = plan.by_unit.set_index("lead_unit_id")
    for envelope in session.exec(
        select(FundingEnvelope)
        .where(FundingEnvelope.cycle_id == cycle.id)
        .order_by(col(FundingEnvelope.unit_id).is_not(None), col(FundingEnvelope.id))
    ):
        source = by_id.get(envelope.funding_source_id)
        if source is None or envelope.amount is None:
            continue
        if envelope.unit_id is None:
            rows.append(
                EnvelopeRow(
                    source.code, source.name, None, None, int(envelope.amount), plan.grand_totals[source.code]
                )
            )
            continue
        unit = session.get(Unit, envelope.unit_id)
        planned = int(unit_totals[source.column].get(envelope.unit_id, 0)) if len(unit_totals) else 0
        rows.append(
            EnvelopeRow(
                source.code,
                source.name,
                unit.code if unit else str(envelope.unit_id),
                unit.name if unit else None,
                int(envelope.amount),
                planned,
            )
        )
    return rows
