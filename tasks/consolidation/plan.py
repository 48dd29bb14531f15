"""Consolidation: from accepted submissions to the provincial plan (Annex 02), its totals and its checks.

Two steps, both exact to the đồng:

1. ``materialize_plan`` copies the items of the chosen submission versions into the cycle's plan
   (``PlanItem`` + ``PlanItemAmount``), in the plan's order, in one transaction. It refuses once a plan
   version has been frozen for approval: from then on the plan changes only through decisions.
2. ``build_plan`` reads the cycle's plan from the database with pandas and computes everything the
   appendices, the draft document and the Prefect artifacts show: items grouped (by lead unit or by field)
   with Roman-numeral headings, totals per funding source per item, group and grand total, the new vs
   carry-over split, the comparison with last year's plan, envelopes with their gaps, Annex 01 (last year's
   items with the status units reported) and the findings of the checks.

Money is int64 đồng throughout (pandas nullable ``Int64`` for amounts that may be unstated); a total is
a sum of integers, and only the writers round, for display.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from models.audit import record_audit
from models.base import CycleStatus, ItemOrigin, ItemStatus, SubmissionStatus, UnitKind
from models.cycle import (
    FundingEnvelope,
    PlanningCycle,
    list_application_fields,
    list_funding_sources,
)
from models.items import PlanItem, PlanItemAmount, PlanVersion
from models.registry import Unit, unit_name_key
from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.submissions.workbook import previous_cycle_of, workbook_texts

Grouping = Literal["lead_unit", "field"]
GROUPINGS: tuple[str, ...] = ("lead_unit", "field")
DEFAULT_STATUSES: tuple[str, ...] = (SubmissionStatus.accepted.value,)
CLOSED_STATUSES = {ItemStatus.completed.value, ItemStatus.cancelled.value}

# Group order when grouping by lead unit: the coordinator first (as real plans do), then departments and
# the provincial leadership's offices, public service units, others, then local People's Committees.
KIND_ORDER = {
    UnitKind.department.value: 0,
    UnitKind.provincial_leadership.value: 1,
    UnitKind.public_service.value: 2,
    UnitKind.other.value: 3,
    UnitKind.district.value: 4,
    UnitKind.commune.value: 5,
}
NO_FIELD_LABEL = "Chưa xác định lĩnh vực"


class ConsolidationError(RuntimeError):
    """Consolidation cannot proceed; ``message_vi`` is shown to the coordinator."""

    def __init__(self, message_vi: str, message_en: str) -> None:
        self.message_vi = message_vi
        self.message_en = message_en
        super().__init__(f"{message_vi} ({message_en})")


@dataclass(frozen=True)
class SourceInfo:
    id: int
    code: str
    name: str
    group: str

    @property
    def column(self) -> str:
        """The amount column of this source in ``ConsolidatedPlan.items`` and the total frames."""
        return f"amt:{self.code}"


@dataclass
class Finding:
    """One result of the checks. ``refs`` are item numbers as printed in Annex 02 (e.g. "II.3")."""

    kind: str
    severity: Literal["error", "warning"]
    message_vi: str
    message_en: str
    refs: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)


@dataclass
class EnvelopeRow:
    source_code: str
    source_name: str
    unit_code: str | None  # None: the envelope of the whole plan
    unit_name: str | None
    ceiling: int
    planned: int

    @property
    def gap(self) -> int:
        """Ceiling minus planned: negative when the plan (or the unit) is over its envelope."""
        return self.ceiling - self.planned


@dataclass
class ConsolidatedPlan:
    """Everything the appendices, the document and the artifacts show. Frames, in display order:

    - ``items``: one row per plan item: ``plan_item_id, ref, group_no, group_roman, group_key,
      group_label, item_no, name, lead_unit_id, lead_unit_code, lead_unit_name, coordinating_units,
      field_code, field_name, origin, origin_label, objective, scope, start_year, end_year, period, basis,
      carry_over_from_id, unstated_sources`` (codes named without an amount, comma-separated), one
      ``amt:<code>`` column per source (``Int64``, <NA> = no amount) and ``total`` (int64).
    - ``groups``: one row per group: ``group_no, group_roman, group_key, group_label, items``, the
      ``amt:<code>`` sums (int64) and ``total``.
    - ``by_origin`` / ``by_field`` / ``by_unit``: the same sums by new/carry-over, field, lead unit.
    - ``previous_by_group``: ``group_key, group_label, previous_total, total, change`` when last year's
      plan exists (keyed like the groups), else empty.
    - ``annex01``: last year's items: ``ref, name, lead_unit_name, field_name, objective, scope, period,
      sources`` (text such as "NSĐP: 596"), ``status, status_label, percent_complete, note, carried_over``.
    """

    cycle_id: int
    year: int
    title: str
    money_unit: str
    grouping: str
    as_of: date
    statuses: tuple[str, ...]
    sources: list[SourceInfo]
    items: pd.DataFrame
    groups: pd.DataFrame
    grand_totals: dict[str, int]  # source code → đồng, plus "total"
    by_origin: pd.DataFrame
    by_field: pd.DataFrame
    by_unit: pd.DataFrame
    previous_year: int | None = None
    previous_money_unit: str | None = None
    previous_totals: dict[str, int] | None = None
    previous_by_group: pd.DataFrame = field(default_factory=pd.DataFrame)
    envelopes: list[EnvelopeRow] = field(default_factory=list)
    annex01: pd.DataFrame = field(default_factory=pd.DataFrame)
    findings: list[Finding] = field(default_factory=list)
    decision_number: str | None = None
    decision_date: date | None = None
    decision_signer: str | None = None
    guidance_reference: str | None = None
    coordinator_name: str | None = None

    @property
    def money_unit_label(self) -> str:
        return MONEY_UNIT_LABELS[self.money_unit]

    @property
    def amount_columns(self) -> list[str]:
        return [s.column for s in self.sources]

    @property
    def rounding_rule_vi(self) -> str:
        return (
            "Số liệu được lưu và cộng chính xác đến đồng; bảng hiển thị làm tròn đến "
            f"{self.money_unit_label}. "
            "Các dòng tổng được tính trên số liệu chưa làm tròn, nên tổng của các số đã làm tròn có thể "
            "lệch vài đơn vị so với dòng tổng; dòng tổng là số đúng."
        )

    @property
    def rounding_rule_en(self) -> str:
        return (
            "Amounts are stored and summed exactly in đồng; the table displays them rounded to "
            f"{self.money_unit_label}. Totals are computed from unrounded amounts, so the sum of displayed "
            "figures may differ by a few units from the total row; the total row is the exact figure."
        )

    def money(self, amount: int | None) -> str:
        """An amount in the cycle's display unit, Vietnamese format (display only)."""
        return format_money(amount, self.money_unit)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


# ---------------------------------------------------------------- helpers


def roman(number: int) -> str:
    """1 → I, 14 → XIV (group headings of Vietnamese appendices)."""
    if number <= 0:
        raise ValueError(number)
    out = []
    for value, letters in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        while number >= value:
            out.append(letters)
            number -= value
    return "".join(out)


def period_text(start: Any, end: Any) -> str:
    """ "2020" or "2019-2020", as real plans write the implementation period."""
    start = None if pd.isna(start) else int(start)
    end = None if pd.isna(end) else int(end)
    if start is None and end is None:
        return ""
    if start is None or end is None or start == end:
        return str(start or end)
    return f"{start}-{end}"


def _read_frame(session: Session, statement: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """Run a Core select on the session's connection and return a DataFrame (no ORM objects).

    Rows are transposed into columns before pandas sees them: handing pandas SQLAlchemy ``Row`` objects
    makes it probe each one for namedtuple fields, which costs more than the query on 100,000 rows."""
    connection = session.connection()
    if isinstance(statement, str):
        statement = sa.text(statement)
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    arguments: Any = tuple(values[k] for k in compiled.positiontup or ()) if compiled.positional else values
    # The driver's own cursor: plain tuples, no Row objects (a third of the time on 100,000 rows).
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), arguments)
        keys = columns or [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        cursor.close()
    data = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    return pd.DataFrame(
        {key: pd.Series(values, dtype=object) for key, values in zip(keys, data, strict=True)}
    ).infer_objects()


def _unit_order(units: pd.DataFrame, coordinator_unit_id: int | None) -> pd.DataFrame:
    """Add ``unit_rank`` (coordinator first, then by kind) and ``unit_sort`` (name key) to a units frame."""
    units = units.copy()
    units["unit_rank"] = units["kind"].map(KIND_ORDER).fillna(9).astype("int64") + 1
    if coordinator_unit_id is not None:
        units.loc[units["id"] == coordinator_unit_id, "unit_rank"] = 0
    units["unit_sort"] = units["name_key"] if "name_key" in units else units["name"].map(unit_name_key)
    return units


def order_items(
    items: pd.DataFrame,
    *,
    grouping: str,
    units: pd.DataFrame,
    fields: list[tuple[str, str]],
    coordinator_unit_id: int | None,
) -> pd.DataFrame:
    """Sort items into the plan's order and number them: ``group_no``, ``group_roman``, ``group_key``,
    ``group_label``, ``item_no`` and ``ref`` ("II.3").

    ``items`` needs ``lead_unit_id``, ``field_code`` and ``within`` (the order inside a unit: sheet row or
    stored position). ``units``: ``id, code, name, kind``. ``fields``: (code, name) in display order.
    """
    if grouping not in GROUPINGS:
        raise ConsolidationError(
            f"Cách nhóm «{grouping}» không hợp lệ: chọn lead_unit (theo đơn vị chủ trì) "
            "hoặc field (theo lĩnh vực).",
            f"unknown grouping {grouping!r}; use one of {GROUPINGS}",
        )
    ordered_units = _unit_order(units, coordinator_unit_id)
    frame = items.merge(
        ordered_units[["id", "code", "name", "unit_rank", "unit_sort"]].rename(
            columns={"id": "lead_unit_id", "code": "lead_unit_code", "name": "lead_unit_name"}
        ),
        on="lead_unit_id",
        how="left",
    )
    field_rank = {code: rank for rank, (code, _name) in enumerate(fields)}
    field_names = dict(fields)
    frame["field_rank"] = frame["field_code"].map(field_rank).fillna(len(fields)).astype("int64")
    frame.loc[frame["field_code"].isna(), "field_rank"] = len(fields) + 1
    frame["field_name"] = frame["field_code"].map(field_names).fillna(frame["field_code"]).fillna("")
    if grouping == "lead_unit":
        sort = ["unit_rank", "unit_sort", "lead_unit_id", "within"]
        frame = frame.sort_values(sort, kind="stable")
        frame["group_key"] = "unit:" + frame["lead_unit_code"].astype(str)
        frame["group_label"] = frame["lead_unit_name"]
    else:
        sort = ["field_rank", "field_code", "unit_rank", "unit_sort", "lead_unit_id", "within"]
        frame = frame.sort_values(sort, kind="stable", na_position="last")
        frame["group_key"] = "field:" + frame["field_code"].fillna("")
        frame["group_label"] = frame["field_name"].where(frame["field_name"] != "", NO_FIELD_LABEL)
    frame = frame.reset_index(drop=True)
    first = frame["group_key"].ne(frame["group_key"].shift())
    frame["group_no"] = first.cumsum().astype("int64")
    frame["item_no"] = frame.groupby("group_no").cumcount().astype("int64") + 1
    romans = {n: roman(n) for n in frame["group_no"].unique()}
    frame["group_roman"] = frame["group_no"].map(romans).astype(str)
    frame["ref"] = frame["group_roman"] + "." + frame["item_no"].astype(str)
    return frame.drop(columns=["unit_rank", "unit_sort", "field_rank"])


def _units_frame(session: Session) -> pd.DataFrame:
    return _read_frame(
        session,
        sa.select(Unit.id, Unit.code, Unit.name, Unit.kind, Unit.name_key),
        ["id", "code", "name", "kind", "name_key"],
    )


def _fields(session: Session, cycle_id: int) -> list[tuple[str, str]]:
    return [(f.code, f.name) for f in list_application_fields(session=session, cycle_id=cycle_id)]


def _sources(session: Session, cycle_id: int) -> list[SourceInfo]:
    return [
        SourceInfo(id=s.id, code=s.code, name=s.name, group=s.group)  # type: ignore[arg-type]
        for s in list_funding_sources(session=session, cycle_id=cycle_id)
    ]


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


# ---------------------------------------------------------------- step 1: materialize


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
    grouping: str = "lead_unit",
    actor: str,
) -> MaterializeResult:
    """Replace the cycle's draft plan by the items of the chosen submissions, in one transaction.

    Idempotent: the same submissions give the same plan. Refused once a plan version exists (the plan
    is then under approval and changes only through recorded decisions)."""
    assert cycle.id is not None
    unknown = sorted(set(statuses) - {s.value for s in SubmissionStatus})
    if unknown or not statuses:
        raise ConsolidationError(
            f"Trạng thái đề xuất không hợp lệ: {', '.join(unknown) or '(trống)'}; dùng "
            f"{', '.join(s.value for s in SubmissionStatus)}.",
            f"invalid submission statuses {unknown or statuses}",
        )
    frozen = plan_is_frozen(session, cycle.id)
    if frozen is not None:
        raise ConsolidationError(
            f"Kế hoạch năm {cycle.year} đã được chốt phiên bản {frozen.number} để trình duyệt: "
            "không tổng hợp lại từ đề xuất. Mọi thay đổi từ nay đi qua quyết định điều chỉnh.",
            f"plan {cycle.year} is frozen as version {frozen.number}; consolidation would overwrite it",
        )
    try:
        versions = _chosen_versions(session, cycle.id, tuple(statuses))
        version_ids = [int(v) for v in versions["version_id"]]
        items = pd.DataFrame()
        if version_ids:
            items = _read_frame(
                session,
                sa.text(
                    "SELECT id AS source_item_id, submission_version_id, sheet_row, row_ref, name, "
                    "lead_unit_id, co_lead_unit_ids, coordinating_units, field_code, origin, "
                    "procurement_mode, objective, scope, start_year, end_year, basis, carry_over_from_id "
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
                units=_units_frame(session),
                fields=_fields(session, cycle.id),
                coordinator_unit_id=cycle.coordinating_unit_id,
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
            entity="planningcycle",
            entity_id=cycle.id,
            cycle_id=cycle.id,
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


LIGHT_COLUMNS = ["position", "lead_unit_id", "field_code", "origin", "carry_over_from_id"]
DETAIL_COLUMNS = [
    "name",
    "row_ref",
    "coordinating_units",
    "objective",
    "scope",
    "start_year",
    "end_year",
    "basis",
    "source_item_id",
    "status",
    "status_note",
    "percent_complete",
]
AMOUNT_BASES = {
    "amount": "a.amount",
    "approved_amount": "a.approved_amount",
    "approved_else_proposed": "COALESCE(a.approved_amount, a.amount)",
}


def _plan_items_frame(
    session: Session, cycle_id: int, sources: list[SourceInfo], basis: str, *, details: bool = True
) -> pd.DataFrame:
    """The cycle's plan items (not rejected), one row each, with one Int64 ``amt:<code>`` column per
    source, ``total`` (int64), ``unstated_sources`` (codes named without an amount) and ``has_amount_row``.

    The database pivots the amounts (one aggregate query), so 400,000 amount rows never reach Python.
    ``details=False`` reads only what grouping and totals need; the texts come in a second query."""
    amount = AMOUNT_BASES[basis]
    pivots = []
    for n in range(len(sources)):
        pivots.append(
            f"CAST(SUM(CASE WHEN a.funding_source_id = :s{n} THEN {amount} END) AS BIGINT) AS v{n}, "
            f"SUM(CASE WHEN a.funding_source_id = :s{n} AND {amount} IS NULL THEN 1 ELSE 0 END) AS u{n}"
        )
    select_list = ", ".join(
        ["p.id AS plan_item_id", *(f"p.{c}" for c in LIGHT_COLUMNS), "COUNT(a.id) AS rows_"]
    )
    statement = sa.text(
        f"SELECT {select_list}{', ' if pivots else ''}{', '.join(pivots)} "
        "FROM planitem AS p LEFT JOIN planitemamount AS a ON a.item_id = p.id "
        "WHERE p.cycle_id = :cycle AND p.rejected = :rejected "
        f"GROUP BY p.id, {', '.join(f'p.{c}' for c in LIGHT_COLUMNS)}"
    ).bindparams(cycle=cycle_id, rejected=False, **{f"s{n}": s.id for n, s in enumerate(sources)})
    frame = _read_frame(session, statement)
    flags: dict[str, Any] = {}
    for n, source in enumerate(sources):
        frame[source.column] = pd.array(frame.pop(f"v{n}"), dtype="Int64")
        flags[source.code] = frame.pop(f"u{n}").fillna(0).astype("int64").to_numpy() > 0
    columns = [s.column for s in sources]
    frame["total"] = frame[columns].fillna(0).sum(axis=1).astype("int64") if columns else 0
    unstated = [""] * len(frame)
    for code, flagged in flags.items():  # rare: only the flagged rows are touched
        for index in flagged.nonzero()[0]:
            unstated[index] = f"{unstated[index]}, {code}" if unstated[index] else code
    frame["unstated_sources"] = unstated
    frame["has_amount_row"] = frame.pop("rows_").fillna(0).astype("int64") > 0
    if details:
        texts = _read_frame(
            session,
            sa.text(
                f"SELECT id AS plan_item_id, {', '.join(DETAIL_COLUMNS)} FROM planitem "
                "WHERE cycle_id = :cycle AND rejected = :rejected"
            ).bindparams(cycle=cycle_id, rejected=False),
        )
        frame = frame.merge(texts, on="plan_item_id", how="left")
    return frame


def _sums(frame: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Exact int64 sums of the amount columns and ``total`` by ``by``, plus an ``items`` count."""
    values = frame[by + columns + ["total"]].copy()
    for column in columns:
        values[column] = values[column].fillna(0).astype("int64")
    grouped = values.groupby(by, sort=False, dropna=False)
    sums = grouped[columns + ["total"]].sum()
    sums.insert(0, "items", grouped.size())
    return sums.reset_index()


def compute_totals(items: pd.DataFrame, sources: list[SourceInfo]) -> dict[str, Any]:
    """Group sums, the grand totals, and the origin / field / unit breakdowns: exact int64 in đồng."""
    columns = [s.column for s in sources]
    groups = _sums(items, ["group_no", "group_roman", "group_key", "group_label"], columns)
    grand = {s.code: int(items[s.column].fillna(0).astype("int64").sum()) for s in sources}
    grand["total"] = int(items["total"].sum()) if len(items) else 0
    return {
        "groups": groups,
        "grand_totals": grand,
        "by_origin": _sums(items, ["origin"], columns),
        "by_field": _sums(items, ["field_code", "field_name"], columns),
        "by_unit": _sums(items, ["lead_unit_id", "lead_unit_code", "lead_unit_name"], columns),
    }


# One wording for origins and statuses: the unit workbook's (templates/workbook/workbook.vi.yaml).
ORIGIN_LABELS: dict[str, str] = dict(workbook_texts()["origins"])
STATUS_LABELS: dict[str, str] = {ItemStatus.proposed.value: workbook_texts()["unreported_status"]} | dict(
    workbook_texts()["statuses"]
)


def build_plan(
    *,
    session: Session,
    cycle: PlanningCycle,
    grouping: str = "lead_unit",
    as_of: date,
    statuses: tuple[str, ...] = DEFAULT_STATUSES,
    amount_basis: Literal["amount", "approved_amount", "approved_else_proposed"] = "amount",
) -> ConsolidatedPlan:
    """Read the cycle's plan from the database and compute totals, comparisons, Annex 01 and findings."""
    assert cycle.id is not None
    if amount_basis not in AMOUNT_BASES:
        raise ValueError(amount_basis)
    sources = _sources(session, cycle.id)
    units = _units_frame(session)
    fields = _fields(session, cycle.id)
    raw = _plan_items_frame(session, cycle.id, sources, amount_basis)
    raw["within"] = raw["position"].fillna(0).astype("int64")
    items = order_items(
        raw, grouping=grouping, units=units, fields=fields, coordinator_unit_id=cycle.coordinating_unit_id
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
        **totals,
    )
    previous = previous_cycle_of(session=session, cycle=cycle)
    previous_items = pd.DataFrame()
    if previous is not None and previous.id is not None:
        previous_sources = _sources(session, previous.id)
        previous_items = _previous_plan(session, previous, previous_sources)
        plan.previous_year = previous.year
        plan.previous_money_unit = previous.money_unit
        _compare_with_previous(plan, previous_items, previous_sources, units, fields)
        plan.annex01 = _annex01(session, cycle, previous, previous_items, previous_sources, units, fields)
    plan.envelopes = _envelopes(session, cycle, plan)
    plan.findings = run_checks(plan, previous_items)
    return plan


def _previous_plan(session: Session, previous: PlanningCycle, sources: list[SourceInfo]) -> pd.DataFrame:
    """Last year's plan items with amounts: approved amounts where a decision set them, else proposed."""
    return _plan_items_frame(session, previous.id, sources, "approved_else_proposed")  # type: ignore[arg-type]


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
    if plan.grouping == "lead_unit":
        by_id = units.set_index("id")
        keys = "unit:" + previous["lead_unit_id"].map(by_id["code"]).astype(str)
        labels = previous["lead_unit_id"].map(by_id["name"])
    else:
        keys = "field:" + previous["field_code"].fillna("")
        labels = (
            previous["field_code"].map(dict(fields)).fillna(previous["field_code"]).fillna(NO_FIELD_LABEL)
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
    frame = _read_frame(
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
    field_names = dict(_fields(session, previous.id)) | dict(fields)
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
    for source in sources:
        for index, value in enumerate(frame[source.column]):
            if not pd.isna(value):
                parts[index].append(f"{source.code}: {format_money(int(value), money_unit)}")
            elif source.code in unstated[index].split(", "):
                parts[index].append(f"{source.code}: chưa ghi số")
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


# ---------------------------------------------------------------- checks

_STOP_WORDS = {
    "nam",
    "giai",
    "doan",
    "cua",
    "cho",
    "tai",
    "va",
    "cac",
    "tren",
    "dia",
    "ban",
    "tinh",
    "trong",
    "phuc",
    "vu",
    "de",
}
_YEAR = re.compile(r"\b(19|20)\d{2}\b")


def name_tokens(name: str) -> frozenset[str]:
    """Words of an item name without diacritics, years and filler words: the basis of duplicate checks."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("đ", "d").replace("Đ", "D").lower()
    text = _YEAR.sub(" ", text)
    words = re.findall(r"[a-z0-9]+", text)
    return frozenset(w for w in words if w not in _STOP_WORDS and len(w) > 1)


def similar_name_clusters(
    items: pd.DataFrame, *, threshold: float = 0.8, max_bucket: int = 60
) -> list[list[int]]:
    """Clusters of row positions whose names are alike (token Jaccard ≥ ``threshold``) and whose lead
    units differ. Candidates share one of their two rarest words (buckets over ``max_bucket`` names are
    words too common to tell projects apart and are skipped), so it stays near-linear on 100,000 names."""
    tokens = [name_tokens(n) for n in items["name"]]
    leads = items["lead_unit_id"].to_numpy()
    frequency: dict[str, int] = defaultdict(int)
    for words in tokens:
        for word in words:
            frequency[word] += 1
    buckets: dict[str, list[int]] = defaultdict(list)
    for index, words in enumerate(tokens):
        for word in sorted(words, key=lambda w: (frequency[w], w))[:2]:
            buckets[word].append(index)
    parent = list(range(len(tokens)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    linked: set[int] = set()
    for members in buckets.values():
        if len(members) < 2 or len(members) > max_bucket:
            continue
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                if leads[a] == leads[b] or not tokens[a] or not tokens[b]:
                    continue
                union = len(tokens[a] | tokens[b])
                if union and len(tokens[a] & tokens[b]) / union >= threshold:
                    parent[find(a)] = find(b)
                    linked.update((a, b))
    clusters: dict[int, list[int]] = defaultdict(list)
    for index in sorted(linked):
        clusters[find(index)].append(index)
    return [members for members in clusters.values() if len(members) > 1]


def run_checks(plan: ConsolidatedPlan, previous_items: pd.DataFrame) -> list[Finding]:
    """Every check of the consolidated plan, each finding naming the items involved."""
    items = plan.items
    findings: list[Finding] = []
    columns = plan.amount_columns
    # 1. a source named without an amount (not summed as zero silently)
    unstated = items[items["unstated_sources"] != ""]
    for row in unstated.itertuples(index=False):
        findings.append(
            Finding(
                "amount_not_stated",
                "warning",
                f"{row.ref} «{row.name}»: có nguồn vốn {row.unstated_sources} nhưng không ghi số tiền; "
                "không được cộng vào tổng.",
                f"{row.ref}: source {row.unstated_sources} named without an amount; not in the totals.",
                [row.ref],
                [row.lead_unit_name],
            )
        )
    # 2. an item with no amount at all
    if columns:
        no_amount = items[
            ~items["has_amount_row"] | (items[columns].isna().all(axis=1) & (items["unstated_sources"] == ""))
        ]
        no_amount = no_amount[no_amount["unstated_sources"] == ""]
        for row in no_amount.itertuples(index=False):
            findings.append(
                Finding(
                    "no_amount",
                    "warning",
                    f"{row.ref} «{row.name}» ({row.lead_unit_name}): không có kinh phí ở nguồn nào.",
                    f"{row.ref}: no amount under any funding source.",
                    [row.ref],
                    [row.lead_unit_name],
                )
            )
    # 3. the same project proposed by two units
    for members in similar_name_clusters(items):
        rows = items.iloc[members]
        refs = list(rows["ref"])
        units = list(dict.fromkeys(rows["lead_unit_name"]))
        listing = "; ".join(f"{r.ref} «{r.name}» ({r.lead_unit_name})" for r in rows.itertuples(index=False))
        findings.append(
            Finding(
                "possible_duplicate",
                "warning",
                f"Có thể trùng nhiệm vụ giữa {len(units)} đơn vị: {listing}.",
                f"Possibly the same project proposed by {len(units)} units: {', '.join(refs)}.",
                refs,
                units,
            )
        )
    # 4. carry-over reconciliation, both ways
    previous_ids = set(previous_items["plan_item_id"]) if len(previous_items) else set()
    carry = items[items["origin"] == ItemOrigin.carry_over.value]
    unlinked = carry[carry["carry_over_from_id"].isna() | ~carry["carry_over_from_id"].isin(previous_ids)]
    for row in unlinked.itertuples(index=False):
        findings.append(
            Finding(
                "carry_over_not_in_previous_plan",
                "warning",
                f"{row.ref} «{row.name}» ({row.lead_unit_name}) ghi là dự án chuyển tiếp nhưng không có "
                f"trong kế hoạch năm {plan.year - 1}.",
                f"{row.ref}: marked carry-over but not in the {plan.year - 1} plan.",
                [row.ref],
                [row.lead_unit_name],
            )
        )
    if len(plan.annex01):
        carried_ids = set(items["carry_over_from_id"].dropna().astype("int64"))
        open_items = plan.annex01[
            ~plan.annex01["status"].isin(CLOSED_STATUSES) & ~plan.annex01["plan_item_id"].isin(carried_ids)
        ]
        for row in open_items.itertuples(index=False):
            findings.append(
                Finding(
                    "open_item_not_carried_over",
                    "warning",
                    f"Phụ lục 01, mục {row.ref} «{row.name}» ({row.lead_unit_name}): năm {plan.year - 1} "
                    f"chưa hoàn thành ({row.status_label}) nhưng không có trong danh mục năm {plan.year} và "
                    "không được báo cáo kết thúc (hoàn thành hoặc hủy bỏ).",
                    f"Annex 01 #{row.ref}: unfinished in {plan.year - 1}, neither carried over nor closed.",
                    [f"PL01-{row.ref}"],
                    [row.lead_unit_name],
                )
            )
    # 5. envelopes
    for envelope in plan.envelopes:
        if envelope.gap >= 0:
            continue
        who = f"Đơn vị {envelope.unit_name}" if envelope.unit_code else "Toàn kế hoạch"
        refs = []
        if envelope.unit_code:
            refs = list(items.loc[items["lead_unit_code"] == envelope.unit_code, "ref"])
        findings.append(
            Finding(
                "over_envelope",
                "error",
                f"{who} vượt trần nguồn {envelope.source_code}: đề xuất {plan.money(envelope.planned)}, trần "
                f"{plan.money(envelope.ceiling)}, vượt {plan.money(-envelope.gap)} {plan.money_unit_label}.",
                f"{envelope.unit_code or 'whole plan'} over the {envelope.source_code} envelope by "
                f"{-envelope.gap} đồng.",
                refs,
                [envelope.unit_name] if envelope.unit_name else [],
            )
        )
    return findings
