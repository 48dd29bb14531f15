"""The look of every generated workbook: Times New Roman, thin borders, locked headers and editable data
cells, drop-downs and number validations, and A4 printing."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from tasks.excel.cells import write_cell

if TYPE_CHECKING:
    from tasks.excel.layout import ColumnSpec

FONT = "Times New Roman"
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REF_FILL = PatternFill("solid", fgColor="EDEDED")  # reference cells the unit does not fill
PREFILL_FILL = PatternFill("solid", fgColor="FFF9E5")  # prefilled cells the unit may change
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
UNLOCKED = Protection(locked=False)
LOCKED = Protection(locked=True)


def amount_number_format(money_unit: str) -> str:
    """The number format of an amount typed in ``money_unit`` (whole đồng, or triệu/tỷ with decimals)."""
    # Shown with the reader's locale separators: 1.234,5 in a Vietnamese Excel.
    return "#,##0" if money_unit == "dong" else "#,##0.###"


def style_header(cell: Any) -> None:
    cell.font = Font(name=FONT, size=11, bold=True)
    cell.alignment = CENTER
    cell.fill = HEADER_FILL
    cell.border = BORDER
    cell.protection = LOCKED


def style_data(cell: Any, *, number_format: str | None = None, center: bool = False) -> None:
    cell.font = Font(name=FONT, size=11)
    cell.alignment = CENTER if center else WRAP_TOP
    cell.border = BORDER
    cell.protection = UNLOCKED
    if number_format:
        cell.number_format = number_format


def fit_row(ws: Worksheet, row: int, cells: list[tuple[Any, float]], line_height: float = 15.0) -> None:
    """Set a row's height for wrapped text we write ourselves: spreadsheet programs do not re-measure
    rows of a generated file, so long prefilled texts would otherwise overlap the next row."""
    # Times New Roman fits about 1.2 characters per unit of column width.
    lines = max(
        (math.ceil(len(str(text)) / max(width * 1.2 - 2, 1)) for text, width in cells if text), default=1
    )
    if lines > 1:
        ws.row_dimensions[row].height = round(lines * line_height + 3, 1)


def title_row(ws: Worksheet, row: int, width: int, text: str, size: int) -> None:
    """A title centred across the table ("center across selection"): looks merged, costs no merge,
    and merged ranges are slow for openpyxl to read back."""
    for index in range(1, width + 1):
        cell = write_cell(ws, row, index, text if index == 1 else None)
        cell.font = Font(name=FONT, size=size, bold=True)
        cell.alignment = Alignment(horizontal="centerContinuous", vertical="center")


def header_row(ws: Worksheet, row: int, columns: Iterable[ColumnSpec], height: float) -> None:
    """The columns' headers on ``row`` (``height`` points high), each column set to its width."""
    for column in columns:
        style_header(write_cell(ws, row, column.index, column.header))
        ws.column_dimensions[column.letter].width = column.width
    ws.row_dimensions[row].height = height


def note_row(ws: Worksheet, row: int, text: str) -> None:
    """An italic note in the first column of ``row``, e.g. where a table has nothing to list."""
    write_cell(ws, row, 1, text).font = Font(name=FONT, italic=True)


def protect_sheet(ws: Worksheet) -> None:
    """Lock headers against accidental edits; data cells stay editable (this is not security: the
    signed metadata is)."""
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.formatCells = False
    ws.protection.insertRows = False
    ws.protection.deleteRows = False
    ws.protection.sort = False
    ws.protection.autoFilter = False


def _validation(title: str, prompt: str, error_title: str, **rule: str | bool) -> DataValidation:
    """A data validation with its input prompt, and the same text as its error message."""
    return DataValidation(
        **rule,
        allow_blank=True,
        promptTitle=title,
        prompt=prompt,
        showInputMessage=True,
        errorTitle=error_title,
        error=prompt,
        showErrorMessage=True,
    )


def list_validation(formula: str, title: str, prompt: str, error_title: str) -> DataValidation:
    """A drop-down of the values in ``formula`` (a range of the hidden list sheet)."""
    # showDropDown=False shows the in-cell arrow (the attribute's meaning is inverted).
    return _validation(title, prompt, error_title, type="list", formula1=formula, showDropDown=False)


def whole_number_validation(low: int, high: int, title: str, prompt: str, error_title: str) -> DataValidation:
    """A whole number from ``low`` to ``high`` (a year, a percentage); ``prompt`` is also the error."""
    return _validation(
        title, prompt, error_title, type="whole", operator="between", formula1=str(low), formula2=str(high)
    )


def print_on_a4(ws: Worksheet, orientation: str, *, fit_to_width: bool = True) -> None:
    """Print on A4 in ``orientation``; with ``fit_to_width`` one page wide, as many pages long as needed."""
    ws.page_setup.orientation = orientation
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    if fit_to_width:
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True


def sheet_ref(name: str) -> str:
    """A sheet name as a formula quotes it (``'Danh mục'``), for ranges of another sheet."""
    return "'" + name.replace("'", "''") + "'"


def instructions_sheet(wb: Workbook, title: str) -> Worksheet:
    """The workbook's first sheet, renamed ``title``, laid out for one column of instruction lines."""
    ws = wb.active
    assert ws is not None
    ws.title = title
    ws.sheet_view.showGridLines = False
    ws.column_dimensions["A"].width = 4
    ws.column_dimensions["B"].width = 110
    return ws


def instruction_line(
    ws: Worksheet,
    row: int,
    value: str | None,
    *,
    size: int,
    bold: bool,
    italic: bool | None = None,
    horizontal: str | None = None,
) -> None:
    """One wrapped line of an instructions sheet, its row as high as the text needs."""
    cell = write_cell(ws, row, 2, value)
    cell.font = Font(name=FONT, size=size, bold=bold, italic=italic)
    cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal=horizontal)
    fit_row(ws, row, [(cell.value, 110)], line_height=size * 1.35)


def money_line(ws: Worksheet, row: int, column: int, text: str) -> None:
    """The "amounts in …" line, right-aligned in ``column``: it spills left over the empty cells, no merge."""
    money = write_cell(ws, row, column, text)
    money.font = Font(name=FONT, size=11, italic=True)
    money.alignment = Alignment(horizontal="right")


def add_status_validations(
    ws: Worksheet,
    statuses_ref: str,
    prompts: dict[str, str],
    *,
    status_letter: str,
    percent_letter: str,
    first_row: int,
    last_row: int,
) -> None:
    """The status drop-down (values at ``statuses_ref``) and the 0–100 percent check over the data rows."""
    status_dv = list_validation(
        statuses_ref, prompts["status_title"], prompts["status"], prompts["error_title"]
    )
    status_dv.add(f"{status_letter}{first_row}:{status_letter}{last_row}")
    percent_dv = whole_number_validation(
        0, 100, prompts["percent_title"], prompts["percent"], prompts["error_title"]
    )
    percent_dv.add(f"{percent_letter}{first_row}:{percent_letter}{last_row}")
    ws.add_data_validation(status_dv)
    ws.add_data_validation(percent_dv)
