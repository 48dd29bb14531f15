"""Totals check for plan appendices: recompute item, group and grand totals per funding source and compare
them with the total rows the file itself prints.

Pure functions, no database. ``totals_table.py`` reads a sheet or CSV file into a grid and finds the
table, its amount columns and its unit; this module tells the rows apart and compares the totals;
``totals_report.py`` holds the outcome. ``check_plan_file`` reads an ``.xlsx`` workbook or a ``.csv`` file;
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

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from openpyxl import Workbook, load_workbook

from models.base import MONEY_UNIT_FACTOR
from tasks.common.text import clean, fold
from tasks.consolidation.totals_report import (
    AmountColumn,
    CheckReport,
    Finding,
    FindingKind,
    PlanCheckError,
    TableReport,
)
from tasks.consolidation.totals_table import (
    DASHES,
    HEADER_SEARCH_ROWS,
    SCALE_UNITS,
    Grid,
    NoTable,
    cell_text,
    column_paths,
    csv_grid,
    find_amount_columns,
    find_header,
    format_scale,
    header_end,
    is_number,
    sheet_grid,
    short,
    stated_unit,
    table_scale,
    text_amount,
    unit_below,
)
from tasks.excel.files import has_formulas

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
        return _check_grids(path.name, [csv_grid(path)], sheet=None, amount_columns=amount_columns, unit=unit)
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
            formulas = load_workbook(io.BytesIO(data)) if has_formulas(data) else None
        except Exception:  # openpyxl raises many kinds of error on a damaged or foreign file
            raise PlanCheckError("unreadable", file=name) from None
    if sheet is not None and sheet not in values.sheetnames:
        raise PlanCheckError("no_sheet", file=name, sheet_name=sheet, sheets=", ".join(values.sheetnames))
    names = [sheet] if sheet is not None else values.sheetnames
    grids = [
        sheet_grid(values[n], formulas[n] if formulas is not None else None)
        for n in names
        if sheet is not None or values[n].sheet_state == "visible"
    ]
    return _check_grids(name, grids, sheet=sheet, amount_columns=amount_columns, unit=unit)


def _check_grids(
    name: str,
    grids: list[Grid],
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
        except NoTable as skip:
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
    return [clean(n) for n in names if clean(n)]


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
        return short(" ".join(part for part in (self.stt, self.name) if part) or "?")


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
    prefixed = _GROUP_PREFIX.match(fold(t))
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
    folded = fold(text)
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


@dataclass
class _Table:
    """Everything one table check needs while it runs."""

    grid: Grid
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


def _check_table(grid: Grid, *, requested: list[str], unit: str | None) -> tuple[TableReport, list[Finding]]:
    found = find_header(grid)
    if found is None:
        raise NoTable("no_table", rows=HEADER_SEARCH_ROWS)
    header, stt_col, name_col = found
    last_header, data_start = header_end(grid, header, stt_col, name_col)
    paths = column_paths(grid, header, last_header)
    columns = find_amount_columns(grid, paths, stt_col, name_col, data_start, requested)
    if not columns:
        raise NoTable("no_amount_columns", line=grid.lines[header])

    scale = table_scale(grid, columns, data_start)
    display_unit = (
        unit
        or stated_unit(grid, header, last_header)
        or SCALE_UNITS.get(scale)
        or unit_below(grid, columns, data_start)
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


def _read_rows(table: _Table, stt_col: int, name_col: int, data_start: int) -> list[_Row]:
    grid, unit = table.grid, table.unit
    factor = Decimal(MONEY_UNIT_FACTOR[unit]) if unit else Decimal(1)
    position = {column.index: i for i, column in enumerate(table.columns)}
    rows = []
    for r in range(data_start, len(grid.rows)):
        stt_cell = grid.cell(r, stt_col)
        stt = cell_text(stt_cell.value)
        name = cell_text(grid.cell(r, name_col).value)
        if not name and not stt:
            # "TỔNG CỘNG" is often typed in a cell merged across the first columns
            name = next(
                (
                    cell_text(cell.value)
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
            if is_number(value):
                # A scaling number format means the cell stores đồng and only the display is scaled.
                amount = Decimal(repr(value) if isinstance(value, float) else value)
                amount = amount if format_scale(cell.number_format) else amount * factor
            else:
                text = cell_text(value)
                if not text or text in DASHES:
                    continue
                parsed = text_amount(text, unit)
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
        table.finding("text_amount", row, i, raw=short(text, 80))
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
