"""Reading a plan appendix for the totals check: a sheet or a CSV file as a grid of cells (merged cells,
formulas without a stored result, number formats), where its table starts (the "STT" and "Tên" header),
which columns hold money and in which unit. What the rows mean is ``totals_check.py``'s business.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from models.base import MONEY_UNIT_FACTOR
from tasks.common.money import MoneyFormatError, parse_money
from tasks.common.text import clean, fold
from tasks.consolidation.totals_report import AmountColumn, PlanCheckError

HEADER_SEARCH_ROWS = 30
MAX_HEADER_ROWS = 4  # the STT row plus up to three rows of sub-headings
MAX_COLUMNS = 200  # a stray formatted cell far to the right must not make every row 16.384 cells long


class NoTable(Exception):
    """This grid holds no table to check; ``partial`` when it holds some of the columns asked for."""

    def __init__(self, key: str, *, partial: bool = False, **values: Any) -> None:
        self.key = key
        self.partial = partial
        self.values = values
        super().__init__(key)


# ---------------------------------------------------------------- reading cells


@dataclass
class Cell:
    value: Any = None
    merge: tuple[int, int, int, int] | None = None  # (first row, first col, last row, last col), 0-based
    formula: bool = False  # a formula without a stored result
    source: Any = None  # the openpyxl cell, asked for its number format only when it is an amount

    @property
    def number_format(self) -> str:
        return getattr(self.source, "number_format", None) or "General"


_EMPTY = Cell()


@dataclass
class Grid:
    """A sheet or a CSV file as rows of cells; ``lines`` maps each row to its sheet row or CSV line."""

    sheet: str | None
    rows: list[list[Cell]]
    lines: list[int]

    def cell(self, r: int, c: int) -> Cell:
        row = self.rows[r]
        return row[c] if c < len(row) else _EMPTY

    def text(self, r: int, c: int) -> str:
        """The visible text at (r, c): a merged cell shows its first cell's value everywhere."""
        cell = self.cell(r, c)
        if cell.merge is not None:
            cell = self.cell(cell.merge[0], cell.merge[1])
        return cell_text(cell.value)

    def ref(self, r: int, c: int) -> str | None:
        return f"{get_column_letter(c + 1)}{self.lines[r]}" if self.sheet is not None else None

    @property
    def width(self) -> int:
        return max((len(row) for row in self.rows), default=0)


def sheet_grid(ws: Worksheet, formulas: Worksheet | None) -> Grid:
    width = min(ws.max_column, MAX_COLUMNS)
    merges: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for merged in ws.merged_cells.ranges:
        bounds = (merged.min_row - 1, merged.min_col - 1, merged.max_row - 1, merged.max_col - 1)
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, min(merged.max_col, width) + 1):
                merges[(r - 1, c - 1)] = bounds
    rows: list[list[Cell]] = []
    for r, xl_row in enumerate(ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=width)):
        cells = []
        for c, xl in enumerate(xl_row):
            value = xl.value
            formula = _is_formula(value)
            if formula:
                value = None
            elif value is None and formulas is not None:
                formula = _is_formula(formulas.cell(row=r + 1, column=c + 1).value)
            cells.append(Cell(value, merges.get((r, c)), formula, xl))
        rows.append(cells)
    return Grid(ws.title, rows, list(range(1, len(rows) + 1)))


def _is_formula(value: object) -> bool:
    return isinstance(value, ArrayFormula | DataTableFormula) or (
        isinstance(value, str) and value.startswith("=") and len(value) > 1
    )


def csv_grid(path: Path) -> Grid:
    """A CSV file: UTF-8 with or without BOM; the separator (; , or tab) under which a header is found."""
    try:
        text = unicodedata.normalize("NFC", path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PlanCheckError("csv_encoding", file=path.name) from None
    best: Grid | None = None
    best_width = -1
    for delimiter in (";", ",", "\t"):
        grid = _read_csv(text, delimiter)
        found = find_header(grid)
        width = sum(1 for cell in grid.rows[found[0]] if cell.value is not None) if found else -1
        if best is None or width > best_width:
            best, best_width = grid, width
    assert best is not None
    return best


def _read_csv(text: str, delimiter: str) -> Grid:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[Cell]] = []
    lines: list[int] = []
    previous_end = 0
    for record in reader:
        lines.append(previous_end + 1)  # a quoted field may span lines: report where the record starts
        previous_end = reader.line_num
        rows.append([Cell(value.strip() or None) for value in record])
    return Grid(None, rows, lines)


# ---------------------------------------------------------------- text helpers


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    return clean(str(value))


def short(text: str, limit: int = 70) -> str:
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
SCALE_UNITS = {2: "trieu", 3: "ty"}  # trailing commas in a number format → the unit displayed


def _unit_key(word: str) -> str:
    first = word.split()[0]
    return "trieu" if first.startswith("tr") else _UNIT_KEYS[first]


def find_header(grid: Grid) -> tuple[int, int, int] | None:
    """(row, STT column, name column) of the first row with an "STT" cell and a cell with "Tên"."""
    for r in range(min(HEADER_SEARCH_ROWS, len(grid.rows))):
        stt = name = None
        for c, cell in enumerate(grid.rows[r]):
            if not isinstance(cell.value, str):
                continue
            folded = fold(cell.value)
            if stt is None and _STT_HEADER.match(folded):
                stt = c
            elif name is None and _NAME_HEADER.search(folded):
                name = c
        if stt is not None and name is not None:
            return r, stt, name
    return None


def header_end(grid: Grid, header: int, stt_col: int, name_col: int) -> tuple[int, int]:
    """(last header row, first data row): sub-heading rows below the STT row, then a numbering row."""
    last = header
    for r in range(header + 1, min(header + MAX_HEADER_ROWS, len(grid.rows))):
        stt, name = grid.cell(r, stt_col).value, grid.cell(r, name_col).value
        if (
            stt is not None
            and name is not None
            and _CODE_LIKE.match(cell_text(stt))
            and _CODE_LIKE.match(cell_text(name))
        ):
            return last, r + 1  # "(1) (2) (3)…": the column numbers official forms print
        row = grid.rows[r]
        if stt is not None or name is not None or all(cell.value is None for cell in row):
            break
        if any(is_number(cell.value) for cell in row):
            break
        last = r
    return last, last + 1


def column_paths(grid: Grid, first: int, last: int) -> list[list[str]]:
    paths = []
    for c in range(grid.width):
        levels: list[str] = []
        for r in range(first, last + 1):
            text = grid.text(r, c)
            if text and (not levels or levels[-1] != text):
                levels.append(text)
        paths.append(levels)
    return paths


def is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


DASHES = {"-", "–", "—", "−", "_", "--"}


def text_amount(text: str, unit: str | None) -> Decimal | None:
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
def format_scale(number_format: str) -> int:
    """How many thousands a number format divides by: ``#,##0,,`` → 2 (the display shows millions)."""
    section = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", number_format.split(";")[0])
    match = re.search(r"[0#?](,+)[^0#?]*$", section)
    return len(match.group(1)) if match else 0


def find_amount_columns(
    grid: Grid, paths: list[list[str]], stt_col: int, name_col: int, data_start: int, requested: list[str]
) -> list[AmountColumn]:
    if requested:
        found = {wanted: _find_requested(grid, paths, wanted) for wanted in requested}
        missing = [wanted for wanted, c in found.items() if c is None]
        if missing:
            headers = ", ".join(f"«{levels[-1]}»" for levels in paths if levels)
            partial = len(missing) < len(requested)
            raise NoTable("amount_column_not_found", partial=partial, name=missing[0], headers=headers)
        chosen = [c for c in found.values() if c is not None]
    else:
        chosen = []
        for c, levels in enumerate(paths):
            if c in (stt_col, name_col) or not levels:
                continue
            folded = [fold(level) for level in levels]
            if _NOT_MONEY_HEADER.search(folded[-1]) or not any(_MONEY_HEADER.search(f) for f in folded):
                continue
            if _holds_numbers_or_nothing(grid, c, data_start):
                chosen.append(c)
    chosen = sorted(set(chosen))
    columns = []
    for c in chosen:
        levels = paths[c] or [get_column_letter(c + 1)]
        sums: tuple[int, ...] = ()
        if _ROW_TOTAL_HEADER.match(fold(levels[-1])) and not fold(levels[-1]).startswith("tong muc"):
            parent = levels[:-1]
            sums = tuple(
                i
                for i, other in enumerate(chosen)
                if other != c
                and paths[other][: len(parent)] == parent
                and not _ROW_TOTAL_HEADER.match(fold((paths[other] or [""])[-1]))
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


def _find_requested(grid: Grid, paths: list[list[str]], wanted: str) -> int | None:
    """The column a name given by the user means: a header, a column letter, or part of a header."""
    key = fold(wanted)
    for c, levels in enumerate(paths):
        if any(fold(level) == key for level in levels):
            return c
    if grid.sheet is not None and re.fullmatch(r"[A-Za-z]{1,3}", wanted):
        index = column_index_from_string(wanted.upper()) - 1
        if index < grid.width:  # "ODA" is a column letter too, far beyond any table
            return index
    for c, levels in enumerate(paths):
        # "NSĐP" finds "Ngân sách địa phương (NSĐP)"
        if levels and re.search(rf"\b{re.escape(key)}\b", fold(levels[-1])):
            return c
    return None


def _holds_numbers_or_nothing(grid: Grid, c: int, data_start: int) -> bool:
    """A note column headed "Nguồn vốn" holds text only; a money column holds numbers (or nothing yet)."""
    numbers = texts = 0
    for r in range(data_start, len(grid.rows)):
        value = grid.cell(r, c).value
        if is_number(value) or grid.cell(r, c).formula:
            numbers += 1
        elif isinstance(value, str) and value.strip() not in DASHES:
            if text_amount(value, None) is not None:
                numbers += 1
            else:
                texts += 1
    return numbers > 0 or texts == 0


def table_scale(grid: Grid, columns: list[AmountColumn], data_start: int) -> int:
    scales = Counter(
        format_scale(grid.cell(r, column.index).number_format)
        for column in columns
        for r in range(data_start, len(grid.rows))
        if is_number(grid.cell(r, column.index).value)
    )
    return scales.most_common(1)[0][0] if scales else 0


def stated_unit(grid: Grid, header: int, last_header: int) -> str | None:
    """The unit stated above the table ("Đơn vị tính: …") or in a header cell ("(triệu đồng)")."""
    for pattern, first, last in ((_UNIT_LINE, 0, last_header), (_UNIT_PAREN, header, last_header)):
        for r in range(first, last + 1):
            for c in range(len(grid.rows[r])):
                match = pattern.search(fold(cell_text(grid.cell(r, c).value)))
                if match:
                    return _unit_key(match.group(match.lastindex or 1))
    return None


def unit_below(grid: Grid, columns: list[AmountColumn], data_start: int) -> str | None:
    """A unit named only in the text under the table ("Tổng kinh phí năm 2020: 261.221 triệu đồng")."""
    last_amount = max(
        (
            r
            for r in range(data_start, len(grid.rows))
            for c in columns
            if is_number(grid.cell(r, c.index).value)
        ),
        default=data_start - 1,
    )
    for row in grid.rows[last_amount + 1 :]:
        for cell in row:
            if isinstance(cell.value, str):
                match = _UNIT_BELOW.search(fold(cell.value))
                if match:
                    return _unit_key(match.group(1))
    return None
