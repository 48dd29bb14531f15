"""An uploaded workbook read in streaming mode, with limits, so no file can take the portal's memory.

openpyxl's normal mode builds an object per cell of every sheet (a 6.7 MB workbook with 700,000 filled
cells outside the checked columns took 3.5 GB and two and a half minutes). Here the workbook is opened
read-only (rows are parsed as they are read and dropped), and each worksheet's XML is first scanned once,
element by element, for what read-only mode does not give: where the values end, hidden rows, merged
ranges and formulas without a cached value. The scan stops at the first cell beyond the limits of the used
range (`MAX_SHEET_ROWS`, `MAX_SHEET_COLUMNS`) or of the cell count (`MAX_WORKBOOK_CELLS`, every sheet
together), and the file is refused with a message that names the sheet and the cell.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import iterparse

from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.cell_range import CellRange

from tasks.excel.issues import ValidationIssue, make_issue

MAX_SHEET_ROWS = 5_000  # a unit's plan holds tens of rows, a large one a few hundred
MAX_SHEET_COLUMNS = 64
MAX_WORKBOOK_CELLS = 150_000  # filled cells (a value or a formula) and merged ranges, all sheets together
MAX_SHARED_STRINGS_BYTES = 16 * 1024 * 1024  # read whole by openpyxl, even in read-only mode

_COORDINATE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


class SheetTooLarge(Exception):
    """A sheet beyond the limits; ``issue`` says which sheet, where and why."""

    def __init__(self, issue: ValidationIssue) -> None:
        self.issue = issue
        super().__init__(issue.message_en)


@dataclass
class SheetScan:
    """What one pass over a worksheet's XML found (rows and columns numbered from 1)."""

    title: str
    last_row: int = 0  # the last row holding a value or a formula
    last_column: int = 0
    cells: int = 0
    hidden_rows: set[int] = field(default_factory=set)
    merged: list[CellRange] = field(default_factory=list)
    formulas_without_value: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) → formula


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def scan_sheet(source: Any, title: str, budget: list[int]) -> SheetScan:
    """Scan one worksheet's XML (a binary stream); ``budget`` is the cell count still allowed to the
    workbook (one element, decremented). Raises `SheetTooLarge` at the first cell beyond a limit."""
    scan = SheetScan(title=title)
    sheet_data = None
    row_number = 0
    column = 0

    def spend() -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise SheetTooLarge(
                make_issue("sheet_too_many_cells", sheet=title, limit=f"{MAX_WORKBOOK_CELLS:,}")
            )

    for event, element in iterparse(source, events=("start", "end")):
        name = _local(element.tag)
        if event == "start":
            if name == "sheetData":
                sheet_data = element
            elif name == "row":
                given = element.get("r")
                row_number = int(given) if given and given.isdigit() else row_number + 1
                column = 0
                if element.get("hidden") in ("1", "true") and row_number <= MAX_SHEET_ROWS:
                    scan.hidden_rows.add(row_number)
            continue
        if name == "c":
            reference = _COORDINATE.match(element.get("r") or "")
            if reference is not None:
                column = column_index_from_string(reference.group(1).upper())
                row_number = int(reference.group(2))
            else:
                column += 1
            formula = value = None
            filled = False
            for child in element:
                child_name = _local(child.tag)
                if child_name == "f":
                    formula, filled = (f"={child.text}" if child.text else ""), True  # as Excel shows it
                elif child_name == "v":
                    value = child.text
                    filled = filled or bool(value)
                elif child_name == "is":
                    filled = True
            if filled:
                cell = f"{get_column_letter(min(column, 16384))}{row_number}"
                if row_number > MAX_SHEET_ROWS:
                    raise SheetTooLarge(
                        make_issue("sheet_too_many_rows", sheet=title, cell=cell, limit=f"{MAX_SHEET_ROWS:,}")
                    )
                if column > MAX_SHEET_COLUMNS:
                    raise SheetTooLarge(
                        make_issue("sheet_too_many_columns", sheet=title, cell=cell, limit=MAX_SHEET_COLUMNS)
                    )
                spend()
                scan.cells += 1
                scan.last_row = max(scan.last_row, row_number)
                scan.last_column = max(scan.last_column, column)
                if formula is not None and not value:
                    scan.formulas_without_value[(row_number, column)] = formula
            element.clear()
        elif name == "row":
            element.clear()
            if sheet_data is not None:
                sheet_data.remove(element)  # nothing of a read row stays in memory
        elif name == "mergeCell":
            spend()
            with suppress(ValueError, TypeError):  # a range openpyxl cannot read is none Excel shows
                scan.merged.append(CellRange(element.get("ref") or ""))
            element.clear()
    return scan


class StreamedSheet:
    """One worksheet: its rows read on demand (read-only openpyxl) and what the scan found."""

    def __init__(self, worksheet: Any, scan: SheetScan) -> None:
        self.worksheet = worksheet
        self.scan = scan
        self.title: str = worksheet.title

    def iter_rows(
        self,
        *,
        min_row: int = 1,
        max_row: int | None = None,
        min_col: int = 1,
        max_col: int | None = None,
        values_only: bool = True,
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of cell values from ``min_row`` to ``max_row`` (default: the last row with a value), each
        padded to ``max_col`` (default: the last column with a value)."""
        last = self.scan.last_row if max_row is None else max_row
        width = max_col or max(self.scan.last_column, min_col)
        if last < min_row:
            return iter(())
        return self.worksheet.iter_rows(
            min_row=min_row, max_row=last, min_col=min_col, max_col=width, values_only=True
        )


class StreamedWorkbook:
    """An uploaded workbook, opened read-only and scanned sheet by sheet within the limits."""

    def __init__(self, content: bytes) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops
            self._workbook = load_workbook(
                io.BytesIO(content), read_only=True, data_only=True, keep_links=False, rich_text=False
            )
        self._sheets: dict[str, StreamedSheet] = {}
        budget = [MAX_WORKBOOK_CELLS]
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for worksheet in self._workbook.worksheets:
                path = getattr(worksheet, "_worksheet_path", None)
                if path is None:
                    continue
                with archive.open(path.lstrip("/")) as source:
                    scan = scan_sheet(source, worksheet.title, budget)
                self._sheets[worksheet.title] = StreamedSheet(worksheet, scan)
        self.sheetnames: list[str] = list(self._sheets)  # worksheets only (no chart sheets)

    def __getitem__(self, title: str) -> StreamedSheet:
        return self._sheets[title]

    def __contains__(self, title: str) -> bool:
        return title in self._sheets

    def close(self) -> None:
        self._workbook.close()


def read_metadata_fields(content: bytes, sheet: str, *, max_rows: int = 64) -> dict[str, str] | None:
    """The name/value pairs of the hidden metadata ``sheet`` of an (already checked) .xlsx, reading at most
    ``max_rows`` rows of it and nothing of the other sheets: what an upload is (its kind, unit and year) is
    known before the whole file is scanned. None when there is no such sheet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True, keep_links=False)
    try:
        if sheet not in workbook.sheetnames:
            return None
        rows = workbook[sheet].iter_rows(min_row=1, max_row=max_rows, min_col=1, max_col=2, values_only=True)
        return {name: str(value) for name, value in rows if isinstance(name, str) and value is not None}
    finally:
        workbook.close()
