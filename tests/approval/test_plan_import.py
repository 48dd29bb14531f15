"""`plancycle plans import`: last year's published plan (the Gia Lai 2020 Annex 02, transcribed from the
reference plan into tests/approval/data) taken in as year 2020's issued plan, through the command line as
a coordinator runs it; then the 2021 cycle prefills each unit's unfinished 2020 items as carry-over and
its Annex 01 lists the 2020 items with their statuses. Refusals write nothing; the same file again changes
nothing; a different file is refused with its differences unless --replace."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, func, select

from models import AuditEntry, PlanItem, PlanItemAmount, PlanningCycle, PlanVersion
from models.cycle import get_cycle_by_year, list_funding_sources
from models.registry import get_unit_by_code
from plancycle.settings import PROJECT_ROOT
from tasks.approval.plan_import import PlanImportRefused, import_issued_plan, read_appendix
from tasks.consolidation.plan import build_plan
from tasks.registry.directory import import_registry
from tasks.submissions.cycles import CycleSpec, open_cycle_records
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, generate_unit_workbook
from tests.consolidation.test_plan_check import gialai_annex02

DATA = Path(__file__).resolve().parent / "data"
APPENDIX = DATA / "gialai-2020-phu-luc-02.csv"
STATUSES = DATA / "gialai-2020-tinh-hinh.csv"
DISTRICTS = DATA / "gialai-2020-huyen.csv"
DEMO = PROJECT_ROOT / "plancycle" / "demo"
MILLION = 1_000_000


def _plans(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANCYCLE_")}
    env.update({"PLANCYCLE_DATABASE_URL": db_url, "PLANCYCLE_DATA_DIR": str(tmp_path / "data")})
    return subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "plans", "import", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _carried_names(session: Session, cycle: PlanningCycle, unit_code: str) -> list[str]:
    """The names prefilled as carry-over in the unit's workbook, read from the file it is sent."""
    unit = get_unit_by_code(session=session, code=unit_code)
    assert unit is not None
    _name, data = generate_unit_workbook(session=session, cycle=cycle, unit=unit)
    ws = load_workbook(io.BytesIO(data)).worksheets[1]  # instructions, then the items sheet
    header = {ws.cell(row=5, column=c).value: c for c in range(1, ws.max_column + 1)}
    name_col = next(c for text, c in header.items() if text and str(text).startswith("Tên nhiệm vụ"))
    origin_col = next(
        c for text, c in header.items() if text and str(text).startswith("Dự án mới / chuyển tiếp")
    )
    names = []
    for row in range(ITEMS_DATA_START_ROW, ws.max_row + 1):
        if ws.cell(row=row, column=origin_col).value == "Dự án chuyển tiếp":
            names.append(ws.cell(row=row, column=name_col).value)
    return names


def test_gialai_2020_imported_then_2021_carries_over_and_lists_annex01(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])
    session.commit()

    # The district People's Committees are not in the registry: listed with suggestions, nothing written.
    refused = _plans(db_url, tmp_path, str(APPENDIX), "--year", "2020")
    assert refused.returncode == 1, refused.stderr
    assert "không có đơn vị «UBND các huyện, thị xã, thành phố» trong danh bạ (có phải:" in refused.stderr
    assert "không có dữ liệu nào được ghi" in refused.stderr
    session.expire_all()
    assert get_cycle_by_year(session=session, year=2020) is None and _count(session, PlanItem) == 0

    import_registry(session=session, paths=[DISTRICTS])
    session.commit()
    done = _plans(db_url, tmp_path, str(APPENDIX), "--year", "2020", "--statuses", str(STATUSES))
    assert done.returncode == 0, done.stderr
    assert "Kế hoạch năm 2020 (1181/QĐ-UBND): đã nhập. 36 nhiệm vụ, dự án" in done.stdout
    assert "6 trạng thái cập nhật" in done.stdout

    session.expire_all()
    cycle2020 = get_cycle_by_year(session=session, year=2020)
    assert cycle2020 is not None
    assert (cycle2020.decision_number, cycle2020.decision_date) == ("1181/QĐ-UBND", date(2019, 12, 27))
    assert cycle2020.status == "closed" and cycle2020.money_unit == "trieu"
    sources = {s.code: s for s in list_funding_sources(session=session, cycle_id=cycle2020.id)}
    assert list(sources) == ["NSDP", "NSTW"] and sources["NSTW"].group == "central"
    amounts = session.exec(select(PlanItemAmount)).all()
    by_source = {
        code: sum(a.approved_amount or 0 for a in amounts if a.funding_source_id == s.id)
        for code, s in sources.items()
    }
    assert by_source == {"NSDP": 249_921 * MILLION, "NSTW": 11_300 * MILLION}  # the plan's printed totals
    assert all(a.approved_amount == a.amount for a in amounts)
    items = {i.row_ref: i for i in session.exec(select(PlanItem))}
    assert len(items) == 36 and items["I.10"].origin == "carry_over"
    assert (items["V.1"].start_year, items["V.1"].end_year) == (2019, 2020)
    health_app = [a for a in amounts if a.item_id == items["II.2"].id]
    assert [(a.funding_source_id, a.amount) for a in health_app] == [(sources["NSTW"].id, None)]  # named only
    assert items["XI.1"].lead_unit_id == get_unit_by_code(session=session, code="UBND-HUYEN").id  # type: ignore[union-attr]
    final = session.exec(select(PlanVersion).where(PlanVersion.cycle_id == cycle2020.id)).one()
    assert final.is_final and len(final.content["items"]) == 36

    # The 2021 cycle opens (summer 2020): each unit's workbook prefills its unfinished 2020 items.
    open_cycle_records(
        session=session,
        spec=CycleSpec(year=2021, submission_deadline=date(2020, 9, 30)),
        as_of=date(2020, 8, 3),
        actor="test",
    )
    session.commit()
    cycle2021 = get_cycle_by_year(session=session, year=2021)
    assert cycle2021 is not None and cycle2021.previous_cycle_id == cycle2020.id
    assert _carried_names(session, cycle2021, "SNGV") == [items["IV.2"].name]  # IV.1 completed
    stttt = _carried_names(session, cycle2021, "STTTT")
    assert len(stttt) == 15 and items["I.1"].name not in stttt and items["I.10"].name in stttt

    # Annex 01 of 2021: the 2020 items in the plan's order, with the statuses imported.
    plan = build_plan(session=session, cycle=cycle2021, as_of=date(2020, 10, 15))
    annex = plan.annex01.set_index("name")
    assert len(plan.annex01) == 36
    assert annex.loc[items["I.1"].name, "status_label"] == "Đã hoàn thành"
    assert annex.loc[items["II.2"].name, "status_label"] == "Hủy bỏ"
    assert annex.loc[items["I.10"].name, "status_label"] == "Hoàn thành một phần"
    assert annex.loc[items["XI.1"].name, "status_label"] == "Đang triển khai"
    assert annex.loc[items["XI.1"].name, "note"] == "Đang triển khai đã đạt 60% cấp xã"
    assert annex.loc[items["VII.1"].name, "status_label"] == "Chưa báo cáo"
    assert plan.previous_year == 2020 and plan.previous_totals == {
        "NSDP": 249_921 * MILLION,
        "NSTW": 11_300 * MILLION,
        "total": 261_221 * MILLION,
    }

    # The same file again: nothing changes.
    again = _plans(db_url, tmp_path, str(APPENDIX), "--year", "2020", "--statuses", str(STATUSES))
    assert again.returncode == 0, again.stderr
    assert "giống lần nhập trước, không thay đổi gì" in again.stdout and "0 trạng thái" in again.stdout
    session.expire_all()
    assert _count(session, PlanItem) == 36 and _count(session, PlanVersion) == 1
    imports = session.exec(select(AuditEntry).where(AuditEntry.action == "plan.imported")).all()
    assert len(imports) == 1


def test_a_different_file_is_refused_with_its_differences_unless_replace(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv", DISTRICTS])
    session.commit()
    assert _plans(db_url, tmp_path, str(APPENDIX), "--year", "2020").returncode == 0
    text = APPENDIX.read_text(encoding="utf-8")
    changed = tmp_path / "gialai-2020-sua.csv"
    # Sở Ngoại vụ's NAS costs 45 instead of 40 million; the last district item is dropped.
    lines = [
        line for line in text.splitlines() if not line.startswith('3;"Nâng cấp mở rộng hệ thống Một cửa')
    ]
    nas = "Đầu tư thiết bị lưu trữ NAS"
    edited = "\n".join(lines).replace(f"{nas};Sở Ngoại vụ", f"{nas} (SAN);Sở Ngoại vụ")
    changed.write_text(edited.replace(";2020;40;–;", ";2020;45;–;"), encoding="utf-8")

    refused = _plans(db_url, tmp_path, str(changed), "--year", "2020")
    assert refused.returncode == 1
    assert "Năm 2020 đã có kế hoạch nhập từ tệp khác; 3 điểm khác nhau (dùng --replace" in refused.stderr
    assert f"IV.1 «{nas} (SAN)»: tên «{nas}» → «{nas} (SAN)»" in refused.stderr
    assert "kinh phí NSDP (đồng) «40.000.000» → «45.000.000»" in refused.stderr
    assert "bớt XI.3 «Nâng cấp mở rộng hệ thống Một cửa điện tử" in refused.stderr
    session.expire_all()
    assert _count(session, PlanItem) == 36

    replaced = _plans(db_url, tmp_path, str(changed), "--year", "2020", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert "đã thay thế kế hoạch nhập trước" in replaced.stdout and "35 nhiệm vụ" in replaced.stdout
    session.expire_all()
    nas = session.exec(select(PlanItem).where(PlanItem.row_ref == "IV.1")).one()
    assert nas.name == "Đầu tư thiết bị lưu trữ NAS (SAN)"
    assert _count(session, PlanItem) == 35
    versions = session.exec(select(PlanVersion).order_by(PlanVersion.number)).all()
    assert [(v.number, v.is_final) for v in versions] == [(1, True), (2, True)]


def test_a_plan_built_in_plancycle_is_never_replaced_by_an_import(session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv", DISTRICTS])
    open_cycle_records(
        session=session,
        spec=CycleSpec(year=2020, submission_deadline=date(2019, 9, 30)),
        as_of=date(2019, 8, 1),
        actor="test",
    )
    with pytest.raises(PlanImportRefused) as refused:
        import_issued_plan(session=session, path=APPENDIX, year=2020, actor="test", replace=True)
    assert refused.value.message_vi.startswith("Kế hoạch năm 2020 đã được lập trong plancycle")


def test_the_xlsx_layout_check_plan_reads(session: Session, tmp_path: Path) -> None:
    """The same appendix as an Excel sheet: two-row merged header, "I.1" numbers, text in amount cells,
    a grand total merged across both sources, the unit named only under the table."""
    path, _rows = gialai_annex02(tmp_path / "gialai-2020.xlsx")
    read = read_appendix(path)
    assert (read.unit, read.sources, read.decision_number) == ("trieu", ["NSĐP", "NSTW"], "1181/QĐ-UBND")
    assert len(read.items) == 36 and read.items[0].ref == "I.1" and read.items[-1].ref == "XI.3"
    assert read.items[17].amounts == {"NSTW": None}  # II.2: "Nguồn ngân sách Trung ương và nguồn vốn ODA…"

    import_registry(session=session, paths=[DEMO / "units.csv", DISTRICTS])
    result = import_issued_plan(session=session, path=path, year=2020, actor="test")
    assert result.totals == {"NSDP": 249_921 * MILLION, "NSTW": 11_300 * MILLION, "total": 261_221 * MILLION}


def test_status_file_problems_are_listed_and_nothing_written(session: Session, tmp_path: Path) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv", DISTRICTS])
    bad = tmp_path / "tinh-hinh.csv"
    bad.write_text(
        "Số TT;Tên nhiệm vụ, dự án;Trạng thái triển khai;Tỷ lệ hoàn thành (%)\n"
        "1;Đầu tư thiết bị lưu trữ NAS;Đã hoàn thành;100\n"
        "2;Một việc không có trong kế hoạch;Đã hoàn thành;\n"
        "3;Phần mềm thống kê Y tế điện tử;Đã xong xuôi;\n"
        "4;Phần mềm Hồ sơ sức khỏe điện tử;Đang triển khai;120\n",
        encoding="utf-8",
    )
    with pytest.raises(PlanImportRefused) as refused:
        import_issued_plan(session=session, path=APPENDIX, year=2020, statuses=bad, actor="test")
    messages = [issue.message("vi") for issue in refused.value.issues]
    assert messages == [
        "Tệp trạng thái, dòng 4: không hiểu trạng thái «Đã xong xuôi» (ví dụ: Đã hoàn thành, Đang triển "
        "khai, Chưa triển khai, Hoàn thành một phần, Tạm dừng, Hủy bỏ).",
        "Tệp trạng thái, dòng 5: tỷ lệ hoàn thành «120» phải là số nguyên từ 0 đến 100.",
        "Tệp trạng thái, dòng 3: «2 Một việc không có trong kế hoạch» không khớp nhiệm vụ, dự án nào của kế "
        "hoạch năm 2020.",
    ]
    session.rollback()
    assert get_cycle_by_year(session=session, year=2020) is None
