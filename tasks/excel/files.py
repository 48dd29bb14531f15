"""The .xlsx file itself: refused before openpyxl opens it when it is not a reasonable workbook (too big,
not an xlsx, a zip bomb, macros), then streamed without links within the sheet limits (`tasks.excel.stream`);
and a generated one saved with its structure locked."""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import threading
import zipfile
from collections import OrderedDict
from xml.etree import ElementTree

from openpyxl import Workbook
from openpyxl.workbook.protection import WorkbookProtection

from tasks.excel.issues import ValidationIssue, make_issue
from tasks.excel.stream import (
    MAX_SHARED_STRINGS_BYTES,
    MAX_WORKBOOK_CELLS,
    SheetTooLarge,
    StreamedWorkbook,
)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # all zip members together, as declared in the directory
MAX_MEMBER_RATIO = 100  # uncompressed / compressed for one member larger than 1 MB
MAX_ZIP_MEMBERS = 1000
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected Office file
XLSX_MAIN_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


_recent_checks: OrderedDict[bytes, tuple[ValidationIssue, ...]] = OrderedDict()  # by SHA-256
_recent_lock = threading.Lock()


def check_file(content: bytes) -> list[ValidationIssue]:
    """Refuse anything that is not a reasonable .xlsx before openpyxl opens it: size, signature, the
    zip directory (declared sizes and ratios, which zipfile enforces when reading) and content types.

    An upload is checked more than once on its way (what kind of workbook it is, then its intake): the
    answers for the last few files are kept, by the digest of their content."""
    digest = hashlib.sha256(content).digest()
    with _recent_lock:
        if digest in _recent_checks:
            _recent_checks.move_to_end(digest)
            return [issue.model_copy() for issue in _recent_checks[digest]]
    issues = _check_file(content)
    with _recent_lock:
        _recent_checks[digest] = tuple(issue.model_copy() for issue in issues)
        while len(_recent_checks) > 4:
            _recent_checks.popitem(last=False)
    return issues


def _check_file(content: bytes) -> list[ValidationIssue]:
    if not content:
        return [make_issue("file_empty")]
    if len(content) > MAX_UPLOAD_BYTES:
        return [
            make_issue(
                "file_too_large",
                size_mb=f"{len(content) / 1024 / 1024:.1f}".replace(".", ","),
                limit_mb=MAX_UPLOAD_BYTES // 1024 // 1024,
            )
        ]
    if content.startswith(OLE2_SIGNATURE):
        return [make_issue("file_is_xls")]
    if not content.startswith(b"PK\x03\x04"):
        return [make_issue("file_not_xlsx")]
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return [make_issue("file_not_xlsx")]
    with archive:
        if len(members) > MAX_ZIP_MEMBERS:
            return [make_issue("file_zip_bomb", reason=f"{len(members)} members")]
        declared = sum(m.file_size for m in members)
        if declared > MAX_UNCOMPRESSED_BYTES:
            return [make_issue("file_zip_bomb", reason=f"{declared} bytes uncompressed")]
        for member in members:
            if member.file_size > 1024 * 1024 and member.file_size > MAX_MEMBER_RATIO * max(
                member.compress_size, 1
            ):
                return [make_issue("file_zip_bomb", reason=f"ratio of {member.filename}")]
        strings = next((m for m in members if m.filename == "xl/sharedStrings.xml"), None)
        if strings is not None and strings.file_size > MAX_SHARED_STRINGS_BYTES:
            return [make_issue("workbook_too_many_cells", limit=f"{MAX_WORKBOOK_CELLS:,}")]
        names = {m.filename for m in members}
        try:
            if "mimetype" in names and b"opendocument" in archive.read("mimetype")[:200]:
                return [make_issue("file_is_ods")]
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                return [make_issue("file_not_xlsx")]
            content_types = archive.read("[Content_Types].xml")
            if any(_declares_entities(archive, m) for m in members):
                return [make_issue("file_xml_doctype")]
        except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError):
            return [make_issue("file_not_xlsx")]
    if b"macroEnabled" in content_types:
        return [make_issue("file_macro_enabled")]
    if XLSX_MAIN_TYPE not in content_types:
        return [make_issue("file_not_xlsx")]
    return []


def _declares_entities(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Whether an XML part opens with a DOCTYPE (entity declarations: "billion laughs", external
    entities). Excel never writes one; the prolog is read, not the whole part."""
    if not member.filename.endswith((".xml", ".rels", ".vml")):
        return False
    with archive.open(member) as handle:
        head = handle.read(4096)
    return b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper()


def sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the worksheet named ``sheet`` (``xl/worksheets/sheet3.xml``), read from the
    workbook part and its relationships only (two small parts, no sheet parsed); None when the workbook has
    no sheet of that name. Raises ``KeyError`` or ``ElementTree.ParseError`` when those parts cannot be
    read (a caller that only wants to skip work falls back to looking everywhere). For an already checked
    .xlsx (`check_file`: no DOCTYPE). Names are matched without their namespace: transitional and strict
    OOXML both."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    relation = None
    for element in workbook.iter():
        if _local(element.tag) == "sheet" and element.get("name") == sheet:
            relation = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
            break
    else:
        return None
    relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for element in relations.iter():
        if _local(element.tag) == "Relationship" and element.get("Id") == relation:
            target = element.get("Target") or ""
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    raise KeyError(f"relationship {relation} of sheet {sheet}")


def _local(name: str) -> str:
    return name.rpartition("}")[2]


_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s>/]")  # <f>, <f t="shared" …>, <x:f>; not <formula1>


def has_formulas(content: bytes) -> bool:
    """Whether any worksheet of an (already checked) .xlsx holds a formula element."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return any(
            _FORMULA_ELEMENT.search(archive.read(name))
            for name in archive.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        )


def open_checked(content: bytes) -> tuple[StreamedWorkbook | None, list[ValidationIssue]]:
    """The workbook's cached values, streamed (`StreamedWorkbook`), after `check_file` and within the
    sheet limits; or the file-level issue that stops everything."""
    issues = check_file(content)
    if issues:
        return None, issues
    try:
        return StreamedWorkbook(content), []
    except SheetTooLarge as refused:
        return None, [refused.issue]
    except Exception as exc:  # openpyxl and the XML parser raise many kinds on a damaged file
        return None, [make_issue("file_unreadable", reason=f"{type(exc).__name__}: {exc}")]


def finish_workbook(wb: Workbook, active_title: str) -> bytes:
    """Open on ``active_title``, lock the structure (no sheet added, renamed or removed), and save."""
    wb.active = wb.sheetnames.index(active_title)
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = sheet.title == active_title
    wb.security = WorkbookProtection(lockStructure=True)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
