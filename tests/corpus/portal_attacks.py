"""Generated attack files for the portal (issue 16): valid workbooks made hostile by writing their sheet
XML directly, so even a file with hundreds of thousands of cells is made in a second at test time (nothing
big is committed). Files of this module are prefixed ``portal_``."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from openpyxl.utils import get_column_letter

_SHEET = re.compile(rb'<(?:\w+:)?sheet\b[^>]*\bname="([^"]+)"[^>]*\br:id="([^"]+)"')
_RELATION = re.compile(rb'<Relationship\b[^>]*\bId="([^"]+)"[^>]*\bTarget="([^"]+)"')
_RELATION_REVERSED = re.compile(rb'<Relationship\b[^>]*\bTarget="([^"]+)"[^>]*\bId="([^"]+)"')


def sheet_path(content: bytes, title: str) -> str:
    """The zip member holding the worksheet ``title``."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        workbook = archive.read("xl/workbook.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
    ids = {name.decode("utf-8"): rid for name, rid in _SHEET.findall(workbook)}
    targets = dict(_RELATION.findall(rels)) | {rid: t for t, rid in _RELATION_REVERSED.findall(rels)}
    target = targets[ids[title.replace("&", "&amp;")]].decode()
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def with_cells(
    content: bytes,
    title: str,
    *,
    first_row: int,
    rows: int,
    first_column: int,
    columns: int,
    value: str = "1",
) -> bytes:
    """``content`` with a block of numeric cells added to sheet ``title`` (rows after its own data)."""
    path = sheet_path(content, title)
    block = []
    for row in range(first_row, first_row + rows):
        cells = "".join(
            f'<c r="{get_column_letter(column)}{row}"><v>{value}</v></c>'
            for column in range(first_column, first_column + columns)
        )
        block.append(f'<row r="{row}">{cells}</row>')
    return _rewrite(content, path, "".join(block).encode())


def _rewrite(content: bytes, path: str, rows_xml: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == path:
                data = data.replace(b"</sheetData>", rows_xml + b"</sheetData>", 1)
                data = re.sub(rb"<dimension [^>]*/>", b"", data)  # let readers find the extent themselves
            target.writestr(member.filename, data)
    return out.getvalue()


def write(folder: Path, name: str, content: bytes) -> Path:
    """Keep a generated file under ``folder`` (a test's temporary folder) for inspection."""
    assert name.startswith("portal_")
    path = folder / name
    path.write_bytes(content)
    return path
