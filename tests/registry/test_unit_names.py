"""Unit names as real plans write them, resolved against the registry (tasks/registry/names.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from models.registry import get_unit_by_code
from tasks.registry.directory import import_registry
from tasks.registry.names import resolve_unit_name

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"
HEADER = (
    "ma_dinh_danh,ten,ten_viet_tat,loai,don_vi_cap_tren,hieu_luc_tu,hieu_luc_den,don_vi_ke_thua,ten_goi_khac"
)


@pytest.fixture
def registry(session: Session, tmp_path: Path) -> Session:
    extra = tmp_path / "extra.csv"
    extra.write_text(
        HEADER
        + "\nBCHQS,Bộ Chỉ huy Quân sự tỉnh,,khac,,,,,"
        + '\nCAC-SO,"Các sở, ban, ngành",,tap_the,,,,,Các Sở ngành'
        + '\nUBND-CAC-XA,"UBND các xã, phường",,tap_the,,01/07/2025,,,\n',
        encoding="utf-8",
    )
    import_registry(session=session, paths=[DEMO / "units.csv", DEMO / "contacts.csv", extra])
    session.commit()
    return session


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Sở LĐTBXH", "SLDTBXH"),  # no separators: only the abbreviation table knows it
        ("Sở KH&ĐT", "SKHDT"),
        ("Bộ CHQS tỉnh", "BCHQS"),
        ("Trung tâm CNTT&TT", "TTCNTT"),
        ("Trung tâm CNTT & TT", "TTCNTT"),
        ("Sở VHTTDL", "SVHTTDL"),
        ("Sở Y tế tỉnh Gia Lai", "SYT"),
        ("BCHQS tỉnh Gia Lai", "BCHQS"),
        ("Các sở, ban, ngành", "CAC-SO"),
    ],
)
def test_written_names_resolve(registry: Session, written: str, code: str) -> None:
    match = resolve_unit_name(session=registry, text=written, on=date(2020, 10, 1))
    assert match.found, match.suggestions
    assert match.unit.code == code  # type: ignore[union-attr]


def test_a_merged_unit_resolves_to_its_successor_after_the_merger(registry: Session) -> None:
    before = resolve_unit_name(session=registry, text="Sở TTTT", on=date(2024, 5, 1))
    after = resolve_unit_name(session=registry, text="Sở TTTT", on=date(2025, 5, 1))
    assert before.unit.code == "STTTT"  # type: ignore[union-attr]
    assert after.unit.code == "SKHCN" and after.named.code == "STTTT"  # type: ignore[union-attr]


def test_unknown_name_suggests_the_closest_registry_names(registry: Session) -> None:
    match = resolve_unit_name(session=registry, text="Sở Tài chánh", on=date(2020, 10, 1))
    assert not match.found
    assert match.suggestions[0] == "Sở Tài chính"
    assert get_unit_by_code(session=registry, code="STC") is not None


def test_collective_leads_are_not_asked_to_submit(registry: Session) -> None:
    from tasks.submissions.cycles import CycleSpec, select_units

    spec = CycleSpec(year=2026, submission_deadline=date(2025, 10, 1))
    codes = {u.code for u in select_units(session=registry, spec=spec, on=date(2025, 9, 1))}
    assert "SYT" in codes and "CAC-SO" not in codes and "UBND-CAC-XA" not in codes


def test_a_unit_not_yet_created_on_the_date_is_found_but_not_valid(registry: Session) -> None:
    match = resolve_unit_name(session=registry, text="UBND xã Ia Grai", on=date(2020, 10, 1))
    assert match.unit.code == "UBND-XIAGRAI" and match.valid is False  # type: ignore[union-attr]
    assert resolve_unit_name(session=registry, text="UBND xã Ia Grai", on=date(2025, 10, 1)).valid
