"""The cycle's plan read from the database into pandas frames, ordered and numbered as the appendices print
it, and its exact totals.

Reads go through the driver's own cursor (``read_frame``): 100,000 items and 400,000 amounts must load in
seconds. The database pivots the amounts per funding source, so amount rows never reach Python one by one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from models.cycle import list_application_fields, list_funding_sources
from models.registry import Unit, unit_name_key
from tasks.common.amounts import INT64_MAX, AmountOverflowError, checked_sum
from tasks.common.money import format_money, format_money_with_unit
from tasks.consolidation.consolidated import (
    GROUPINGS,
    KIND_ORDER,
    ConsolidationError,
    SourceInfo,
    no_field_label,
    roman,
)


def read_frame(session: Session, statement: Any, columns: list[str] | None = None) -> pd.DataFrame:
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


def _unit_order(
    units: pd.DataFrame, coordinator_unit_id: int | None, unit_order: list[str] | None = None
) -> pd.DataFrame:
    """Add ``unit_rank`` (coordinator first, then by kind) and ``unit_sort`` (name key) to a units frame.
    ``unit_order`` (unit codes, the province's own order of lead-unit groups) comes before all that."""
    units = units.copy()
    units["unit_rank"] = units["kind"].map(KIND_ORDER).fillna(9).astype("int64") + 1
    if coordinator_unit_id is not None:
        units.loc[units["id"] == coordinator_unit_id, "unit_rank"] = 0
    if unit_order:
        listed = {code: rank for rank, code in enumerate(unit_order)}
        ranks = units["code"].map(listed)
        units["unit_rank"] = ranks.where(ranks.notna(), units["unit_rank"] + len(listed)).astype("int64")
    units["unit_sort"] = units["name_key"] if "name_key" in units else units["name"].map(unit_name_key)
    return units


def order_items(
    items: pd.DataFrame,
    *,
    grouping: str,
    units: pd.DataFrame,
    fields: list[tuple[str, str]],
    coordinator_unit_id: int | None,
    layout: dict | None = None,
) -> pd.DataFrame:
    """Sort items into the plan's order and number them: ``group_no``, ``group_roman``, ``group_key``,
    ``group_label``, ``item_no`` and ``ref`` ("II.3").

    ``items`` needs ``lead_unit_id``, ``field_code`` and ``within`` (the order inside a unit: sheet row or
    stored position). ``units``: ``id, code, name, kind``. ``fields``: (code, name) in display order.
    ``layout``: the cycle's Annex 02 layout (settings ``layout.annex02``): ``group_order`` (lead-unit codes
    in the province's order; also the order of units inside a field's group), ``group_titles`` (group title
    per unit code or field code) and ``group_numbering`` (``roman``, the default, or ``letters``).
    """
    layout = layout or {}
    titles = {str(k): str(v) for k, v in (layout.get("group_titles") or {}).items()}
    if grouping not in GROUPINGS:
        raise ConsolidationError("unknown_grouping", grouping=grouping, groupings=GROUPINGS)
    ordered_units = _unit_order(units, coordinator_unit_id, layout.get("group_order"))
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
    if grouping == "none":  # a flat list, in lead-unit order, numbered 1, 2…
        frame = frame.sort_values(["unit_rank", "unit_sort", "lead_unit_id", "within"], kind="stable")
        frame["group_key"] = "all"
        frame["group_label"] = ""
    elif grouping == "lead_unit":
        sort = ["unit_rank", "unit_sort", "lead_unit_id", "within"]
        frame = frame.sort_values(sort, kind="stable")
        frame["group_key"] = "unit:" + frame["lead_unit_code"].astype(str)
        frame["group_label"] = frame["lead_unit_code"].map(titles).fillna(frame["lead_unit_name"])
    else:
        sort = ["field_rank", "field_code", "unit_rank", "unit_sort", "lead_unit_id", "within"]
        frame = frame.sort_values(sort, kind="stable", na_position="last")
        frame["group_key"] = "field:" + frame["field_code"].fillna("")
        frame["group_label"] = frame["field_name"].where(frame["field_name"] != "", no_field_label())
        frame["group_label"] = frame["field_code"].map(titles).fillna(frame["group_label"])
    frame = number_groups(
        frame.reset_index(drop=True),
        letters=layout.get("group_numbering") == "letters",
        flat=grouping == "none",
    )
    return frame.drop(columns=["unit_rank", "unit_sort", "field_rank"])


def number_groups(frame: pd.DataFrame, *, letters: bool = False, flat: bool = False) -> pd.DataFrame:
    """Number ordered items: ``group_no`` (a new group where ``group_key`` changes), ``group_roman`` (I, II…
    or, with ``letters``, a, b… as some provinces number their groups), ``item_no`` and ``ref``."""
    frame = frame.copy()
    first = frame["group_key"].ne(frame["group_key"].shift())
    frame["group_no"] = first.cumsum().astype("int64")
    frame["item_no"] = frame.groupby("group_no").cumcount().astype("int64") + 1
    romans = {
        n: chr(ord("a") + n - 1) if letters and n <= 26 else roman(n) for n in frame["group_no"].unique()
    }
    frame["group_roman"] = frame["group_no"].map(romans).astype(str)
    frame["ref"] = frame["group_roman"] + "." + frame["item_no"].astype(str)
    if flat:  # one list without group headings: items are 1, 2…
        frame["group_roman"] = ""
        frame["ref"] = frame["item_no"].astype(str)
    return frame


def units_frame(session: Session) -> pd.DataFrame:
    """Every unit: ``id, code, name, kind, name_key`` (what ``order_items`` orders groups by)."""
    return read_frame(
        session,
        sa.select(Unit.id, Unit.code, Unit.name, Unit.kind, Unit.name_key),
        ["id", "code", "name", "kind", "name_key"],
    )


def plan_fields(session: Session, cycle_id: int) -> list[tuple[str, str]]:
    """The cycle's application fields as (code, name), in display order."""
    return [(f.code, f.name) for f in list_application_fields(session=session, cycle_id=cycle_id)]


def plan_sources(session: Session, cycle_id: int) -> list[SourceInfo]:
    """The cycle's funding sources, in display order."""
    return [
        SourceInfo(id=s.id, code=s.code, name=s.name, group=s.group)  # type: ignore[arg-type]
        for s in list_funding_sources(session=session, cycle_id=cycle_id)
    ]


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
    "class_code",
    "subfield_code",
]
AMOUNT_BASES = {
    "amount": "a.amount",
    "approved_amount": "a.approved_amount",
    "approved_else_proposed": "COALESCE(a.approved_amount, a.amount)",
}


def plan_items_frame(
    session: Session, cycle_id: int, sources: list[SourceInfo], basis: str, *, details: bool = True
) -> pd.DataFrame:
    """The cycle's plan items (not rejected), one row each, with one Int64 ``amt:<code>`` column per
    source, ``total`` (int64), ``unstated_sources`` (codes named without an amount) and ``has_amount_row``.

    The database pivots the amounts (one aggregate query), so 400,000 amount rows never reach Python.
    ``details=False`` reads only what grouping and totals need; the texts come in a second query."""
    amount = AMOUNT_BASES[basis]
    check_sums_fit(session, cycle_id, amount)
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
    frame = read_frame(session, statement)
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
        texts = read_frame(
            session,
            sa.text(
                f"SELECT id AS plan_item_id, {', '.join(DETAIL_COLUMNS)} FROM planitem "
                "WHERE cycle_id = :cycle AND rejected = :rejected"
            ).bindparams(cycle=cycle_id, rejected=False),
        )
        frame = frame.merge(texts, on="plan_item_id", how="left")
    return frame


def check_sums_fit(session: Session, cycle_id: int, amount: str) -> None:
    """Every sum of the cycle's amounts (item totals, group sums, grand totals) is computed in int64: refuse
    with `ConsolidationError` ``total_too_large`` when the amounts together could wrap it, naming the
    largest items. Cheap when they fit (one aggregate query); exact (Python integers) when in doubt."""
    scope = (
        "FROM planitemamount AS a JOIN planitem AS p ON a.item_id = p.id "
        "WHERE p.cycle_id = :cycle AND p.rejected = :rejected"
    )
    params = {"cycle": cycle_id, "rejected": False}
    connection = session.connection()
    count, largest = connection.execute(sa.text(f"SELECT COUNT(*), MAX(ABS({amount})) {scope}"), params).one()
    if not count or int(count) * int(largest or 0) <= INT64_MAX:
        return
    try:
        checked_sum(connection.execute(sa.text(f"SELECT {amount} {scope}"), params).scalars())
    except AmountOverflowError as exc:
        top = connection.execute(
            sa.text(
                f"SELECT p.name, {amount} AS amount {scope} AND {amount} IS NOT NULL "
                f"ORDER BY {amount} DESC LIMIT 3"
            ),
            params,
        ).all()
        raise ConsolidationError(
            "total_too_large",
            total=format_money(exc.total),
            limit=format_money(INT64_MAX),
            largest="; ".join(f"«{name}»: {format_money_with_unit(int(value))}" for name, value in top),
        ) from None


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
