"""Reading what a unit typed: cells as text, whole numbers, amounts and decimals; the header row checked
against the layout; the data rows read once as cached values (streamed, `tasks.excel.stream`), with every
cell that cannot be trusted (a formula without a value, a merged or hidden cell) reported and marked
`UNREADABLE`.

Every reader collects problems as `ValidationIssue`s instead of stopping at the first one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from models.base import nfc
from tasks.common.money import parse_money
from tasks.common.text import normalize_text
from tasks.excel.issues import ValidationIssue, make_issue
from tasks.excel.layout import ColumnSpec
from tasks.excel.stream import StreamedSheet

Row = tuple[int, list[Any]]  # sheet row number, values by column index − 1


class Unreadable:
    """A cell already reported (formula without value, under a merge): no further rule looks at it."""


UNREADABLE = Unreadable()


# ---------------------------------------------------------------- cells


def cell_text(value: Any) -> str | None:
    """A cell as trimmed NFC text (whole floats without ".0", dates as dd/mm/yyyy); None when empty."""
    if value is None or isinstance(value, Unreadable):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        value = value.strftime("%d/%m/%Y")
    text = nfc(str(value))
    return text or None


def loose_key(text: str) -> str:
    """Case-, spacing- and punctuation-insensitive key (diacritics kept: they tell Vietnamese words apart)."""
    text = normalize_text(text).casefold()
    text = re.sub(r"[\s.,;:!?\"'()\[\]\-–—/]+", " ", text)
    return text.strip()


def choice_map(pairs: dict[str, str]) -> dict[str, str]:
    """Key by loose label or by key itself → key, for reading a drop-down cell."""
    return {loose_key(label): key for key, label in pairs.items()} | {loose_key(k): k for k in pairs}


def whole_number(value: Any) -> int | None:
    """An int from an int, an integral float or a digit string; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


def whole_percent(value: Any) -> int | None:
    """A whole percentage 0–100 from a number or a text such as "45" or "45 %"; None if it is not one."""
    percent = whole_number(value.rstrip("% ") if isinstance(value, str) else value)
    return percent if percent is not None and 0 <= percent <= 100 else None


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# A unit word after a number ("12 tỷ", "500 triệu đồng", "1.000đ"); not the end of any other word.
_UNIT_SUFFIX = re.compile(r"(?i)(?<=[\d\s.,])\s*(triệu\s*đồng|tỷ\s*đồng|triệu|tỷ|đồng|vnđ|vnd|đ)\s*$")
_SUFFIX_UNITS = {"triệu": "trieu", "tỷ": "ty", "đồng": "dong", "vnđ": "dong", "vnd": "dong", "đ": "dong"}


def read_amount(raw: Any, money_unit: str) -> tuple[int | None, str | None]:
    """Exact đồng from a cell written in ``money_unit``, or None and the money unit the cell names instead.
    Raises ``MoneyFormatError`` when the cell is not an amount.

    A unit word after the number must be the column's unit: "12 tỷ" in a column in triệu would
    otherwise be read as 12 triệu, a thousand times too little."""
    if isinstance(raw, str):
        raw = unicodedata.normalize("NFC", raw)
        suffix = _UNIT_SUFFIX.search(raw)
        if suffix is not None:
            word = re.sub(r"\s+", " ", suffix.group(1).casefold()).split(" ")[0]
            if _SUFFIX_UNITS[word] != money_unit:
                return None, _SUFFIX_UNITS[word]
            raw = raw[: suffix.start()]
    return parse_money(raw, money_unit), None


_NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")
_GROUPED_DOT = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")


def read_decimal(raw: Any) -> Decimal | None:
    """A number from a cell: an Excel number, or text such as "45", "45,5", "1.234,5", "45,5 %"."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw)) if raw == raw and abs(raw) != float("inf") else None
    if not isinstance(raw, str):
        return None
    text = (
        unicodedata.normalize("NFC", raw).strip().rstrip("%").strip().replace("\u00a0", "").replace(" ", "")
    )
    if _GROUPED_DOT.match(text):
        text = text.replace(".", "")
    if not _NUMBER.match(text):
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


# ---------------------------------------------------------------- rows and headers


def header_issues(
    ws: StreamedSheet, columns: list[ColumnSpec], header_row_of: dict[str, int]
) -> list[ValidationIssue]:
    """A ``header_changed`` issue for every column whose header (row by key, ``"*"`` for the others) is
    not the layout's, up to case, spacing and punctuation."""
    first, last = min(header_row_of.values()), max(header_row_of.values())
    width = columns[-1].index
    header_rows = dict(
        enumerate(ws.iter_rows(min_row=first, max_row=last, max_col=width, values_only=True), start=first)
    )
    issues = []
    for column in columns:
        row = header_row_of.get(column.key, header_row_of["*"])
        values = header_rows.get(row, ())
        found = cell_text(values[column.index - 1] if column.index <= len(values) else None) or ""
        if loose_key(found) != loose_key(column.header):
            issues.append(
                make_issue(
                    "header_changed",
                    sheet=ws.title,
                    row=row,
                    column=column,
                    expected=column.header,
                    found=found,
                )
            )
    return issues


def read_grid(ws: StreamedSheet, *, first_row: int, columns: list[ColumnSpec], issues: list) -> list[Row]:
    """Rows of cached values from ``first_row`` to the sheet's last filled row; formula cells without a
    cached value are reported and replaced by UNREADABLE, so no later rule reads them as empty."""
    width = columns[-1].index
    rows: list[Row] = []
    for offset, values in enumerate(ws.iter_rows(min_row=first_row, max_col=width, values_only=True)):
        row_values = list(values) + [None] * (width - len(values))
        rows.append((first_row + offset, row_values))
    by_row = dict(rows)
    for (row, index), formula in sorted(ws.scan.formulas_without_value.items()):
        if row in by_row and index <= width and by_row[row][index - 1] is None:
            issues.append(
                make_issue(
                    "formula_without_value",
                    sheet=ws.title,
                    row=row,
                    column=columns[index - 1],
                    formula=formula,
                )
            )
            by_row[row][index - 1] = UNREADABLE
    return rows


def structure_issues(
    ws: StreamedSheet,
    *,
    first_row: int,
    columns: list[ColumnSpec],
    rows: list[Row],
    content_keys: set[str] | None,
) -> list[ValidationIssue]:
    """Merged cells over the data area and hidden rows holding data: both hide what the unit meant.
    Cells under a merge are marked UNREADABLE in ``rows``."""
    issues = []
    by_index = {c.index: c for c in columns}
    by_row = dict(rows)
    for merged in sorted(ws.scan.merged, key=lambda r: (r.min_row, r.min_col)):
        if merged.max_row >= first_row:
            # Which row a merged value belongs to is a guess: no rule reads these cells.
            for row in range(max(merged.min_row, first_row), merged.max_row + 1):
                if row not in by_row:
                    continue
                for index in range(merged.min_col, min(merged.max_col, len(columns)) + 1):
                    by_row[row][index - 1] = UNREADABLE
            issues.append(
                make_issue(
                    "merged_cells",
                    sheet=ws.title,
                    row=max(merged.min_row, first_row),
                    column=by_index.get(merged.min_col),
                    range=merged.coord,
                )
            )
    for row, values in rows:
        if row in ws.scan.hidden_rows and has_content(values, columns, content_keys):
            issues.append(make_issue("hidden_row", sheet=ws.title, row=row))
    return issues


def has_content(values: list[Any], columns: list[ColumnSpec], content_keys: set[str] | None) -> bool:
    """Whether any cell of the row in a ``content_keys`` column (every column when None) is filled."""
    return any(
        not is_blank(values[c.index - 1]) for c in columns if content_keys is None or c.key in content_keys
    )


def read_table(
    ws: StreamedSheet,
    *,
    columns: list[ColumnSpec],
    header_rows: dict[str, int],
    first_row: int,
    content_keys: set[str],
    issues: list[ValidationIssue],
) -> list[Row] | None:
    """The filled data rows of a sheet, after checking its headers (``header_rows`` as for
    `header_issues`), formula cells and structure; ``None`` when the headers changed (the columns cannot
    be trusted to mean what the layout says). Every problem is added to ``issues``."""
    changed = header_issues(ws, columns, header_rows)
    if changed:
        issues.extend(changed)
        return None
    rows = read_grid(ws, first_row=first_row, columns=columns, issues=issues)
    issues.extend(
        structure_issues(ws, first_row=first_row, columns=columns, rows=rows, content_keys=content_keys)
    )
    return [(row, values) for row, values in rows if has_content(values, columns, content_keys)]


def sort_issues(issues: list[ValidationIssue], sheets: Iterable[str]) -> None:
    """Reading order: the ``sheets`` in that order (then any other), each top to bottom, left to right."""
    order = {sheet: rank for rank, sheet in enumerate(sheets)}
    last = len(order)
    issues.sort(
        key=lambda i: (order.get(i.sheet or "", last), i.row or 10**9, len(i.column or ""), i.column or "")
    )
