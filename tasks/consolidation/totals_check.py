"""Totals check for plan appendices: recompute item, group and grand totals per funding source and compare
them with the total rows the file itself prints.

Pure functions, no database. ``check_plan_file`` reads an ``.xlsx`` workbook or a ``.csv`` file;
``check_plan_workbook`` also takes an openpyxl ``Workbook`` or the bytes of one (the consolidation flow
checks its own export with it). Both return a :class:`CheckReport`; files that cannot be read, or in which
no table is found, raise :class:`PlanCheckError`. Every sentence comes from
``templates/errors/plan_check.yaml``; ``docs/check-plan.md`` describes the layouts for users.

How a table is found
    The header row is the first of the first 30 rows holding a cell "STT" ("Số TT", "TT") and a cell with
    the word "Tên". Following rows belong to the header while their STT and name cells are empty and they
    hold no numbers (the funding sources under a merged "Kinh phí…" heading); one column-numbering row
    ("(1)", "(2)"… or 1, 2…) after the header is skipped. A column's header is the text of every header
    row above it, merged cells included.

Amount columns
    Columns whose header (any level) names money: "Kinh phí…", "Nguồn…", "Vốn…", "Ngân sách…", NSĐP,
    NSTW, ODA, "Dự toán", "Tổng…"; a column headed only by text such as "Nguồn vốn" that holds no number
    at all is a note column and is dropped. A column whose own header starts with "Tổng" / "Tổng cộng" /
    "Tổng số" (not "Tổng mức đầu tư") is a row total: it adds up the other amount columns under the same
    heading. ``amount_columns`` names the columns explicitly instead.

Money unit
    "Đơn vị tính: triệu đồng" (or đồng, tỷ đồng) above the table, else a unit in parentheses in a header
    cell, else a number format that scales the display (``#,##0,,`` shows millions of the đồng stored in
    the cell, ``,,,`` billions), else "triệu đồng" / "tỷ đồng" written below the table. Amounts are kept
    exact (``Decimal`` of đồng; floats are read through their shortest decimal text) and reported in
    that unit. Text amounts are read in Vietnamese format ("1.234,5"); "-", "–" and empty cells are no
    amount; other text (a source named without an amount) counts as nothing and is listed as a warning.

How rows are classified (by the STT cell, else by the name)
    * group heading: a Roman numeral (I, II … XIV) or a capital letter (A, B); letters group Roman
      numerals. Its amount cells, if any, are the group's subtotal.
    * item: "1", "2", "I.1", "1.2", or a bullet ("a)", "-", "+"). "1.1" under "1", or a bullet under the
      row above, is a sub-item; an item whose sub-items carry amounts is checked against them like a
      group and only its sub-items count further up.
    * total row: no item number and a name starting with "Tổng cộng", "Tổng số", "Tổng kinh phí",
      "Tổng", or just "Cộng" / "Cộng nhóm II". Total rows before the first item and at the end of the
      table are grand totals, except a "Cộng" followed by a "Tổng…" row (or closing the last group when
      every group has one), which is that group's subtotal; total rows between items close the group
      they follow ("Cộng nhóm II" names its group) or, outside any group, add up the rows since the
      previous such row.
    * anything else is ignored; if it carries amounts it is listed as a warning.

What is compared (each printed amount exactly against the recomputed one)
    * each group heading or subtotal row against the sum of its items, column by column;
    * each grand total row against the sum of all items (never of the group rows, so a wrong subtotal is
      reported once, at its group);
    * a cell merged across several amount columns on a group or total row against the sum of those
      columns;
    * the row-total column against the sources on the same row, on item rows and on any group or total
      row that has no items below it to compare with (otherwise its total cell is compared with the
      items' totals, which says the same thing once).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from openpyxl import Workbook, load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from models.base import MONEY_UNIT_FACTOR
from tasks.common.money import MoneyFormatError, format_money, parse_money
from templates import error_text

CATALOG = "plan_check"
HEADER_SEARCH_ROWS = 30
MAX_HEADER_ROWS = 4  # the STT row plus up to three rows of sub-headings
MAX_COLUMNS = 200  # a stray formatted cell far to the right must not make every row 16.384 cells long

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


class PlanCheckError(Exception):
    """The file cannot be checked at all (unreadable, or no table where one was expected): exit status 2."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = values
        super().__init__(self.message("en"))

    def message(self, locale: Locale = "vi") -> str:
        values = dict(self.values)
        if "sheet" in values:
            values["where"] = _where_table(values["file"], values["sheet"], locale)
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


def _where_table(file: str, sheet: str | None, locale: Locale) -> str:
    if sheet is None:
        return file
    return error_text(CATALOG, "where_sheet", locale, sheet=sheet, file=file)


# ---------------------------------------------------------------- public entry points


def check_plan_file(
    path: str | Path,
    *,
    sheet: str | None = None,
    amount_columns: Sequence[str] | str | None = None,
    unit: str | None = None,
) -> CheckReport:
    """Check the totals of a plan appendix: an ``.xlsx``/``.xlsm`` workbook (every sheet with a table,
    or ``sheet``) or a ``.csv`` file. ``amount_columns`` names the money columns (headers or letters)
    instead of recognising them; ``unit`` (dong / trieu / ty) is used when the file does not state one.
    Raises :class:`PlanCheckError` when the file cannot be read or holds no table."""
    path = Path(path)
    if unit is not None and unit not in MONEY_UNIT_FACTOR:
        raise PlanCheckError("bad_unit", unit=unit)
    if not path.is_file():
        raise PlanCheckError("missing_file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _check_grids(
            path.name, [_csv_grid(path)], sheet=None, amount_columns=amount_columns, unit=unit
        )
    if suffix == ".xls":
        raise PlanCheckError("old_excel", file=path.name)
    data = path.read_bytes()
    if suffix not in (".xlsx", ".xlsm") and not data.startswith(b"PK"):
        raise PlanCheckError("unsupported_type", file=path.name)
    return check_plan_workbook(data, sheet=sheet, amount_columns=amount_columns, unit=unit, name=path.name)


def check_plan_workbook(
    workbook_or_path: Workbook | bytes | str | Path,
    *,
    sheet: str | None = None,
    amount_columns: Sequence[str] | str | None = None,
    unit: str | None = None,
    name: str | None = None,
) -> CheckReport:
    """Check a workbook given as an openpyxl ``Workbook`` (e.g. one just generated: formulas in it have no
    computed value and are reported as such), as the bytes of an ``.xlsx`` file, or as its path.
    ``name`` labels the report (the file name by default)."""
    if unit is not None and unit not in MONEY_UNIT_FACTOR:
        raise PlanCheckError("bad_unit", unit=unit)
    formulas: Workbook | None = None
    if isinstance(workbook_or_path, Workbook):
        values = workbook_or_path
        name = name or "workbook"
    else:
        if isinstance(workbook_or_path, str | Path):
            path = Path(workbook_or_path)
            if not path.is_file():
                raise PlanCheckError("missing_file", file=str(path))
            name = name or path.name
            data = path.read_bytes()
        else:
            data = workbook_or_path
            name = name or "workbook.xlsx"
        try:
            values = load_workbook(io.BytesIO(data), data_only=True)
            # The stored results hide which empty cells are formulas never computed; read the formulas
            # too, but only when there are any (our own export has none, and may have 100.000 rows).
            formulas = load_workbook(io.BytesIO(data)) if _has_formulas(data) else None
        except Exception:  # openpyxl raises many kinds of error on a damaged or foreign file
            raise PlanCheckError("unreadable", file=name) from None
    if sheet is not None and sheet not in values.sheetnames:
        raise PlanCheckError("no_sheet", file=name, sheet_name=sheet, sheets=", ".join(values.sheetnames))
    names = [sheet] if sheet is not None else values.sheetnames
    grids = [
        _sheet_grid(values[n], formulas[n] if formulas is not None else None)
        for n in names
        if sheet is not None or values[n].sheet_state == "visible"
    ]
    return _check_grids(name, grids, sheet=sheet, amount_columns=amount_columns, unit=unit)


def _check_grids(
    name: str,
    grids: list[_Grid],
    *,
    sheet: str | None,
    amount_columns: Sequence[str] | str | None,
    unit: str | None,
) -> CheckReport:
    requested = _requested_columns(amount_columns)
    report = CheckReport(source=name)
    # In a whole workbook, sheets without a table are listed as skipped (instructions, Annex 01 without
    # amounts); a named sheet, a CSV file or a workbook of one sheet must hold one, and so must a sheet
    # holding some but not all of the columns asked for.
    for grid in grids:
        try:
            table, findings = _check_table(grid, requested=requested, unit=unit)
        except _NoTable as skip:
            if sheet is not None or len(grids) == 1 or skip.partial:
                raise PlanCheckError(skip.key, file=name, sheet=grid.sheet, **skip.values) from None
            report.skipped.append((grid.sheet or name, f"skip_{skip.key}"))
            continue
        report.tables.append(table)
        report.findings.extend(findings)
    if not report.tables:
        raise PlanCheckError("no_table_anywhere", file=name, skipped=tuple(report.skipped))
    return report


def _requested_columns(amount_columns: Sequence[str] | str | None) -> list[str]:
    if amount_columns is None:
        return []
    names = amount_columns.split(",") if isinstance(amount_columns, str) else list(amount_columns)
    return [_clean(n) for n in names if _clean(n)]


# ---------------------------------------------------------------- reading cells


@dataclass
class _Cell:
    value: Any = None
    merge: tuple[int, int, int, int] | None = None  # (first row, first col, last row, last col), 0-based
    formula: bool = False  # a formula without a stored result
    source: Any = None  # the openpyxl cell, asked for its number format only when it is an amount

    @property
    def number_format(self) -> str:
        return getattr(self.source, "number_format", None) or "General"


_EMPTY = _Cell()


@dataclass
class _Grid:
    """A sheet or a CSV file as rows of cells; ``lines`` maps each row to its sheet row or CSV line."""

    sheet: str | None
    rows: list[list[_Cell]]
    lines: list[int]

    def cell(self, r: int, c: int) -> _Cell:
        row = self.rows[r]
        return row[c] if c < len(row) else _EMPTY

    def text(self, r: int, c: int) -> str:
        """The visible text at (r, c): a merged cell shows its first cell's value everywhere."""
        cell = self.cell(r, c)
        if cell.merge is not None:
            cell = self.cell(cell.merge[0], cell.merge[1])
        return _text(cell.value)

    def ref(self, r: int, c: int) -> str | None:
        return f"{get_column_letter(c + 1)}{self.lines[r]}" if self.sheet is not None else None

    @property
    def width(self) -> int:
        return max((len(row) for row in self.rows), default=0)


def _sheet_grid(ws: Worksheet, formulas: Worksheet | None) -> _Grid:
    width = min(ws.max_column, MAX_COLUMNS)
    merges: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for merged in ws.merged_cells.ranges:
        bounds = (merged.min_row - 1, merged.min_col - 1, merged.max_row - 1, merged.max_col - 1)
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, min(merged.max_col, width) + 1):
                merges[(r - 1, c - 1)] = bounds
    rows: list[list[_Cell]] = []
    for r, xl_row in enumerate(ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=width)):
        cells = []
        for c, xl in enumerate(xl_row):
            value = xl.value
            formula = _is_formula(value)
            if formula:
                value = None
            elif value is None and formulas is not None:
                formula = _is_formula(formulas.cell(row=r + 1, column=c + 1).value)
            cells.append(_Cell(value, merges.get((r, c)), formula, xl))
        rows.append(cells)
    return _Grid(ws.title, rows, list(range(1, len(rows) + 1)))


def _has_formulas(data: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for entry in archive.namelist():
            if entry.startswith("xl/worksheets/") and entry.endswith(".xml"):
                with archive.open(entry) as sheet_xml:
                    if re.search(rb"<(\w+:)?f[ >/]", sheet_xml.read()):
                        return True
    return False


def _is_formula(value: object) -> bool:
    return isinstance(value, ArrayFormula | DataTableFormula) or (
        isinstance(value, str) and value.startswith("=") and len(value) > 1
    )


def _csv_grid(path: Path) -> _Grid:
    """A CSV file: UTF-8 with or without BOM; the separator (; , or tab) under which a header is found."""
    try:
        text = unicodedata.normalize("NFC", path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PlanCheckError("csv_encoding", file=path.name) from None
    best: _Grid | None = None
    best_width = -1
    for delimiter in (";", ",", "\t"):
        grid = _read_csv(text, delimiter)
        found = _find_header(grid)
        width = sum(1 for cell in grid.rows[found[0]] if cell.value is not None) if found else -1
        if best is None or width > best_width:
            best, best_width = grid, width
    assert best is not None
    return best


def _read_csv(text: str, delimiter: str) -> _Grid:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[_Cell]] = []
    lines: list[int] = []
    previous_end = 0
    for record in reader:
        lines.append(previous_end + 1)  # a quoted field may span lines: report where the record starts
        previous_end = reader.line_num
        rows.append([_Cell(value.strip() or None) for value in record])
    return _Grid(None, rows, lines)


# ---------------------------------------------------------------- text helpers


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    return _clean(str(value))


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text).replace("\u00a0", " ")).strip()


def _fold(text: str) -> str:
    """Lower case without diacritics (đ → d), single spaces: for matching headers and labels."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return re.sub(r"\s+", " ", "".join(ch for ch in text if not unicodedata.combining(ch))).strip().lower()


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- header and columns

_STT_HEADER = re.compile(r"^(stt|so tt|s\.? ?tt|tt|so thu tu)[.:]?$")
_NAME_HEADER = re.compile(r"\bten\b")
_CODE_LIKE = re.compile(r"^\(?\s*[0-9a-z]{1,3}\s*\)?$", re.IGNORECASE)
_MONEY_HEADER = re.compile(
    r"kinh phi|nguon|\bvon\b|ngan sach|\bns[a-z]*\b|\boda\b|du toan|so tien|^tong\b|xa hoi hoa|nguon thu"
)
_NOT_MONEY_HEADER = re.compile(
    r"ghi chu|can cu|thoi gian|nam bat dau|nam ket thuc|nam hoan thanh"
    r"|don vi (chu tri|phoi hop|thuc hien|de xuat)|linh vuc|muc tieu|noi dung|pham vi|trang thai"
    r"|ty le|ma muc|chuyen tiep|du an moi|\bten\b"
)
_ROW_TOTAL_HEADER = re.compile(r"^(tong cong|tong so|tong|cong)\b")
_UNIT_WORDS = r"(ty dong|ti dong|trieu dong|dong|ty|ti|trieu|tr\.? ?d|vnd)"
_UNIT_LINE = re.compile(r"don vi( tinh)?\s*[:.]?\s*" + _UNIT_WORDS + r"\b")
_UNIT_PAREN = re.compile(r"\(\s*" + _UNIT_WORDS + r"\s*\)")
_UNIT_BELOW = re.compile(r"\b(ty dong|ti dong|trieu dong)\b")
_UNIT_KEYS = {"ty": "ty", "ti": "ty", "trieu": "trieu", "dong": "dong", "vnd": "dong"}
_SCALE_UNITS = {2: "trieu", 3: "ty"}  # trailing commas in a number format → the unit displayed


def _unit_key(word: str) -> str:
    first = word.split()[0]
    return "trieu" if first.startswith("tr") else _UNIT_KEYS[first]


def _find_header(grid: _Grid) -> tuple[int, int, int] | None:
    """(row, STT column, name column) of the first row with an "STT" cell and a cell with "Tên"."""
    for r in range(min(HEADER_SEARCH_ROWS, len(grid.rows))):
        stt = name = None
        for c, cell in enumerate(grid.rows[r]):
            if not isinstance(cell.value, str):
                continue
            folded = _fold(cell.value)
            if stt is None and _STT_HEADER.match(folded):
                stt = c
            elif name is None and _NAME_HEADER.search(folded):
                name = c
        if stt is not None and name is not None:
            return r, stt, name
    return None


def _header_end(grid: _Grid, header: int, stt_col: int, name_col: int) -> tuple[int, int]:
    """(last header row, first data row): sub-heading rows below the STT row, then a numbering row."""
    last = header
    for r in range(header + 1, min(header + MAX_HEADER_ROWS, len(grid.rows))):
        stt, name = grid.cell(r, stt_col).value, grid.cell(r, name_col).value
        if (
            stt is not None
            and name is not None
            and _CODE_LIKE.match(_text(stt))
            and _CODE_LIKE.match(_text(name))
        ):
            return last, r + 1  # "(1) (2) (3)…": the column numbers official forms print
        row = grid.rows[r]
        if stt is not None or name is not None or all(cell.value is None for cell in row):
            break
        if any(_is_number(cell.value) for cell in row):
            break
        last = r
    return last, last + 1


def _column_paths(grid: _Grid, first: int, last: int) -> list[list[str]]:
    paths = []
    for c in range(grid.width):
        levels: list[str] = []
        for r in range(first, last + 1):
            text = grid.text(r, c)
            if text and (not levels or levels[-1] != text):
                levels.append(text)
        paths.append(levels)
    return paths


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


# ---------------------------------------------------------------- amounts


@dataclass
class _Row:
    """One data row: its number and name, and what its amount cells hold (by amount-column index)."""

    r: int
    line: int
    stt: str
    name: str
    values: dict[int, Decimal] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    formulas: set[int] = field(default_factory=set)
    cross: list[tuple[tuple[int, ...], Decimal, int]] = field(default_factory=list)  # (columns, value, col)
    kind: Literal["group", "item", "total", "other"] = "other"
    code: _Code | None = None
    strong: bool = False  # a "Tổng…" label, as opposed to a plain "Cộng"
    named_group: str | None = None  # "Cộng nhóm II" → "II"

    @property
    def has_content(self) -> bool:
        return bool(self.values or self.texts or self.formulas or self.cross)

    @property
    def label(self) -> str:
        return _short(" ".join(part for part in (self.stt, self.name) if part) or "?")


_DASHES = {"-", "–", "—", "−", "_", "--"}


def _text_amount(text: str, unit: str | None) -> Decimal | None:
    """A Vietnamese-format amount written as text, exact; None when it is not a number."""
    try:
        if unit is None:
            # No unit known: keep the file's own number. Reading it "in tỷ" keeps nine decimals exact.
            dong = parse_money(text, "ty")
            return None if dong is None else Decimal(dong) / MONEY_UNIT_FACTOR["ty"]
        dong = parse_money(text, unit)
    except MoneyFormatError:
        return None
    return None if dong is None else Decimal(dong)


@lru_cache(maxsize=256)
def _scale(number_format: str) -> int:
    """How many thousands a number format divides by: ``#,##0,,`` → 2 (the display shows millions)."""
    section = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", number_format.split(";")[0])
    match = re.search(r"[0#?](,+)[^0#?]*$", section)
    return len(match.group(1)) if match else 0


# ---------------------------------------------------------------- row classification

_ROMAN = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def _roman_value(text: str) -> int:
    """XCIX → 99, C → 100, MMMD → 3500 (``text`` already matched ``_ROMAN``)."""
    total = 0
    for letter, following in zip(text, [*text[1:], ""], strict=True):
        value = _ROMAN_VALUES[letter]
        total += -value if following and _ROMAN_VALUES[following] > value else value
    return total


_LETTER = re.compile(r"^[A-Z]$")
_DOTTED = re.compile(r"^(?:[IVXLCDM]+|[A-Z]|\d+)(?:\.\d+)+$|^\d+$")
_ALPHA_BULLET = re.compile(r"^\(?[a-zđ]\)?$")
_BULLETS = {"-": "-", "–": "-", "—": "-", "−": "-", "+": "+", "*": "*", "•": "•", "·": "•"}
_GROUP_PREFIX = re.compile(r"^(phan|muc|nhom) (\S+)$")
_STRONG_TOTAL = re.compile(
    r"^tong(\s+(cong|so|kinh phi|von|nhu cau|du toan|gia tri|chi|tien)\b|\s*$|\s*[:(\-–])|\btong cong\b"
)
_WEAK_TOTAL = re.compile(
    r"^cong(\s+(nhom|muc|phan))?\s*\(?\s*(?P<group>[ivxl]+|[a-z])?\s*\)?\s*[:.]?$"
    r"|^cong\s+(kinh phi|von|so|tien)\b"
)


@dataclass(frozen=True)
class _Code:
    """A parsed STT: a group (level 0 for letters, 1 for Roman numerals) or an item (tokens or bullet)."""

    kind: Literal["group", "item"]
    level: int = 0
    tokens: tuple[str, ...] = ()
    bullet: str | None = None


def _parse_stt(text: str, last_letter: str | None, last_roman: int | None = None) -> _Code | None:
    """A lone C, D or M is a letter group unless it continues the Roman numerals (XCIX → C: group 100)."""
    t = text.strip()
    if t in _BULLETS:
        return _Code("item", bullet=_BULLETS[t])
    if _ALPHA_BULLET.match(t.rstrip(".")) and t.rstrip(".") != t.rstrip(".").upper():
        return _Code("item", bullet="alpha")
    t = t.rstrip(".").rstrip(")").strip()
    prefixed = _GROUP_PREFIX.match(_fold(t))
    if prefixed:
        t = prefixed.group(2).upper()
    if not t:
        return None
    lone_letter = len(t) == 1 and t in "CDM" and last_roman != _ROMAN_VALUES.get(t, 0) - 1
    if (
        _ROMAN.match(t)
        and not lone_letter
        and not (last_letter and len(t) == 1 and ord(t) == ord(last_letter) + 1)
    ):
        return _Code("group", level=1, tokens=(t,))
    if _LETTER.match(t):
        return _Code("group", level=0, tokens=(t,))
    if _DOTTED.match(t) and not prefixed:
        return _Code("item", tokens=tuple(t.split(".")))
    return None


def _total_label(text: str) -> tuple[bool, bool, str | None] | None:
    """(is strong, is weak, named group) when the text labels a total row."""
    folded = _fold(text)
    if _STRONG_TOTAL.search(folded):
        return True, False, None
    weak = _WEAK_TOTAL.match(folded)
    if weak:
        return False, True, (weak.group("group") or "").upper() or None
    return None


# ---------------------------------------------------------------- the tree of rows


@dataclass
class _Node:
    kind: Literal["root", "section", "group", "item"]
    rows: list[_Row] = field(default_factory=list)  # the rows printing this node's amounts
    children: list[_Node] = field(default_factory=list)
    code: str = ""
    level: int = 0
    tokens: tuple[str, ...] = ()
    bullet: str | None = None
    eff: dict[int, Decimal] = field(default_factory=dict)  # the amount that counts further up
    has: dict[int, bool] = field(default_factory=dict)  # whether anything below states an amount
    leaves: int = 0


class _NoTable(Exception):
    """This grid holds no table to check; ``partial`` when it holds some of the columns asked for."""

    def __init__(self, key: str, *, partial: bool = False, **values: Any) -> None:
        self.key = key
        self.partial = partial
        self.values = values
        super().__init__(key)


@dataclass
class _Table:
    """Everything one table check needs while it runs."""

    grid: _Grid
    columns: list[AmountColumn]
    unit: str | None
    report: TableReport
    findings: list[Finding] = field(default_factory=list)

    def finding(self, kind: FindingKind, row: _Row, col: int | None = None, **values: Any) -> None:
        column = self.columns[col] if col is not None else None
        grid_col = values.pop("grid_col", column.index if column else None)
        self.findings.append(
            Finding(
                kind=kind,
                sheet=self.grid.sheet,
                line=row.line,
                cell=self.grid.ref(row.r, grid_col) if grid_col is not None else None,
                row_label=row.label,
                column=column.label if column else None,
                unit=self.unit,
                **values,
            )
        )

    def compare(
        self, kind: FindingKind, row: _Row, col: int, printed: Decimal, computed: Decimal, **values: Any
    ) -> None:
        self.report.checks += 1
        if printed != computed:
            self.finding(kind, row, col, printed=printed, computed=computed, **values)


def _check_table(grid: _Grid, *, requested: list[str], unit: str | None) -> tuple[TableReport, list[Finding]]:
    found = _find_header(grid)
    if found is None:
        raise _NoTable("no_table", rows=HEADER_SEARCH_ROWS)
    header, stt_col, name_col = found
    last_header, data_start = _header_end(grid, header, stt_col, name_col)
    paths = _column_paths(grid, header, last_header)
    columns = _amount_columns(grid, paths, stt_col, name_col, data_start, requested)
    if not columns:
        raise _NoTable("no_amount_columns", line=grid.lines[header])

    scale = _table_scale(grid, columns, data_start)
    display_unit = (
        unit
        or _stated_unit(grid, header, last_header)
        or _SCALE_UNITS.get(scale)
        or _unit_below(grid, columns, data_start)
    )
    report = TableReport(grid.sheet, grid.lines[header], display_unit, columns)
    table = _Table(grid, columns, display_unit, report)
    rows = _read_rows(table, stt_col, name_col, data_start)
    _classify(rows)
    rows = _cut_after_table(rows)
    for row in rows:
        _row_warnings(table, row)
    root, groups, sections = _build_tree(rows)
    for child in root.children:
        _evaluate(table, child)
    _check_totals(table, root, "grand_total")
    for section in sections:
        _check_totals(table, section, "section_total")
    report.items = root_leaves = sum(child.leaves for child in root.children)
    report.groups = len(groups)
    report.total_rows = sum(1 for row in rows if row.kind == "total")
    if not root.rows:
        sums = _sum_children(root.children, len(columns))
        table.findings.append(
            Finding(
                kind="no_total_row",
                sheet=grid.sheet,
                line=grid.lines[header],
                cell=None,
                row_label="",
                count=root_leaves,
                totals=tuple((c.label, sums[0][i]) for i, c in enumerate(columns)),
                unit=display_unit,
            )
        )
    table.findings.sort(key=lambda f: f.line)
    return report, table.findings


def _amount_columns(
    grid: _Grid, paths: list[list[str]], stt_col: int, name_col: int, data_start: int, requested: list[str]
) -> list[AmountColumn]:
    if requested:
        found = {wanted: _find_requested(grid, paths, wanted) for wanted in requested}
        missing = [wanted for wanted, c in found.items() if c is None]
        if missing:
            headers = ", ".join(f"«{levels[-1]}»" for levels in paths if levels)
            partial = len(missing) < len(requested)
            raise _NoTable("amount_column_not_found", partial=partial, name=missing[0], headers=headers)
        chosen = [c for c in found.values() if c is not None]
    else:
        chosen = []
        for c, levels in enumerate(paths):
            if c in (stt_col, name_col) or not levels:
                continue
            folded = [_fold(level) for level in levels]
            if _NOT_MONEY_HEADER.search(folded[-1]) or not any(_MONEY_HEADER.search(f) for f in folded):
                continue
            if _holds_numbers_or_nothing(grid, c, data_start):
                chosen.append(c)
    chosen = sorted(set(chosen))
    columns = []
    for c in chosen:
        levels = paths[c] or [get_column_letter(c + 1)]
        sums: tuple[int, ...] = ()
        if _ROW_TOTAL_HEADER.match(_fold(levels[-1])) and not _fold(levels[-1]).startswith("tong muc"):
            parent = levels[:-1]
            sums = tuple(
                i
                for i, other in enumerate(chosen)
                if other != c
                and paths[other][: len(parent)] == parent
                and not _ROW_TOTAL_HEADER.match(_fold((paths[other] or [""])[-1]))
            )
        columns.append(
            AmountColumn(
                index=c,
                letter=get_column_letter(c + 1) if grid.sheet is not None else None,
                label=levels[-1],
                header=" / ".join(levels),
                sums=sums,
            )
        )
    return columns


def _find_requested(grid: _Grid, paths: list[list[str]], wanted: str) -> int | None:
    """The column a name given by the user means: a header, a column letter, or part of a header."""
    key = _fold(wanted)
    for c, levels in enumerate(paths):
        if any(_fold(level) == key for level in levels):
            return c
    if grid.sheet is not None and re.fullmatch(r"[A-Za-z]{1,3}", wanted):
        index = column_index_from_string(wanted.upper()) - 1
        if index < grid.width:  # "ODA" is a column letter too, far beyond any table
            return index
    for c, levels in enumerate(paths):
        # "NSĐP" finds "Ngân sách địa phương (NSĐP)"
        if levels and re.search(rf"\b{re.escape(key)}\b", _fold(levels[-1])):
            return c
    return None


def _holds_numbers_or_nothing(grid: _Grid, c: int, data_start: int) -> bool:
    """A note column headed "Nguồn vốn" holds text only; a money column holds numbers (or nothing yet)."""
    numbers = texts = 0
    for r in range(data_start, len(grid.rows)):
        value = grid.cell(r, c).value
        if _is_number(value) or grid.cell(r, c).formula:
            numbers += 1
        elif isinstance(value, str) and value.strip() not in _DASHES:
            if _text_amount(value, None) is not None:
                numbers += 1
            else:
                texts += 1
    return numbers > 0 or texts == 0


def _table_scale(grid: _Grid, columns: list[AmountColumn], data_start: int) -> int:
    scales = Counter(
        _scale(grid.cell(r, column.index).number_format)
        for column in columns
        for r in range(data_start, len(grid.rows))
        if _is_number(grid.cell(r, column.index).value)
    )
    return scales.most_common(1)[0][0] if scales else 0


def _stated_unit(grid: _Grid, header: int, last_header: int) -> str | None:
    """The unit stated above the table ("Đơn vị tính: …") or in a header cell ("(triệu đồng)")."""
    for pattern, first, last in ((_UNIT_LINE, 0, last_header), (_UNIT_PAREN, header, last_header)):
        for r in range(first, last + 1):
            for c in range(len(grid.rows[r])):
                match = pattern.search(_fold(_text(grid.cell(r, c).value)))
                if match:
                    return _unit_key(match.group(match.lastindex or 1))
    return None


def _unit_below(grid: _Grid, columns: list[AmountColumn], data_start: int) -> str | None:
    """A unit named only in the text under the table ("Tổng kinh phí năm 2020: 261.221 triệu đồng")."""
    last_amount = max(
        (
            r
            for r in range(data_start, len(grid.rows))
            for c in columns
            if _is_number(grid.cell(r, c.index).value)
        ),
        default=data_start - 1,
    )
    for row in grid.rows[last_amount + 1 :]:
        for cell in row:
            if isinstance(cell.value, str):
                match = _UNIT_BELOW.search(_fold(cell.value))
                if match:
                    return _unit_key(match.group(1))
    return None


def _read_rows(table: _Table, stt_col: int, name_col: int, data_start: int) -> list[_Row]:
    grid, unit = table.grid, table.unit
    factor = Decimal(MONEY_UNIT_FACTOR[unit]) if unit else Decimal(1)
    position = {column.index: i for i, column in enumerate(table.columns)}
    rows = []
    for r in range(data_start, len(grid.rows)):
        stt_cell = grid.cell(r, stt_col)
        stt = _text(stt_cell.value)
        name = _text(grid.cell(r, name_col).value)
        if not name and not stt:
            # "TỔNG CỘNG" is often typed in a cell merged across the first columns
            name = next(
                (
                    _text(cell.value)
                    for c, cell in enumerate(grid.rows[r])
                    if c not in position and isinstance(cell.value, str) and cell.value.strip()
                ),
                "",
            )
        row = _Row(r=r, line=grid.lines[r], stt=stt, name=name)
        for i, column in enumerate(table.columns):
            cell = grid.cell(r, column.index)
            if cell.merge is not None and (cell.merge[0], cell.merge[1]) != (r, column.index):
                continue  # covered by a merged cell that starts elsewhere
            if cell.formula:
                row.formulas.add(i)
                continue
            value = cell.value
            if value is None:
                continue
            if _is_number(value):
                # A scaling number format means the cell stores đồng and only the display is scaled.
                amount = Decimal(repr(value) if isinstance(value, float) else value)
                amount = amount if _scale(cell.number_format) else amount * factor
            else:
                text = _text(value)
                if not text or text in _DASHES:
                    continue
                parsed = _text_amount(text, unit)
                if parsed is None:
                    row.texts[i] = text
                    continue
                amount = parsed
            spanned = (
                tuple(position[c] for c in range(cell.merge[1], cell.merge[3] + 1) if c in position)
                if cell.merge is not None
                else (i,)
            )
            if len(spanned) > 1:
                row.cross.append((spanned, amount, column.index))
            else:
                row.values[i] = amount
        rows.append(row)
    return rows


def _classify(rows: list[_Row]) -> None:
    """Give every row its kind; total rows are told apart as grand totals or subtotals afterwards."""
    last_letter: str | None = None
    last_roman: int | None = None
    for row in rows:
        code = _parse_stt(row.stt, last_letter, last_roman)
        total = _total_label(row.name or row.stt) if code is None else None
        if code is not None:
            row.kind, row.code = code.kind, code
            if code.kind == "group":
                # "I" after a letter group "H" is the next letter, after a Roman group it is a numeral
                last_letter = code.tokens[0] if code.level == 0 else None
                last_roman = _roman_value(code.tokens[0]) if code.level == 1 else None
        elif total is not None and row.has_content:
            row.kind = "total"
            row.strong, _weak, row.named_group = total
        elif not row.stt and row.name and row.has_content:
            row.kind, row.code = "item", _Code("item")  # an item typed without a number
        else:
            row.kind = "other"


def _cut_after_table(rows: list[_Row]) -> list[_Row]:
    """The table ends at its last total row when nothing below carries an amount (notes, signatures)."""
    last_total = max((i for i, row in enumerate(rows) if row.kind == "total"), default=None)
    if last_total is not None and not any(row.has_content for row in rows[last_total + 1 :]):
        return rows[: last_total + 1]
    return rows


def _total_roles(rows: list[_Row]) -> dict[int, Literal["grand", "subtotal"]]:
    content = [i for i, row in enumerate(rows) if row.kind in ("group", "item")]
    totals = [i for i, row in enumerate(rows) if row.kind == "total"]
    roles: dict[int, Literal["grand", "subtotal"]] = {}
    if not content:
        return dict.fromkeys(totals, "grand")
    first, last = content[0], content[-1]
    middle = [i for i in totals if first < i < last]
    trailing = [i for i in totals if i > last]
    for i in totals:
        if i < first:
            roles[i] = "grand"
        elif i < last:
            roles[i] = "subtotal"
    first_strong = next((i for i in trailing if rows[i].strong), None)
    for position, i in enumerate(trailing):
        if rows[i].named_group:
            roles[i] = "subtotal"
        elif first_strong is not None:
            roles[i] = "subtotal" if i < first_strong else "grand"
        else:
            roles[i] = "subtotal" if position == 0 and middle else "grand"
    return roles


def _build_tree(rows: list[_Row]) -> tuple[_Node, list[_Node], list[_Node]]:
    """The root (whose rows are the grand totals), every group, and every section closed by a total row
    outside any group. Items hang under the innermost open group, or under the item they number into."""
    roles = _total_roles(rows)
    root = _Node("root")
    open_groups: list[_Node] = []
    open_items: list[_Node] = []
    all_groups: list[_Node] = []
    sections: list[_Node] = []
    section_start = 0
    for i, row in enumerate(rows):
        container = open_groups[-1] if open_groups else root
        if row.kind == "group" and row.code is not None:
            while open_groups and open_groups[-1].level >= row.code.level:
                open_groups.pop()
            node = _Node("group", rows=[row], code=row.code.tokens[0], level=row.code.level)
            (open_groups[-1] if open_groups else root).children.append(node)
            open_groups.append(node)
            all_groups.append(node)
            open_items.clear()
        elif row.kind == "item" and row.code is not None:
            tokens = row.code.tokens
            open_codes = {group.code for group in open_groups}
            if len(tokens) > 1 and tokens[0] in open_codes:
                tokens = tokens[1:]  # "I.1" under group I is item 1 of that group
            node = _Node("item", rows=[row], tokens=tokens, bullet=row.code.bullet)
            parent = _item_parent(open_items, node)
            (parent.children if parent else container.children).append(node)
        elif row.kind == "total" and roles[i] == "grand":
            root.rows.append(row)
        elif row.kind == "total":
            target = next((g for g in reversed(open_groups) if g.code == row.named_group), None)
            target = target or (open_groups[-1] if open_groups else None)
            if target is not None:
                target.rows.append(row)
                del open_groups[open_groups.index(target) :]
            else:
                sections.append(_Node("section", rows=[row], children=root.children[section_start:]))
                section_start = len(root.children)
            open_items.clear()
    return root, all_groups, sections


def _item_parent(stack: list[_Node], node: _Node) -> _Node | None:
    """Pop the open items ``node`` does not belong under, push it, and return its parent item."""
    if node.bullet is None:
        while stack and not (
            stack[-1].bullet is None
            and len(stack[-1].tokens) < len(node.tokens)
            and node.tokens[: len(stack[-1].tokens)] == stack[-1].tokens
        ):
            stack.pop()
    else:
        same = next((k for k in range(len(stack) - 1, -1, -1) if stack[k].bullet == node.bullet), None)
        if same is not None:
            del stack[same:]
    parent = stack[-1] if stack else None
    stack.append(node)
    return parent


def _row_warnings(table: _Table, row: _Row) -> None:
    if row.kind == "other":
        if row.has_content:
            table.finding("unclassified", row)
        return
    for i, text in row.texts.items():
        table.finding("text_amount", row, i, raw=_short(text, 80))
    for i in sorted(row.formulas):
        table.finding("formula", row, i)
    if row.kind == "item" and row.cross:
        # An item's amount merged across sources cannot be split: it counts in the first of them.
        for spanned, amount, grid_col in row.cross:
            row.values[spanned[0]] = row.values.get(spanned[0], Decimal(0)) + amount
            table.finding(
                "merged_amount", row, spanned[0], grid_col=grid_col,
                columns=tuple(table.columns[k].label for k in spanned),
            )  # fmt: skip
        row.cross.clear()


def _sum_children(children: Iterable[_Node], width: int) -> tuple[list[Decimal], list[bool], int]:
    sums, has, leaves = [Decimal(0)] * width, [False] * width, 0
    for child in children:
        leaves += child.leaves
        for k in range(width):
            sums[k] += child.eff.get(k, Decimal(0))
            has[k] = has[k] or child.has.get(k, False)
    return sums, has, leaves


def _evaluate(table: _Table, node: _Node) -> None:
    """Compute what ``node`` contributes to the totals above it, checking its printed rows on the way.

    Column by column: where the rows below state amounts, their sum counts and every amount this node
    prints is compared with it; where nothing below states an amount, the node's own amount counts (an
    item, or a group or parent row whose items carry no money in that column).
    """
    for child in node.children:
        _evaluate(table, child)
    width = len(table.columns)
    sums, below, leaves = _sum_children(node.children, width)
    kind: FindingKind = "group_total" if node.kind == "group" else "parent_total"
    own = {k: row.values[k] for row in reversed(node.rows) for k in row.values}  # first printed wins
    plain = [k for k, c in enumerate(table.columns) if not c.is_row_total]
    totals = [k for k, c in enumerate(table.columns) if c.is_row_total]
    for k in plain + totals:
        if below[k]:
            node.eff[k], node.has[k] = sums[k], True
            for row in node.rows:
                if k in row.values:
                    table.compare(kind, row, k, row.values[k], sums[k], count=leaves)
        elif k in totals and any(node.has.get(s) for s in table.columns[k].sums):
            computed = sum((node.eff.get(s, Decimal(0)) for s in table.columns[k].sums), Decimal(0))
            node.eff[k], node.has[k] = computed, True
            sources = tuple(table.columns[s].label for s in table.columns[k].sums)
            for row in node.rows:
                if k in row.values:
                    table.compare("row_total", row, k, row.values[k], computed, columns=sources)
        else:
            node.eff[k], node.has[k] = own.get(k, Decimal(0)), k in own
    node.leaves = 1 if node.kind == "item" and not any(below) else leaves
    _check_cross(table, node.rows, node.eff, node.leaves)
    if node.kind == "item" and not node.children and not node.rows[0].has_content:
        table.finding("no_amount", node.rows[0])


def _check_totals(table: _Table, node: _Node, kind: FindingKind) -> None:
    """Grand and section totals: every printed amount against the sum of the items, even when that is 0."""
    sums, _below, leaves = _sum_children(node.children, len(table.columns))
    for row in node.rows:
        for k, printed in row.values.items():
            table.compare(kind, row, k, printed, sums[k], count=leaves)
    _check_cross(table, node.rows, dict(enumerate(sums)), leaves)


def _check_cross(table: _Table, rows: list[_Row], eff: dict[int, Decimal], count: int) -> None:
    for row in rows:
        for spanned, printed, grid_col in row.cross:
            computed = sum((eff.get(k, Decimal(0)) for k in spanned), Decimal(0))
            table.report.checks += 1
            if printed != computed:
                table.finding(
                    "cross_total",
                    row,
                    None,
                    grid_col=grid_col,
                    printed=printed,
                    computed=computed,
                    count=count,
                    columns=tuple(table.columns[k].label for k in spanned),
                )
