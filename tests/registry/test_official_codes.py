"""Official codes in the registry (administrative-unit code, Decision 19/2025/QĐ-TTg; agency e-ID code,
Decision 20/2020/QĐ-TTg): imported from the registry file, checked, never reused; and a merged unit's
history found under its successor (its unfinished items prefilled in the successor's workbook)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from models import PlanItem
from models.registry import get_unit_by_code, predecessor_ids
from tasks.registry.directory import RegistryImportError, import_registry
from tasks.submissions.workbook import load_workbook_context
from tests.factories import make_cycle

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"
HEADER = "ma_dinh_danh,ten,loai,hieu_luc_tu,hieu_luc_den,don_vi_ke_thua,ma_dvhc,ma_dinh_danh_dien_tu\n"


def _csv(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_codes_are_imported_checked_and_never_reused(session: Session, tmp_path: Path) -> None:
    first = _csv(
        tmp_path,
        "a.csv",
        "UBND-XA,UBND xã Ia Hrung,xa_phuong,01/07/2025,,,23764,000.00.31.H21\n"
        "UBND-PHUONG,UBND phường Hội Phú,xa_phuong,01/07/2025,,,23767,\n",
    )
    import_registry(session=session, paths=[first])
    session.commit()
    unit = get_unit_by_code(session=session, code="UBND-XA")
    assert unit is not None and (unit.admin_code, unit.eid_code) == ("23764", "000.00.31.H21")

    # Later the commune is merged away; its code stays its own, even after it ceases to exist.
    merged = _csv(
        tmp_path,
        "b.csv",
        "UBND-XA,UBND xã Ia Hrung,xa_phuong,01/07/2025,31/12/2026,UBND-PHUONG,23764,000.00.31.H21\n"
        "UBND-MOI,UBND xã Ia Hrung mới,xa_phuong,01/01/2027,,,23764,\n"
        "UBND-SAI,UBND xã Sai Mã,xa_phuong,01/01/2027,,,2376,000-00-31-H21\n",
    )
    with pytest.raises(RegistryImportError) as refused:
        import_registry(session=session, paths=[merged])
    messages = [issue.message("vi") for issue in refused.value.issues]
    assert messages == [
        "Dòng 3, cột «ma_dvhc»: mã «23764» đã thuộc đơn vị UBND-XA; mã đã cấp không được dùng lại cho đơn "
        "vị khác.",
        "Dòng 4, cột «ma_dvhc»: mã đơn vị hành chính «2376» không hợp lệ (2 chữ số cấp tỉnh, 5 chữ số cấp "
        "xã; QĐ 19/2025/QĐ-TTg).",
        "Dòng 4, cột «ma_dinh_danh_dien_tu»: mã định danh điện tử «000-00-31-H21» không hợp lệ (dạng "
        "000.00.00.H21; QĐ 20/2020/QĐ-TTg).",
    ]


def test_a_merged_units_items_are_found_under_its_successor(session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])  # STTTT → SKHCN from 01/03/2025
    stttt, skhcn = (
        get_unit_by_code(session=session, code="STTTT"),
        get_unit_by_code(session=session, code="SKHCN"),
    )
    assert stttt is not None and skhcn is not None
    assert set(predecessor_ids(session=session, unit=skhcn)) == {skhcn.id, stttt.id}
    previous = make_cycle(session, year=2025, money_unit="trieu")
    cycle = make_cycle(session, year=2026, money_unit="trieu", previous_cycle_id=previous.id)
    for position, (unit, name, status) in enumerate(
        [
            (stttt, "Nâng cấp nền tảng LGSP", "in_progress"),
            (skhcn, "Hệ thống quản lý đề tài khoa học", "not_started"),
            (stttt, "Hội thi tin học trẻ 2025", "completed"),
        ],
        start=1,
    ):
        session.add(
            PlanItem(cycle_id=previous.id, lead_unit_id=unit.id, name=name, status=status, position=position)  # type: ignore[arg-type]
        )
    session.commit()
    context = load_workbook_context(session=session, cycle=cycle, unit=skhcn)
    assert [p.name for p in context.carry_over_candidates] == [
        "Nâng cấp nền tảng LGSP",
        "Hệ thống quản lý đề tài khoa học",
    ]
