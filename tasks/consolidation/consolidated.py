"""What a consolidated plan is: the ``ConsolidatedPlan`` the appendices, the draft document and the
Prefect artifacts show, its findings and envelopes, the one error consolidation raises, and the numbering
of Vietnamese appendices (Roman-numeral groups, "2019-2020" periods).

Money is int64 đồng throughout (pandas nullable ``Int64`` for amounts that may be unstated); a total is
a sum of integers, and only the writers round, for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd

from models.base import ItemStatus, SubmissionStatus, UnitKind
from tasks.common.money import MONEY_UNIT_LABELS, format_money
from tasks.errors import PlancycleError
from tasks.excel.layout import render_text
from tasks.submissions.workbook import workbook_texts
from templates import load_yaml

Grouping = Literal["lead_unit", "field"]
GROUPINGS: tuple[str, ...] = ("lead_unit", "field", "none")  # none: a flat list, items numbered 1, 2…
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

# One wording for origins and statuses: the unit workbook's (templates/workbook/workbook.vi.yaml).
ORIGIN_LABELS: dict[str, str] = dict(workbook_texts()["origins"])
STATUS_LABELS: dict[str, str] = {ItemStatus.proposed.value: workbook_texts()["unreported_status"]} | dict(
    workbook_texts()["statuses"]
)


class ConsolidationError(PlancycleError):
    """Consolidation cannot proceed (templates/errors/consolidation.yaml); ``message_vi`` is shown to the
    coordinator."""

    catalog = "consolidation"


def consolidation_texts() -> dict[str, Any]:
    """The consolidation's texts outside the workbook (templates/workbook/consolidation.yaml)."""
    return load_yaml("workbook/consolidation.yaml")


def no_field_label() -> str:
    """The group label of items without an application field: "Chưa xác định lĩnh vực"."""
    return load_yaml("workbook/plan_annexes.yaml")["no_field"]


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
    by_class: pd.DataFrame = field(default_factory=pd.DataFrame)  # KH&CN / ĐMST / CĐS (legal_frame.py)
    budget_total: int | None = None  # the province's budget total for the year, when entered
    decision_number: str | None = None
    decision_date: date | None = None
    decision_signer: str | None = None
    guidance_reference: str | None = None
    coordinator_name: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # the cycle's settings (documents, layout)
    annex_label: str | None = None  # one of several items annexes: its own label and title (layout)
    annex_title: str | None = None

    @property
    def money_unit_label(self) -> str:
        return MONEY_UNIT_LABELS[self.money_unit]

    @property
    def amount_columns(self) -> list[str]:
        return [s.column for s in self.sources]

    @property
    def rounding_rule_vi(self) -> str:
        """Why the displayed figures may not add up to the total row (the total row is exact)."""
        return render_text(consolidation_texts()["rounding_rule"], unit=self.money_unit_label)

    def money(self, amount: int | None) -> str:
        """An amount in the cycle's display unit, Vietnamese format (display only)."""
        return format_money(amount, self.money_unit)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


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
