"""The outcome of a totals check (``plan_check``): what was read, what disagrees, and the words for it.

``CheckReport`` lists every table read, every sheet skipped and every finding in file order; ``lines()`` is
the human report of ``plancycle check-plan`` and ``to_dict()`` its ``--json``. Every sentence comes from
``templates/errors/plan_check.yaml``; files that cannot be checked at all raise ``PlanCheckError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from models.base import MONEY_UNIT_FACTOR
from tasks.common.money import format_money
from tasks.errors import PlancycleError
from templates import error_text

CATALOG = "plan_check"

Locale = Literal["vi", "en"]
FindingKind = Literal[
    "group_total",  # a group heading or "Cộng" row vs the sum of the group's items
    "parent_total",  # an item with sub-items vs the sum of its sub-items
    "section_total",  # a "Cộng" row outside any group vs the rows since the previous one
    "grand_total",  # a total row vs the sum of every item
    "cross_total",  # a cell merged across several amount columns vs the sum of those columns
    "row_total",  # the "Tổng cộng" column vs the sources on the same row
    "text_amount",  # text that is not a number in an amount cell
    "no_amount",  # an item with no amount in any column
    "merged_amount",  # an item's amount cell merged across several columns
    "formula",  # a formula whose result the file does not store
    "unclassified",  # a row with amounts that is neither item, group nor total
    "no_total_row",  # nothing printed to compare with
]
MISMATCH_KINDS: frozenset[str] = frozenset(
    {"group_total", "parent_total", "section_total", "grand_total", "cross_total", "row_total"}
)


class PlanCheckError(PlancycleError):
    """The file cannot be checked at all (unreadable, or no table where one was expected): exit status 2.
    ``message`` names the sheet and the skipped sheets in the locale asked for."""

    catalog = CATALOG

    def message(self, locale: Locale = "vi") -> str:
        values = dict(self.values)
        if "sheet" in values:
            values["where"] = where_table(values["file"], values["sheet"], locale)
        if "skipped" in values:
            values["details"] = "; ".join(
                f"«{sheet}»: {error_text(CATALOG, reason, locale)}" for sheet, reason in values["skipped"]
            )
        return error_text(CATALOG, self.key, locale, **values)


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class AmountColumn:
    """One money column of the table. ``index`` counts from 0; ``letter`` is None in a CSV file."""

    index: int
    letter: str | None
    label: str  # its own header, e.g. "Ngân sách địa phương (NSĐP)"
    header: str  # every header level, " / "-joined
    sums: tuple[int, ...] = ()  # for a row-total column: the indices of the columns it adds up

    @property
    def is_row_total(self) -> bool:
        return bool(self.sums)

    def describe(self) -> str:
        return f"{self.letter} «{self.label}»" if self.letter else f"«{self.label}»"


@dataclass(frozen=True)
class Finding:
    """One disagreement (``severity == "mismatch"``) or one thing the reader should know (``"warning"``).

    Amounts are exact: đồng when the table's unit is known, the file's own numbers otherwise.
    ``difference`` is printed minus computed.
    """

    kind: FindingKind
    sheet: str | None  # None for a CSV file
    line: int  # sheet row or CSV line
    cell: str | None  # "I48"; None for a whole row or a CSV file
    row_label: str
    column: str | None = None
    printed: Decimal | None = None
    computed: Decimal | None = None
    count: int | None = None  # how many items were added up
    raw: str | None = None  # the text found in an amount cell
    columns: tuple[str, ...] = ()  # the columns added up (row and cross totals)
    totals: tuple[tuple[str, Decimal], ...] = ()  # per column, when there is no total row to compare with
    unit: str | None = None

    @property
    def severity(self) -> Literal["mismatch", "warning"]:
        return "mismatch" if self.kind in MISMATCH_KINDS else "warning"

    @property
    def difference(self) -> Decimal | None:
        if self.printed is None or self.computed is None:
            return None
        return self.printed - self.computed

    def location(self, locale: Locale = "vi") -> str:
        """``Phụ lục 02!I48`` for a cell, ``Phụ lục 02, dòng 48`` for a row, ``dòng 12`` in a CSV file."""
        if self.sheet is None:
            return error_text(CATALOG, "where_line", locale, line=self.line)
        if self.cell:
            return f"{self.sheet}!{self.cell}"
        return error_text(CATALOG, "where_row", locale, sheet=self.sheet, line=self.line)

    def message(self, locale: Locale = "vi") -> str:
        columns = ", ".join(self.columns)
        if self.totals:
            columns = "; ".join(f"{label}: {money_text(v, self.unit, locale)}" for label, v in self.totals)
        return error_text(
            CATALOG,
            self.kind,
            locale,
            where=self.location(locale),
            label=self.row_label,
            column=self.column or "",
            printed=money_text(self.printed, self.unit, locale),
            computed=money_text(self.computed, self.unit, locale),
            difference=money_text(self.difference, self.unit, locale, signed=True),
            count=self.count if self.count is not None else "",
            raw=self.raw or "",
            columns=columns,
        )

    def __str__(self) -> str:
        return self.message("vi")

    def to_dict(self, locale: Locale = "vi") -> dict[str, Any]:
        data: dict[str, Any] = {
            "severity": self.severity,
            "kind": self.kind,
            "sheet": self.sheet,
            "cell": self.cell,
            "line": self.line,
            "column": self.column,
            "row": self.row_label,
            "printed": _json_amount(self.printed),
            "computed": _json_amount(self.computed),
            "difference": _json_amount(self.difference),
            "amount_unit": "dong" if self.unit else None,
            "display_unit": self.unit,
            "message": self.message(locale),
        }
        if self.totals:
            data["totals"] = {label: _json_amount(amount) for label, amount in self.totals}
        return data


@dataclass
class TableReport:
    """What was read from one table: where, in which unit, and how many rows of each kind."""

    sheet: str | None
    header_line: int
    unit: str | None  # display unit: dong / trieu / ty, None when the file does not say
    amount_columns: list[AmountColumn]
    items: int = 0
    groups: int = 0
    total_rows: int = 0
    checks: int = 0  # printed amounts compared with a recomputed one


@dataclass
class CheckReport:
    """The outcome of a check: every table read, every sheet skipped and why, every finding in file order."""

    source: str
    tables: list[TableReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sheet, reason key)
    findings: list[Finding] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "mismatch"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def checks(self) -> int:
        return sum(t.checks for t in self.tables)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def lines(self, locale: Locale = "vi") -> list[str]:
        """The human report: a line per table, skipped sheet, mismatch and warning; then a summary."""
        out = []
        for table in self.tables:
            out.append(
                error_text(
                    CATALOG,
                    "table_line",
                    locale,
                    where=table.sheet or self.source,
                    line=table.header_line,
                    items=table.items,
                    groups=table.groups,
                    totals=table.total_rows,
                    unit=error_text(CATALOG, f"unit_{table.unit}" if table.unit else "unit_unknown", locale),
                    columns=", ".join(c.describe() for c in table.amount_columns),
                )
            )
        for sheet, reason in self.skipped:
            out.append(
                error_text(
                    CATALOG, "skipped_line", locale, sheet=sheet, reason=error_text(CATALOG, reason, locale)
                )
            )
        for finding in self.mismatches:
            out.append(f"{error_text(CATALOG, 'mismatch_prefix', locale)} {finding.message(locale)}")
        for finding in self.warnings:
            out.append(f"{error_text(CATALOG, 'warning_prefix', locale)} {finding.message(locale)}")
        key = "summary_mismatch" if self.mismatches else ("summary_ok" if self.checks else "summary_nothing")
        out.append(
            error_text(
                CATALOG,
                key,
                locale,
                mismatches=len(self.mismatches),
                warnings=len(self.warnings),
                checks=self.checks,
            )
        )
        return out

    def to_dict(self, locale: Locale = "vi") -> dict[str, Any]:
        """The machine-readable report (``--json``)."""
        return {
            "file": self.source,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "mismatches": len(self.mismatches),
            "warnings": len(self.warnings),
            "checks": self.checks,
            "tables": [
                {
                    "sheet": t.sheet,
                    "header_line": t.header_line,
                    "unit": t.unit,
                    "items": t.items,
                    "groups": t.groups,
                    "total_rows": t.total_rows,
                    "checks": t.checks,
                    "amount_columns": [
                        {
                            "column": c.letter,
                            "label": c.label,
                            "header": c.header,
                            "row_total": c.is_row_total,
                        }
                        for c in t.amount_columns
                    ],
                }
                for t in self.tables
            ],
            "skipped": [
                {"sheet": sheet, "reason": error_text(CATALOG, reason, locale)}
                for sheet, reason in self.skipped
            ],
            "findings": [f.to_dict(locale) for f in self.findings],
        }


def money_text(
    amount: Decimal | None, unit: str | None, locale: Locale = "vi", *, signed: bool = False
) -> str:
    """``249.921 triệu đồng``: Vietnamese digits in the table's unit, with every decimal the value has
    (a reported figure is never rounded). Without a known unit, the file's own number."""
    if amount is None:
        return ""
    factor = MONEY_UNIT_FACTOR[unit] if unit else 1
    exponent = (amount / factor).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    text = format_money(amount, unit or "dong", decimals)  # type: ignore[arg-type]  # Decimal is exact here
    if signed and amount > 0:
        text = f"+{text}"
    label = error_text(CATALOG, f"unit_{unit or 'none'}", locale)
    return f"{text} {label}".strip()


def _json_amount(amount: Decimal | None) -> int | str | None:
    if amount is None:
        return None
    return int(amount) if amount == amount.to_integral_value() else str(amount.normalize())


def where_table(file: str, sheet: str | None, locale: Locale) -> str:
    if sheet is None:
        return file
    return error_text(CATALOG, "where_sheet", locale, sheet=sheet, file=file)
