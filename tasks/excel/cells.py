"""Writing a cell of a workbook we generate: text is always a value, never a formula.

openpyxl stores a string that begins with "=" as a formula. An item named ``=HYPERLINK("http://x","y")``
would become a live link in the unit's workbook, and next year's carry-over row would hold a formula
without a cached value, which validation refuses. Every openpyxl writer goes through `write_cell` (or
`keep_text` after ``ws.append``); xlsxwriter writers call ``write_string`` for text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet


def keep_text(cells: Iterable[Any]) -> None:
    """Mark every text cell of ``cells`` as a string, whatever its first character."""
    for cell in cells:
        if isinstance(cell, Cell) and isinstance(cell.value, str) and cell.data_type != "s":
            cell.data_type = "s"


def write_cell(ws: Worksheet, row: int, column: int, value: Any = None) -> Cell:
    """``ws.cell(row, column)`` set to ``value``; a text value is stored as a string, never a formula."""
    cell = ws.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str) and cell.data_type != "s":
        cell.data_type = "s"
    return cell
