"""Acceptance on a real published plan (issue 19, build 9): Gia Lai's 2020 plan (Quyết định 1181/QĐ-UBND,
27/12/2019) played through the season as its units would: the registry as the plan names the units, the
cycle opened with the plan's funding sources, application fields and group order, each lead unit's own
workbook filled with its items (the lead column as the plan writes it), accepted, consolidated; the
appendix compared with the published one to the đồng, group by group, and read back by check-plan.

What the workbook cannot say as the plan does is entered as an officer would: project types other than
new / carry-over are entered as new (the carry-over items had no 2019 plan in the system), VII.3's empty
field as "Phát triển nguồn nhân lực", and the jointly led items (I.16, II.4) with the lead column blank
(the unit itself). Group XI's items, led by the districts collectively, are entered by the coordinating
department in its own workbook (the cycle allows items led by another unit)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session

from models.cycle import PlanningCycle, get_cycle_by_year
from models.registry import get_unit_by_code
from plancycle.settings import get_settings
from tasks.consolidation.annexes import write_plan_workbook
from tasks.consolidation.plan import build_plan, materialize_plan
from tasks.consolidation.totals_check import check_plan_file
from tasks.registry.directory import import_registry
from tasks.registry.names import resolve_unit_name
from tasks.submissions.cycles import ApplicationFieldSpec, CycleSpec, FundingSourceSpec, open_cycle_records
from tasks.submissions.intake import ingest_submission
from tasks.submissions.review import accept_submission
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, build_workbook, load_workbook_context
from tests.submissions.conftest import item_letter, items_sheet, open_book, save_book

REFERENCE = Path(__file__).parent / "reference"
TRIEU = 1_000_000
# The lead units as the plan's group titles name them, in the plan's order (groups I–XI).
GIA_LAI_UNITS = [
    ("STTTT", "Sở Thông tin và Truyền thông", "so_ban_nganh"),
    ("SYT", "Sở Y tế", "so_ban_nganh"),
    ("SKHDT", "Sở Kế hoạch và Đầu tư", "so_ban_nganh"),
    ("SNGV", "Sở Ngoại vụ", "so_ban_nganh"),
    ("STNMT", "Sở Tài nguyên và Môi trường", "so_ban_nganh"),
    ("SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch", "so_ban_nganh"),
    ("VPUBND", "Văn phòng UBND tỉnh", "lanh_dao_tinh"),
    ("SNV", "Sở Nội vụ", "so_ban_nganh"),
    ("SKHCN", "Sở Khoa học và Công nghệ", "so_ban_nganh"),
    ("SLDTBXH", "Sở Lao động - Thương binh và Xã hội", "so_ban_nganh"),
    ("UBND-HUYEN", "UBND các huyện, thị xã, thành phố", "tap_the"),
]
JOINTLY_LED = {"I.16", "II.4"}  # "Sở TT&TT; các sở, ngành liên quan; …", "Sở Y tế …, Các đơn vị trực thuộc"
ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI"]


def _rows(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _register(session: Session, folder: Path) -> None:
    path = folder / "don-vi.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ma_dinh_danh", "ten", "loai"])
        writer.writerows(GIA_LAI_UNITS)
    import_registry(session=session, paths=[path])
    session.commit()


def _send_and_accept(
    session: Session,
    cycle: PlanningCycle,
    code: str,
    rows: list[dict[str, object]],
    *,
    issued: datetime,
    sent: date,
) -> None:
    """The unit's own workbook (issued on ``issued``) filled in by its officer, one item per entry of
    ``rows`` (column key → value; empty values left blank), sent through the intake on ``sent`` and
    accepted by the coordinator."""
    unit = get_unit_by_code(session=session, code=code)
    assert unit is not None
    context = load_workbook_context(session=session, cycle=cycle, unit=unit)
    wb = open_book(build_workbook(context, issued_at=issued))
    ws = items_sheet(wb)
    for offset, values in enumerate(rows):
        for key, value in values.items():
            if value not in ("", None):
                ws[f"{item_letter(context, key)}{ITEMS_DATA_START_ROW + offset}"] = value
    result = ingest_submission(
        session=session,
        cycle=cycle,
        unit=unit,
        filename=f"{code}.xlsx",
        content=save_book(wb),
        channel="portal",
        as_of=sent,
        actor=f"portal:{code}",
    )
    assert result.accepted, (code, [e.message_vi for e in result.errors])
    accept_submission(
        session=session,
        year=cycle.year,
        unit_code=code,
        reviewer="test",
        comment=None,
        settings=get_settings(),
    )


def _amount(text: str) -> int | None:
    return int(text) if text else None


def test_gia_lai_2020_as_published(session: Session, tmp_path: Path) -> None:
    items = _rows("gialai-2020-annex02.csv")
    groups = _rows("gialai-2020-groups.csv")
    _register(session, tmp_path)
    fields: list[str] = []
    for item in items:
        if item["field"] and item["field"] not in fields:
            fields.append(item["field"])
    opened = open_cycle_records(
        session=session,
        spec=CycleSpec(
            year=2020,
            title="Kế hoạch ứng dụng công nghệ thông tin trong hoạt động các cơ quan nhà nước năm 2020",
            guidance_reference="Công văn số 2055/BTTTT-THH ngày 27/6/2019 của Bộ Thông tin và Truyền thông",
            submission_deadline=date(2019, 10, 15),
            units="list",
            unit_codes=[code for code, _name, kind in GIA_LAI_UNITS if kind != "tap_the"],
            coordinating_unit_code="STTTT",
            other_leads_allowed=True,
            funding_sources=[
                FundingSourceSpec(code="NSDP", name="NSĐP", group="local"),
                FundingSourceSpec(code="NSTW", name="NSTW", group="central"),
            ],
            application_fields=[
                ApplicationFieldSpec(code=f"F{n}", name=name) for n, name in enumerate(fields)
            ],
            settings={"layout": {"annex02": {"group_order": [code for code, _n, _k in GIA_LAI_UNITS]}}},
        ),
        as_of=date(2019, 9, 3),
        actor="test",
    )
    session.commit()
    cycle = get_cycle_by_year(session=session, year=2020)
    assert cycle is not None and len(opened.submission_ids) == 10

    # Each lead unit's officer fills the unit's own workbook; the districts' items go in the DIC's.
    by_unit: dict[str, list[dict[str, str]]] = {}
    for item in items:
        code = GIA_LAI_UNITS[ROMANS.index(item["ref"].split(".")[0])][0]
        by_unit.setdefault("STTTT" if code == "UBND-HUYEN" else code, []).append(item)
    for code, rows in by_unit.items():
        cells = []
        for item in rows:
            first, _, last = item["period"].partition("-")
            cells.append(
                {
                    "name": item["name"],
                    "lead_unit": "" if item["ref"] in JOINTLY_LED else item["lead_as_written"],
                    "field": item["field"] or "Phát triển nguồn nhân lực",
                    "origin": "Dự án mới",
                    "start_year": int(first),
                    "end_year": int(last or first),
                    "amount:NSDP": _amount(item["nsdp_trieu"]),
                    "amount:NSTW": _amount(item["nstw_trieu"]),
                }
            )
        _send_and_accept(
            session, cycle, code, cells, issued=datetime(2019, 9, 3, 8, tzinfo=UTC), sent=date(2019, 10, 10)
        )
    session.commit()

    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2019, 12, 9))

    # The published totals, to the đồng.
    assert plan.grand_totals["NSDP"] == 249_921 * TRIEU
    assert plan.grand_totals["NSTW"] == 11_300 * TRIEU
    assert plan.grand_totals["total"] == 261_221 * TRIEU

    # The published structure: groups I–XI with their titles and order, every item under its group.
    assert list(plan.groups["group_roman"]) == [g["roman"] for g in groups]
    assert list(plan.groups["group_label"]) == [g["title"] for g in groups]
    assert list(plan.items["ref"]) == [item["ref"] for item in items]
    assert list(plan.items["name"]) == [item["name"] for item in items]
    for group in plan.groups.itertuples(index=False):
        published = [i for i in items if i["ref"].split(".")[0] == group.group_roman]
        expected_nsdp = sum(int(i["nsdp_trieu"] or 0) for i in published) * TRIEU
        expected_nstw = sum(int(i["nstw_trieu"] or 0) for i in published) * TRIEU
        assert int(group.total) == expected_nsdp + expected_nstw, group.group_roman

    # The appendix we write, read back: the same groups and totals, and check-plan finds nothing wrong.
    workbook = write_plan_workbook(plan, tmp_path / "KH2020.xlsx", province_name="Gia Lai")
    ws = load_workbook(workbook)["Phụ lục 02"]
    group_rows = [
        (row[0].value, row[1].value) for row in ws.iter_rows() if row[0].value in {g["roman"] for g in groups}
    ]
    assert group_rows == [(g["roman"], g["title"]) for g in groups]
    report = check_plan_file(workbook)
    assert report.ok, [f.message_vi for f in report.mismatches]


# ---------------------------------------------------------------- Quảng Ngãi 2016

# The units as Quảng Ngãi's 2016 plan names them; the collective leads and partners are registry entries.
QUANG_NGAI_UNITS = [
    ("STTTT", "Sở Thông tin và Truyền thông", "so_ban_nganh"),
    ("CAT", "Công an tỉnh", "khac"),
    ("SNV", "Sở Nội vụ", "so_ban_nganh"),
    ("SYT", "Sở Y tế", "so_ban_nganh"),
    ("SGTVT", "Sở Giao thông vận tải", "so_ban_nganh"),
    ("SXD", "Sở Xây dựng", "so_ban_nganh"),
    ("UBND-SONHA", "UBND huyện Sơn Hà", "huyen"),
    ("BQLKCN", "Ban quản lý các Khu công nghiệp", "so_ban_nganh"),
    ("SNGV", "Sở Ngoại vụ", "so_ban_nganh"),
    ("UBND-HUYEN", "UBND các huyện, thành phố", "tap_the"),
    ("CAC-SO-HUYEN", "Các sở, ngành, UBND các huyện, thành phố", "tap_the"),
    ("CAC-SO-LQ", "Các sở, ngành, đơn vị liên quan", "tap_the"),
    ("CAC-DV-LQ", "Các đơn vị liên quan", "tap_the"),
]
# Jointly led items: entered by their first lead with the lead column blank.
QUANG_NGAI_JOINT = {"b.9": "BQLKCN", "c.1": "STTTT", "c.2": "STTTT"}
QUANG_NGAI_COLLECTIVE = {"c.3", "c.4"}  # led by a collective: the coordinating department enters them


def test_quang_ngai_2016_as_published(session: Session, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PLANCYCLE_PROVINCE_NAME", "Quảng Ngãi")  # "Sở Thông tin và Truyền thông Quảng Ngãi"
    get_settings.cache_clear()
    items = _rows("quangngai-2016-items.csv")
    groups = _rows("quangngai-2016-groups.csv")
    path = tmp_path / "don-vi.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ma_dinh_danh", "ten", "loai"])
        writer.writerows(QUANG_NGAI_UNITS)
    import_registry(session=session, paths=[path])
    session.commit()
    leads = [code for code, _n, kind in QUANG_NGAI_UNITS if kind != "tap_the"]
    open_cycle_records(
        session=session,
        spec=CycleSpec(
            year=2016,
            title="Kế hoạch ứng dụng công nghệ thông tin trong hoạt động của các cơ quan nhà nước năm 2016",
            submission_deadline=date(2015, 12, 15),
            units="list",
            unit_codes=leads,
            coordinating_unit_code="STTTT",
            other_leads_allowed=True,
            money_unit="ty",
            funding_sources=[
                FundingSourceSpec(code="DTPT", name="Vốn đầu tư", group="provincial_investment"),
                FundingSourceSpec(
                    code="SN", name="Vốn sự nghiệp công nghệ thông tin", group="provincial_recurrent"
                ),
            ],
            # the province's own groups a), b), c), with their titles, as the application fields
            application_fields=[
                ApplicationFieldSpec(code=g["letter"].upper(), name=g["title"]) for g in groups
            ],
            settings={
                "layout": {
                    "annex02": {
                        "grouping": "field",
                        "group_numbering": "letters",
                        "group_order": [code for code, _n, _k in QUANG_NGAI_UNITS],
                    }
                }
            },
        ),
        as_of=date(2015, 11, 2),
        actor="test",
    )
    session.commit()
    cycle = get_cycle_by_year(session=session, year=2016)
    assert cycle is not None
    titles = {g["letter"]: g["title"] for g in groups}

    by_unit: dict[str, list[dict[str, str]]] = {}
    for item in items:
        if item["ref"] in QUANG_NGAI_COLLECTIVE:
            code = "STTTT"
        elif item["ref"] in QUANG_NGAI_JOINT:
            code = QUANG_NGAI_JOINT[item["ref"]]
        else:
            match = resolve_unit_name(session=session, text=item["lead_as_written"], on=date(2015, 12, 1))
            assert match.unit is not None, item["lead_as_written"]
            code = match.unit.code
        by_unit.setdefault(code, []).append(item)
    for code, rows in by_unit.items():
        cells = []
        for item in rows:
            first, _, last = (item["period"] or "2016").partition("-")
            cells.append(
                {
                    "name": item["name"],
                    "lead_unit": "" if item["ref"] in QUANG_NGAI_JOINT else item["lead_as_written"],
                    "coordinating_units": item["partners_as_written"],
                    "field": titles[item["ref"][0]],
                    "origin": "Dự án mới",
                    "start_year": int(first),
                    "end_year": int(last or first),
                }
            )
        _send_and_accept(
            session, cycle, code, cells, issued=datetime(2015, 11, 2, 8, tzinfo=UTC), sent=date(2015, 12, 10)
        )
    session.commit()

    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2016, 1, 11))
    # groups a), b), c) with the province's titles, items in the published order and numbering
    assert list(plan.groups["group_roman"]) == [g["letter"] for g in groups]
    assert list(plan.groups["group_label"]) == [g["title"] for g in groups]
    assert list(plan.items["ref"]) == [item["ref"] for item in items]
    assert list(plan.items["name"]) == [item["name"] for item in items]
    leads_by_ref = dict(zip(plan.items["ref"], plan.items["lead_unit_name"], strict=True))
    assert leads_by_ref["c.3"] == "UBND các huyện, thành phố"
    assert leads_by_ref["b.1"] == "Sở Thông tin và Truyền thông"
    assert leads_by_ref["b.8"] == "UBND huyện Sơn Hà"
    # the plan publishes no amount per task: none is invented
    assert plan.grand_totals.get("total", 0) == 0

    workbook = write_plan_workbook(plan, tmp_path / "KH2016.xlsx", province_name="Quảng Ngãi")
    ws = load_workbook(workbook)["Phụ lục 02"]
    group_rows = [(row[0].value, row[1].value) for row in ws.iter_rows() if row[0].value in titles]
    assert group_rows == [(g["letter"], g["title"]) for g in groups]
    partners = [str(c.value) for row in ws.iter_rows() for c in row if c.value and "phối hợp" in str(c.value)]
    assert "Đơn vị phối hợp: Các sở, ngành, đơn vị liên quan" in partners
    report = check_plan_file(workbook)  # the letters-numbered layout reads back
    assert report.ok and report.checks, [f.message_vi for f in report.mismatches]


def _published_annex(path: Path, *, nsdp_total: str) -> Path:
    """Gia Lai's Annex 02 as published (groups, items, the total row), as a CSV check-plan reads."""
    lines = ["Đơn vị tính: triệu đồng;;;", "STT;Tên nhiệm vụ, dự án;NSĐP;NSTW"]
    items = _rows("gialai-2020-annex02.csv")
    for group in _rows("gialai-2020-groups.csv"):
        lines.append(f"{group['roman']};{group['title']};;")
        for item in (i for i in items if i["ref"].split(".")[0] == group["roman"]):
            nsdp, nstw = (
                f"{int(v):,}".replace(",", ".") if v else "" for v in (item["nsdp_trieu"], item["nstw_trieu"])
            )
            lines.append(f"{item['ref']};{item['name'].replace(';', ',')};{nsdp};{nstw}")
    lines.append(f";TỔNG CỘNG KINH PHÍ;{nsdp_total};11.300")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_check_plan_on_the_published_gia_lai_annex(tmp_path: Path) -> None:
    """The published totals add up (check-plan agrees); a wrong published total would be named."""
    report = check_plan_file(_published_annex(tmp_path / "published.csv", nsdp_total="249.921"))
    assert report.ok and report.checks >= 2
    wrong = check_plan_file(_published_annex(tmp_path / "wrong.csv", nsdp_total="249.912"))
    assert not wrong.ok
    (finding,) = wrong.mismatches
    assert finding.printed == 249_912 * TRIEU and finding.computed == 249_921 * TRIEU
    assert "TỔNG CỘNG KINH PHÍ" in finding.row_label and finding.column == "NSĐP"
