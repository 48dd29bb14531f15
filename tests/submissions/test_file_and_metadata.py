"""Files that are not the workbook issued to this unit for this year are refused with one clear message."""

from __future__ import annotations

import io
import zipfile

import pytest

from tasks.excel.files import MAX_UPLOAD_BYTES
from tasks.excel.metadata import META_SHEET
from tasks.submissions.validation import validate_workbook
from tasks.submissions.workbook import build_workbook
from tests.factories import make_cycle
from tests.submissions.conftest import ISSUED_AT, World, filled_workbook, open_book, save_book


def _only_error(content: bytes, world: World) -> tuple[str, str]:
    result = validate_workbook(content, context=world.context())
    assert result.submission is None
    assert len(result.errors) == 1, [e.message_en for e in result.errors]
    return result.errors[0].key, result.errors[0].message_vi


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _rewrite_member(content: bytes, name: str, transform) -> bytes:  # type: ignore[no-untyped-def]
    source = zipfile.ZipFile(io.BytesIO(content))
    return _zip(
        {
            info.filename: (transform(source.read(info)) if info.filename == name else source.read(info))
            for info in source.infolist()
        }
    )


def test_workbook_of_another_unit_is_refused(world: World) -> None:
    key, message = _only_error(filled_workbook(world, unit=world.other_unit), world)
    assert key == "meta_wrong_unit"
    assert "STC" in message and "Sở Y tế" in message


def test_workbook_of_another_year_is_refused(world: World) -> None:
    next_cycle = make_cycle(world.session, year=2028, money_unit="trieu", previous_cycle_id=world.cycle.id)
    content = build_workbook(world.context(cycle=next_cycle), issued_at=ISSUED_AT)
    key, message = _only_error(content, world)
    assert key == "meta_wrong_year"
    assert "năm 2028" in message and "2027" in message


def test_tampered_metadata_is_refused(world: World) -> None:
    def retarget(wb, context) -> None:  # type: ignore[no-untyped-def]
        meta = wb[META_SHEET]
        for row in meta.iter_rows():
            if row[0].value == "unit_code":
                row[1].value = "SYT2"  # another unit's code, signature left as it was

    key, message = _only_error(filled_workbook(world, mutate=retarget), world)
    assert key == "meta_tampered"
    assert "sửa đổi" in message


def test_old_template_version_is_refused(world: World) -> None:
    old = world.context().model_copy(update={"template_version": "0"})
    key, message = _only_error(build_workbook(old, issued_at=ISSUED_AT), world)
    assert key == "meta_old_version"
    assert "mẫu cũ" in message and "mẫu số 1" in message


def test_workbook_without_metadata_is_refused(world: World) -> None:
    wb = open_book(filled_workbook(world))
    wb.remove(wb[META_SHEET])
    key, message = _only_error(save_book(wb), world)
    assert key == "meta_missing"
    assert "biểu mẫu đã được gửi" in message


@pytest.mark.parametrize(
    ("content", "key"),
    [
        pytest.param(b"", "file_empty", id="empty"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096, "file_is_xls", id="xls"),
        pytest.param("STT;Tên nhiệm vụ\n1;Phần mềm\n".encode(), "file_not_xlsx", id="csv renamed"),
        pytest.param(b"%PDF-1.7\n", "file_not_xlsx", id="pdf renamed"),
        pytest.param(
            _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
            "file_is_ods",
            id="ods",
        ),
        pytest.param(
            _zip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<Types/>"}),
            "file_not_xlsx",
            id="docx-like zip",
        ),
        pytest.param(b"PK\x03\x04" + b"\x00" * 100, "file_not_xlsx", id="broken zip"),
        pytest.param(b"PK\x03\x04" + b"\x00" * (MAX_UPLOAD_BYTES + 1), "file_too_large", id="over 10 MB"),
        pytest.param(
            _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"\x00" * (30 * 1024 * 1024)}),
            "file_zip_bomb",
            id="zip bomb (ratio)",
        ),
        pytest.param(
            _zip({f"xl/{i}.xml": b"" for i in range(1200)}),
            "file_zip_bomb",
            id="zip bomb (members)",
        ),
    ],
)
def test_files_that_are_not_xlsx_are_refused(world: World, content: bytes, key: str) -> None:
    assert _only_error(content, world)[0] == key


def test_many_members_that_expand_beyond_the_limit_are_a_zip_bomb(world: World) -> None:
    members = {f"xl/part{i}.xml": b"\x00" * (900 * 1024) for i in range(120)}  # 105 MB, each below 1 MB
    assert _only_error(_zip(members), world)[0] == "file_zip_bomb"


def test_macro_enabled_and_damaged_workbooks_are_refused(world: World) -> None:
    valid = filled_workbook(world)
    macro = _rewrite_member(
        valid,
        "[Content_Types].xml",
        lambda xml: xml.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml"),
    )
    assert _only_error(macro, world)[0] == "file_macro_enabled"
    damaged = _rewrite_member(valid, "xl/workbook.xml", lambda xml: xml[: len(xml) // 2])
    assert _only_error(damaged, world)[0] == "file_unreadable"
