"""Unit registry import: real files, real database, all or nothing, names matched across real spellings."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import Session, func, select

from models import AuditEntry, Contact, Unit, UnitAlias
from models.registry import current_successor, find_unit_by_name, get_unit_by_code
from tasks.registry.directory import RegistryImportError, import_registry

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"
UNITS_HEADER = (
    "ma_dinh_danh,ten,ten_viet_tat,loai,don_vi_cap_tren,hieu_luc_tu,hieu_luc_den,don_vi_ke_thua,ten_goi_khac"
)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_registry_imports_and_reimport_changes_nothing(session: Session) -> None:
    paths = [DEMO / "units.csv", DEMO / "contacts.csv"]
    first = import_registry(session=session, paths=paths)
    session.commit()
    units, contacts = _count(session, Unit), _count(session, Contact)
    assert first.units_created == units == 26
    assert first.contacts_created == contacts == 44

    again = import_registry(session=session, paths=paths)
    session.commit()
    assert (again.units_created, again.units_updated, again.units_unchanged) == (0, 0, 26)
    assert (again.contacts_created, again.contacts_updated, again.contacts_unchanged) == (0, 0, 44)
    assert (_count(session, Unit), _count(session, Contact)) == (units, contacts)

    # merger successors: the old DIC now lives on in the Department of Science and Technology
    stttt = get_unit_by_code(session=session, code="STTTT")
    assert stttt is not None and current_successor(session=session, unit=stttt).code == "SKHCN"
    assert (
        get_unit_by_code(session=session, code="TTCNTT").parent_id
        == get_unit_by_code(  # type: ignore[union-attr]
            session=session, code="SKHCN"
        ).id
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("VP.UBND tỉnh", "VPUBND"),
        ("Văn phòng UBND tỉnh", "VPUBND"),
        ("văn phòng  ủy ban nhân dân TỈNH", "VPUBND"),
        ("Ban quản lý khu kinh tế tỉnh", "BQLKKT"),
        ("Sở LĐ- TB&XH", "SLDTBXH"),
        ("Sở Lao động-Thương binh và Xã hội", "SLDTBXH"),
        ("Sở KH &ĐT", "SKHDT"),
        ("Sở KH&ĐT", "SKHDT"),
        ("Trung tâm CNTT &TT", "TTCNTT"),
        ("Sở Y tế tỉnh Gia Lai", "SYT"),
        (unicodedata.normalize("NFD", "Sở Văn hóa, Thể thao và Du lịch"), "SVHTTDL"),
    ],
)
def test_real_world_spellings_find_the_unit(session: Session, written: str, code: str) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])
    session.commit()
    unit = find_unit_by_name(session=session, name=written)
    assert unit is not None, written
    assert unit.code == code


def test_names_are_stored_nfc(session: Session, tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Sở Tư pháp")
    path = _csv(tmp_path, "u.csv", f"{UNITS_HEADER}\nSTP,{decomposed},,,,,,,\n")
    import_registry(session=session, paths=[path])
    unit = get_unit_by_code(session=session, code="STP")
    assert unit is not None and unit.name == unicodedata.normalize("NFC", "Sở Tư pháp")


def test_reimport_updates_in_place(session: Session, tmp_path: Path) -> None:
    import_registry(session=session, paths=[_csv(tmp_path, "a.csv", f"{UNITS_HEADER}\nSYT,Sở Y tế,,,,,,,\n")])
    session.commit()
    result = import_registry(
        session=session,
        paths=[_csv(tmp_path, "b.csv", f"{UNITS_HEADER}\nSYT,Sở Y tế tỉnh Gia Lai,SYT,,,,,,Sở Y tế GL\n")],
    )
    session.commit()
    assert (result.units_created, result.units_updated) == (0, 1)
    assert _count(session, Unit) == 1
    assert find_unit_by_name(session=session, name="Sở Y tế GL").code == "SYT"  # type: ignore[union-attr]


def test_workbook_with_two_sheets(session: Session, tmp_path: Path) -> None:
    workbook = Workbook()
    units = workbook.active
    units.title = "Đơn vị"
    units.append(["Mã định danh", "Tên", "Loại"])
    units.append(["SNV", "Sở Nội vụ", "Sở, ban, ngành"])
    contacts = workbook.create_sheet("Liên hệ")
    contacts.append(["Mã đơn vị", "Họ tên", "Vai trò", "Email", "Điện thoại", "Kênh"])
    contacts.append(["SNV", "Bùi Thị Hoa", "Thủ trưởng", "Hoa@Example.org", "0912 345 678", "email, zalo"])
    path = tmp_path / "danh-ba.xlsx"
    workbook.save(path)
    result = import_registry(session=session, paths=[path])
    assert (result.units_created, result.contacts_created) == (1, 1)
    contact = session.exec(select(Contact)).one()
    assert (contact.role, contact.email, contact.phone, contact.channels) == (
        "head",
        "hoa@example.org",
        "84912345678",
        ["email", "zalo"],
    )


def _assert_rejected(
    session: Session, paths: list[Path], expected: list[tuple[int | None, str | None, str]]
) -> None:
    before = (
        _count(session, Unit),
        _count(session, Contact),
        _count(session, UnitAlias),
        _count(session, AuditEntry),
    )
    with pytest.raises(RegistryImportError) as info:
        import_registry(session=session, paths=paths)
    session.rollback()
    found = [(i.row, i.column, i.key) for i in info.value.issues]
    for item in expected:
        assert item in found, (item, found)
    for issue in info.value.issues:  # every message renders in both languages
        assert issue.message("vi") and issue.message("en")
    after = (
        _count(session, Unit),
        _count(session, Contact),
        _count(session, UnitAlias),
        _count(session, AuditEntry),
    )
    assert after == before, "nothing from a rejected file may be written"


def test_unknown_column_rejected(session: Session, tmp_path: Path) -> None:
    path = _csv(tmp_path, "u.csv", "ma_dinh_danh,ten,ngan_sach\nA,Sở A,5\n")
    _assert_rejected(session, [path], [(1, "ngan_sach", "unknown_column")])


def test_missing_code_and_duplicate_code(session: Session, tmp_path: Path) -> None:
    path = _csv(tmp_path, "u.csv", f"{UNITS_HEADER}\nA,Sở A,,,,,,,\n,Sở B,,,,,,,\nA,Sở C,,,,,,,\n")
    _assert_rejected(
        session, [path], [(3, "ma_dinh_danh", "required"), (4, "ma_dinh_danh", "duplicate_code")]
    )


def test_invalid_email_names_row_and_field(session: Session, tmp_path: Path) -> None:
    units = _csv(tmp_path, "u.csv", f"{UNITS_HEADER}\nA,Sở A,,,,,,,\n")
    contacts = _csv(
        tmp_path, "c.csv", "ma_don_vi,ho_ten,email\nA,Người Một,mot@example.org\nA,Người Hai,hai@@x\n"
    )
    _assert_rejected(session, [units, contacts], [(3, "email", "bad_email")])


def test_merger_loop_rejected(session: Session, tmp_path: Path) -> None:
    path = _csv(tmp_path, "u.csv", f"{UNITS_HEADER}\nA,Sở A,,,,,,B,\nB,Sở B,,,,,,A,\nC,Sở C,,,,,,,\n")
    _assert_rejected(session, [path], [(2, "don_vi_ke_thua", "merger_loop")])


def test_merger_loop_through_existing_registry_rejected(session: Session, tmp_path: Path) -> None:
    import_registry(
        session=session, paths=[_csv(tmp_path, "a.csv", f"{UNITS_HEADER}\nA,Sở A,,,,,,B,\nB,Sở B,,,,,,,\n")]
    )
    session.commit()
    _assert_rejected(session, [_csv(tmp_path, "b.csv", f"{UNITS_HEADER}\nB,Sở B,,,,,,A,\n")],
                     [(2, "don_vi_ke_thua", "merger_loop")])  # fmt: skip


def test_alias_owned_by_another_unit_rejected(session: Session, tmp_path: Path) -> None:
    path = _csv(
        tmp_path, "u.csv", f"{UNITS_HEADER}\nA,Văn phòng UBND tỉnh,,,,,,,\nB,Sở B,,,,,,,VP.UBND tỉnh\n"
    )
    _assert_rejected(session, [path], [(3, "ten_goi_khac", "alias_conflict")])


def test_one_bad_row_keeps_the_whole_file_out(session: Session, tmp_path: Path) -> None:
    good_then_bad = f"{UNITS_HEADER}\nA,Sở A,,,,,,,\nB,Sở B,,khong_ro,,,,,\nC,Sở C,,,,32/13/2025,,,\n"
    _assert_rejected(
        session,
        [_csv(tmp_path, "u.csv", good_then_bad)],
        [(3, "loai", "bad_kind"), (4, "hieu_luc_tu", "bad_date")],
    )
