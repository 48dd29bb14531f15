"""Reading the registry files: which table is units and which is contacts, and every non-empty row with
its values by field, as the person wrote them (file, row number, header) so that a problem can be shown
where it is. Checking and writing the rows is ``tasks.registry.directory``'s work."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.base import nfc
from models.registry import unit_name_key
from templates import error_text

# Accepted headers (after normalisation: no diacritics, lower case, spaces → _) → field name.
UNIT_COLUMNS: dict[str, str] = {
    "ma_dinh_danh": "code", "code": "code",
    "ten": "name", "ten_don_vi": "name", "name": "name",
    "ten_viet_tat": "short_name", "short_name": "short_name",
    "loai": "kind", "loai_don_vi": "kind", "kind": "kind",
    "don_vi_cap_tren": "parent", "ma_don_vi_cap_tren": "parent", "parent": "parent",
    "hieu_luc_tu": "valid_from", "valid_from": "valid_from",
    "hieu_luc_den": "valid_to", "valid_to": "valid_to",
    "don_vi_ke_thua": "successor", "ma_don_vi_ke_thua": "successor", "successor": "successor",
    "ten_goi_khac": "aliases", "aliases": "aliases",
    "ma_dvhc": "admin_code", "ma_don_vi_hanh_chinh": "admin_code", "admin_code": "admin_code",
    "ma_dinh_danh_dien_tu": "eid_code", "eid_code": "eid_code",
}  # fmt: skip
CONTACT_COLUMNS: dict[str, str] = {
    "ma_don_vi": "unit", "unit": "unit",
    "ho_ten": "full_name", "ho_va_ten": "full_name", "full_name": "full_name",
    "chuc_vu": "position", "position": "position",
    "vai_tro": "role", "role": "role",
    "email": "email", "thu_dien_tu": "email",
    "zalo_user_id": "zalo_user_id", "zalo": "zalo_user_id",
    "dien_thoai": "phone", "so_dien_thoai": "phone", "phone": "phone",
    "kenh": "channels", "kenh_nhan_tin": "channels", "channels": "channels",
    "ngon_ngu": "locale", "locale": "locale",
    "hoat_dong": "active", "active": "active",
}  # fmt: skip
UNIT_REQUIRED = ("code", "name")
CONTACT_REQUIRED = ("unit", "full_name")


@dataclass
class RegistryIssue:
    file: str
    row: int | None
    column: str | None
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def message(self, locale: str = "vi") -> str:
        return error_text(
            "registry", self.key, locale, file=self.file, row=self.row, column=self.column, **self.values
        )


@dataclass
class RegistryRow:
    file: str
    number: int  # row number as the person sees it in the file (header is row 1)
    values: dict[str, Any]
    headers: dict[str, str]  # field → header as written

    def issue(self, column: str | None, key: str, **values: Any) -> RegistryIssue:
        """A problem of this row, in ``column`` (a header as written, or None for the whole row)."""
        return RegistryIssue(self.file, self.number, column, key, values)


def word_key(text: str) -> str:
    """A header or a word of a cell as the maps above know it: ``"Mã định danh"`` → ``"ma_dinh_danh"``."""
    return unit_name_key(str(text)).replace(" ", "_")


def read_tables(path: Path) -> list[tuple[str, list[str], list[tuple[int, list[Any]]]]]:
    """(table name, headers, [(row number, cells)]) for each sheet of a workbook or the one CSV table."""
    if path.suffix.lower() == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return []
        return [(path.name, rows[0], [(i + 2, r) for i, r in enumerate(rows[1:])])]
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    tables = []
    for sheet in workbook.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        if not rows or not any(cell not in (None, "") for cell in rows[0]):
            continue
        headers = ["" if cell is None else str(cell) for cell in rows[0]]
        tables.append(
            (f"{path.name} / {sheet.title}", headers, [(i + 2, list(r)) for i, r in enumerate(rows[1:])])
        )
    workbook.close()
    return tables


def collect_rows(
    paths: Iterable[Path], issues: list[RegistryIssue]
) -> tuple[list[RegistryRow], list[RegistryRow]]:
    """The unit rows and the contact rows of every file; unreadable files, unknown layouts, unknown and
    missing columns are added to ``issues``."""
    unit_rows: list[RegistryRow] = []
    contact_rows: list[RegistryRow] = []
    for path in paths:
        try:
            tables = read_tables(path)
        except Exception as exc:  # a corrupt or non-spreadsheet file
            issues.append(RegistryIssue(path.name, None, None, "unreadable", {"reason": type(exc).__name__}))
            continue
        for name, headers, rows in tables:
            keys = [word_key(h) for h in headers]
            if "ma_dinh_danh" in keys or "code" in keys:
                columns, required, target = UNIT_COLUMNS, UNIT_REQUIRED, unit_rows
            elif ("ma_don_vi" in keys or "unit" in keys) and (
                "ho_ten" in keys or "full_name" in keys or "ho_va_ten" in keys
            ):
                columns, required, target = CONTACT_COLUMNS, CONTACT_REQUIRED, contact_rows
            else:
                issues.append(RegistryIssue(name, 1, None, "unknown_layout"))
                continue
            mapping: dict[int, str] = {}
            header_of: dict[str, str] = {}
            for index, (header, key) in enumerate(zip(headers, keys, strict=True)):
                if not key:
                    continue
                if key not in columns:
                    issues.append(RegistryIssue(name, 1, header, "unknown_column"))
                    continue
                mapping[index] = columns[key]
                header_of[columns[key]] = header
            for needed in required:
                if needed not in header_of:
                    issues.append(RegistryIssue(name, 1, needed, "missing_column"))
            for number, cells in rows:
                values = {}
                for index, fname in mapping.items():
                    cell = cells[index] if index < len(cells) else None
                    if isinstance(cell, str):
                        cell = nfc(cell) or None
                    values[fname] = cell
                if all(v in (None, "") for v in values.values()):
                    continue
                target.append(RegistryRow(name, number, values, header_of))
    return unit_rows, contact_rows
