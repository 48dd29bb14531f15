"""The hostile-input corpus: attack files written at test time from a valid, signed unit workbook.

One function per class of attack; each takes the valid workbook (bytes) and its context and returns the
file name and the content to submit. `write_corpus` writes every class into a folder (``<class>.xlsx``),
which is what the tests submit through the real intake path. Portal-only files are ``portal_*`` (h16a).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from tasks.submissions.workbook import ITEMS_DATA_START_ROW, WorkbookContext, item_columns, workbook_texts

Build = Callable[[bytes, WorkbookContext], bytes]

ROW = ITEMS_DATA_START_ROW + 2  # the first new item row of `tests.submissions.conftest.filled_workbook`
FORMULA_NAME = '=HYPERLINK("http://attacker.invalid/","Bấm vào đây")'
MARKDOWN_NAME = "![x](http://attacker.invalid/p.png) | [a](javascript:alert(1)) <img src=x>"
ZERO_WIDTH_NAME = "Phần\u200b mềm\u200d quản\u2060 lý\ufeff văn bản"
BIDI_NAME = "Hệ thống \u202eosla.exe\u202c \u2066báo cáo\u2069 \u200fthống kê"


def _letter(context: WorkbookContext, key: str) -> str:
    return next(c.letter for c in item_columns(context) if key in (c.key, f"amount:{c.source_code}"))


def cells(values: dict[str, Any], row: int = ROW) -> Build:
    """Set cells of the items sheet (by column key) of the valid workbook; text stays text."""

    def build(valid: bytes, context: WorkbookContext) -> bytes:
        wb = load_workbook(io.BytesIO(valid))
        ws = wb[workbook_texts()["sheets"]["items"]]
        for key, value in values.items():
            cell = ws[f"{_letter(context, key)}{row}"]
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # what an officer gets by typing '=… or pasting text
        ws[f"{_letter(context, 'total')}{row}"] = None
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    return build


def both(*builds: Build) -> Build:
    def build(valid: bytes, context: WorkbookContext) -> bytes:
        for step in builds:
            valid = step(valid, context)
        return valid

    return build


def _rewrite(valid: bytes, change: Callable[[str, bytes], bytes | None], extra: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(valid)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = change(info.filename, source.read(info.filename))
            if data is not None:
                target.writestr(info.filename, data)
        for name, data in extra.items():
            target.writestr(name, data)
    return out.getvalue()


def zip_bomb(valid: bytes, context: WorkbookContext) -> bytes:
    """A valid workbook plus a member that inflates a thousandfold (40 MB of zeros)."""
    return _rewrite(valid, lambda _name, data: data, {"xl/media/image1.png": b"\0" * (40 * 1024 * 1024)})


def billion_laughs(valid: bytes, context: WorkbookContext) -> bytes:
    """Nested XML entities in the document properties: a billion "lol"s if a parser expanded them."""
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
    )

    def change(name: str, data: bytes) -> bytes:
        if name != "docProps/core.xml":
            return data
        text = data.decode("utf-8")
        declaration = re.match(r"<\?xml[^>]*\?>", text)
        at = declaration.end() if declaration else 0
        text = f"{text[:at]}<!DOCTYPE cp:coreProperties [{entities}]>{text[at:]}"
        return text.replace(
            "</cp:coreProperties>", "<dc:description>&lol9;</dc:description></cp:coreProperties>"
        ).encode()

    return _rewrite(valid, change, {})


@dataclass(frozen=True)
class Attack:
    """One class of hostile input: how to build it, under which file name it is submitted, and what the
    intake must answer (``refused`` with the issue ``key`` and words ``says`` in its message, or accepted
    with the item name stored as ``stored_name``)."""

    name: str
    build: Build
    refused: bool
    key: str | None = None
    says: str | None = None
    stored_name: str | None = None
    filename: str | None = None


ATTACKS: list[Attack] = [
    Attack("formula_name", cells({"name": FORMULA_NAME}), refused=False, stored_name=FORMULA_NAME),
    Attack(
        "amount_1e30", cells({"amount:NSDP": 1e30}), refused=True, key="amount_looks_in_dong", says="đồng"
    ),
    Attack(
        "amount_dong_in_trieu",
        cells({"amount:NSDP": 922183000}),
        refused=True,
        key="amount_looks_in_dong",
        says="922.183 tỷ đồng",
    ),
    Attack(
        "amount_too_large_dong",
        cells({"amount:NSDP": "9.000.000.000.000 triệu"}),
        refused=True,
        key="amount_looks_in_dong",
        says="tỷ đồng",
    ),
    Attack("amount_negative", cells({"amount:NSDP": -5}), refused=True, key="amount_invalid", says="âm"),
    Attack("amount_nan", cells({"amount:NSDP": "NaN"}), refused=True, key="amount_invalid", says="NaN"),
    Attack("amount_inf", cells({"amount:NSDP": "inf"}), refused=True, key="amount_invalid", says="inf"),
    Attack(
        "year_as_date_text",
        cells({"start_year": "01/01/2027"}),
        refused=True,
        key="year_not_integer",
        says="01/01/2027",
    ),
    Attack("huge_string", cells({"name": "Dự án " * 40_000}), refused=True, key="too_long", says="32767"),
    Attack(
        "zero_width_name",
        cells({"name": ZERO_WIDTH_NAME}),
        refused=False,
        stored_name="Phần mềm quản lý văn bản",
    ),
    Attack(
        "zero_width_duplicate",
        both(
            cells({"name": "Phần mềm quản lý văn bản"}),
            cells({"name": "Phần mềm\u200b quản lý văn\u200c bản"}, row=ROW + 1),
        ),
        refused=True,
        key="duplicate_name",
        says=str(ROW),
    ),
    Attack(
        "bidi_name",
        cells({"name": BIDI_NAME}),
        refused=False,
        stored_name="Hệ thống osla.exe báo cáo thống kê",
    ),
    Attack("markdown_name", cells({"name": MARKDOWN_NAME}), refused=False, stored_name=MARKDOWN_NAME),
    Attack("zip_bomb", zip_bomb, refused=True, key="file_zip_bomb"),
    Attack("xml_entities", billion_laughs, refused=True, key="file_xml_doctype", says="DOCTYPE"),
    Attack(
        "path_tricks",
        lambda valid, _context: valid,
        refused=False,
        filename="..\\..\\..\\CON .. \u202eslx.exe.xlsx",
        stored_name=None,
    ),
]


def write_attack(folder: Path, attack: Attack, valid: bytes, context: WorkbookContext) -> Path:
    """The file of one attack in ``folder`` (its own file name, or ``<class>.xlsx``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (attack.filename or f"{attack.name}.xlsx")
    path.write_bytes(attack.build(valid, context))
    return path


def write_corpus(folder: Path, valid: bytes, context: WorkbookContext) -> dict[str, Path]:
    """Every attack of `ATTACKS` as a file in ``folder``."""
    return {attack.name: write_attack(folder, attack, valid, context) for attack in ATTACKS}
