"""`plancycle check-plan`: totals of plan appendices recomputed and compared, on generated copies of the
layouts we meet: the Gia Lai 2020 Annex 02 (typed by hand, text in amount cells, a merged grand total),
the 2021 appendix in tỷ whose total row is 1 tỷ off in both columns, our own export (đồng stored,
millions displayed), and CSV files. Every test asserts the exact findings, so a checker that found
nothing, or found too much, fails."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from plancycle.cli import app
from tasks.consolidation.totals_check import check_plan_file, check_plan_workbook
from tasks.consolidation.totals_report import CheckReport, PlanCheckError

runner = CliRunner()


def _kinds(report: CheckReport) -> list[tuple[str, str | None]]:
    """(kind, cell or CSV line) of every finding, in file order."""
    return [(f.kind, f.cell or f"line {f.line}") for f in report.findings]


def _row(ws: Worksheet, row: int, values: dict[str, Any]) -> None:
    for letter, value in values.items():
        ws[f"{letter}{row}"] = value


# ---------------------------------------------------------------- Gia Lai 2020, Annex 02 (triệu đồng)

GIALAI_GROUPS: list[tuple[str, str, list[Any]]] = [
    # (numeral, lead unit, amounts: NSĐP int/text, or ("NSTW", value), or ("text", words))
    (
        "I",
        "Sở Thông tin và Truyền thông",
        [596, "3.384", "6.314", 93, 172, "2.697", "1.096", 885, "1.039", ("NSTW", "10.300"), "1.971"]
        + ["4.578", "19.344", "80.724", ("NSTW", 1000), "80.000"],
    ),
    (
        "II",
        "Sở Y tế",
        [320, ("text", "Nguồn ngân sách Trung ương và nguồn vốn ODA của ADB")]
        + [("text", "Nguồn ngân sách Trung ương và nguồn vốn ODA của ADB"), 250],
    ),
    ("III", "Sở Kế hoạch và Đầu tư", [130, 498]),
    ("IV", "Sở Ngoại vụ", [40, 150]),
    ("V", "Sở Tài nguyên và Môi trường", ["7.930"]),
    ("VI", "Sở Văn hóa, Thể thao và Du lịch", ["9.485"]),
    ("VII", "Văn phòng UBND tỉnh", [575, 100, 30]),
    ("VIII", "Sở Nội vụ", ["4.268"]),
    ("IX", "Sở Khoa học và Công nghệ", [500]),
    ("X", "Sở Lao động - Thương binh và Xã hội", ["3.854", "2.798"]),
    ("XI", "UBND các huyện, thị xã, thành phố", ["10.500", "3.600", "2.000"]),
]


def gialai_annex02(
    path: Path, *, nsdp_total: Any = "249.921", nstw_total: Any = "11.300", grand: Any = 261221
) -> tuple[Path, dict[str, int]]:
    """The published table as typed: "Số TT", a two-row header with "Kinh phí năm 2020" over NSĐP/NSTW (no
    unit: the plan says "triệu đồng" only in the paragraph under the table), group rows I…XI without
    amounts, "–" in empty cells, two total rows, the second merged across both source columns.
    Returns the path and the sheet row of some rows by STT."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Phụ lục 02"
    ws["A1"] = "PHỤ LỤC 02"
    ws["A2"] = "DANH MỤC, NHIỆM VỤ, DỰ ÁN TRIỂN KHAI ỨNG DỤNG CNTT TỈNH GIA LAI NĂM 2020"
    ws["A3"] = "(Kèm theo Quyết định số 1181/QĐ-UBND ngày 27/12/2019 của UBND tỉnh Gia Lai)"
    headers = [
        "Số TT",
        "Tên nhiệm vụ, dự án",
        "Đơn vị chủ trì",
        "Lĩnh vực ứng dụng",
        "Dự án chuyển tiếp hay dự án mới",
        "Mục tiêu, nội dung thực hiện",
        "Phạm vi thực hiện",
        "Thời gian triển khai",
    ]
    for column, text in enumerate(headers, start=1):
        ws.cell(row=5, column=column, value=text)
        ws.merge_cells(start_row=5, start_column=column, end_row=6, end_column=column)
    ws["I5"] = "Kinh phí năm 2020"
    ws.merge_cells("I5:J5")
    ws["I6"], ws["J6"] = "NSĐP", "NSTW"
    ws["K5"] = "Ghi chú"
    ws.merge_cells("K5:K6")
    rows: dict[str, int] = {}
    row = 7
    for numeral, unit_name, amounts in GIALAI_GROUPS:
        _row(ws, row, {"A": numeral, "B": unit_name})
        rows[numeral] = row
        row += 1
        for number, amount in enumerate(amounts, start=1):
            stt = f"{numeral}.{number}"
            nsdp, nstw = (amount, "–") if not isinstance(amount, tuple) else ("–", amount[1])
            _row(ws, row, {"A": stt, "B": f"Nhiệm vụ {stt}", "C": unit_name, "H": 2020, "I": nsdp, "J": nstw})
            _row(ws, row, {"K": "Đã thống nhất dự toán (NQ 199/NQ-HĐND ngày 11/12/2019)"})
            rows[stt] = row
            row += 1
    _row(ws, row, {"B": "TỔNG CỘNG KINH PHÍ", "I": nsdp_total, "J": nstw_total, "K": "–"})
    rows["total"] = row
    _row(ws, row + 1, {"B": "TỔNG KINH PHÍ NĂM 2020", "I": grand, "K": "–"})
    ws.merge_cells(f"I{row + 1}:J{row + 1}")
    rows["grand"] = row + 1
    ws[f"A{row + 3}"] = (
        "Tổng kinh phí năm 2020: 261.221 triệu đồng (Bằng chữ: Hai trăm sáu mươi mốt tỷ, hai trăm hai mươi "
        "mốt triệu đồng chẵn); Trong đó: + Ngân sách Trung ương: 11.300 triệu đồng"
    )
    ws.merge_cells(f"A{row + 3}:K{row + 3}")
    wb.save(path)
    return path, rows


def test_gialai_annex02_agrees_with_two_text_warnings(tmp_path: Path) -> None:
    path, rows = gialai_annex02(tmp_path / "gialai-2020-phu-luc-02.xlsx")
    report = check_plan_file(path)

    assert report.ok and report.exit_code == 0
    assert report.mismatches == []
    assert _kinds(report) == [("text_amount", f"J{rows['II.2']}"), ("text_amount", f"J{rows['II.3']}")]
    assert report.warnings[0].raw == "Nguồn ngân sách Trung ương và nguồn vốn ODA của ADB"
    (table,) = report.tables
    assert (table.sheet, table.header_line, table.unit) == ("Phụ lục 02", 5, "trieu")
    assert [(c.letter, c.label, c.is_row_total) for c in table.amount_columns] == [
        ("I", "NSĐP", False),
        ("J", "NSTW", False),
    ]
    assert (table.items, table.groups, table.total_rows) == (36, 11, 2)
    assert table.checks == 3  # NSĐP, NSTW, and the merged 261.221
    assert report.lines()[-1] == "Kết quả: khớp. Đã đối chiếu 3 số tổng, không có chỗ nào sai; 2 lưu ý."


def test_gialai_typo_in_total_and_in_merged_grand_total(tmp_path: Path) -> None:
    path, rows = gialai_annex02(tmp_path / "typo.xlsx", nsdp_total="249.912", grand=261211)
    report = check_plan_file(path)

    assert report.exit_code == 1
    assert [(f.kind, f.cell) for f in report.mismatches] == [
        ("grand_total", f"I{rows['total']}"),
        ("cross_total", f"I{rows['grand']}"),
    ]
    nsdp, merged = report.mismatches
    assert (nsdp.printed, nsdp.computed, nsdp.difference) == (
        Decimal(249_912_000_000),
        Decimal(249_921_000_000),
        Decimal(-9_000_000),
    )
    assert nsdp.count == 36
    assert nsdp.message() == (
        f"Phụ lục 02!I{rows['total']} — TỔNG CỘNG KINH PHÍ, cột «NSĐP»: ghi 249.912 triệu đồng, "
        "cộng 36 nhiệm vụ, dự án được 249.921 triệu đồng; chênh lệch -9 triệu đồng."
    )
    assert (merged.printed, merged.computed) == (Decimal(261_211_000_000), Decimal(261_221_000_000))
    assert merged.columns == ("NSĐP", "NSTW")


# ---------------------------------------------------------------- the 2021 appendix in tỷ, 1 tỷ off


def appendix_2021(path: Path, *, off_by: Decimal = Decimal(1)) -> tuple[Path, Decimal, Decimal]:
    """63 rows in tỷ đồng under "Ngân sách tỉnh" split into Vốn sự nghiệp / Vốn đầu tư phát triển, a
    numbering row, and a total row (row 70) ``off_by`` tỷ more than its rows in both columns."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Phụ lục"
    ws["A1"] = "DANH MỤC NHIỆM VỤ CHUYỂN ĐỔI SỐ NĂM 2021"
    ws["A2"] = "Đơn vị tính: tỷ đồng"
    _row(ws, 4, {"A": "STT", "B": "Tên nhiệm vụ", "C": "Cơ quan chủ trì", "D": "Thời gian thực hiện"})
    _row(ws, 4, {"E": "Ngân sách tỉnh", "G": "Ghi chú"})
    ws.merge_cells("E4:F4")
    _row(ws, 5, {"E": "Vốn sự nghiệp", "F": "Vốn đầu tư phát triển"})
    for letter in "ABCDG":
        ws.merge_cells(f"{letter}4:{letter}5")
    _row(ws, 6, dict(zip("ABCDEFG", [f"({n})" for n in range(1, 8)], strict=True)))
    recurrent = investment = Decimal(0)
    for n in range(1, 64):
        row = 6 + n
        sn = round(0.05 * (n % 9) + 0.1, 2)  # floats such as 0.15, 0.3: summed as floats they would drift
        dt = round(0.25 * (n % 4), 2) if n % 3 else None
        _row(ws, row, {"A": n, "B": f"Nhiệm vụ số {n}", "C": "Sở Thông tin và Truyền thông", "D": "2021"})
        _row(ws, row, {"E": sn, "F": dt})
        recurrent += Decimal(repr(sn))
        investment += Decimal(repr(dt)) if dt is not None else 0
    _row(ws, 70, {"B": "Tổng cộng", "E": float(recurrent + off_by), "F": float(investment + off_by)})
    wb.save(path)
    return path, recurrent, investment


def test_appendix_2021_total_row_one_billion_off_in_both_columns(tmp_path: Path) -> None:
    path, recurrent, investment = appendix_2021(tmp_path / "phu-luc-2021.xlsx")
    report = check_plan_file(path)

    assert report.exit_code == 1
    assert _kinds(report) == [("grand_total", "E70"), ("grand_total", "F70")]
    first, second = report.mismatches
    assert (first.column, second.column) == ("Vốn sự nghiệp", "Vốn đầu tư phát triển")
    assert first.computed == recurrent * 10**9 and second.computed == investment * 10**9
    assert first.difference == second.difference == Decimal(10**9)
    assert first.count == 63
    lines = report.lines()
    assert lines[1].startswith("KHÔNG KHỚP Phụ lục!E70 — Tổng cộng, cột «Vốn sự nghiệp»: ghi ")
    assert lines[1].endswith("; chênh lệch +1 tỷ đồng.")
    assert lines[2].startswith("KHÔNG KHỚP Phụ lục!F70")
    assert lines[-1] == "Kết quả: 2 chỗ không khớp trong 2 số tổng đã đối chiếu; 0 lưu ý."


def test_appendix_2021_correct_total_agrees(tmp_path: Path) -> None:
    path, _, _ = appendix_2021(tmp_path / "ok.xlsx", off_by=Decimal(0))
    report = check_plan_file(path)
    assert report.findings == [] and report.exit_code == 0 and report.checks == 2


# ---------------------------------------------------------------- our own export (đồng stored, triệu shown)

SOURCES = ["Ngân sách địa phương (NSĐP)", "Ngân sách trung ương (NSTW)"]
EXPORT_GROUPS = [
    ("I", "Sở Khoa học và Công nghệ", [(1_250_500_000, 0), (3_000_000_000, 10_300_000_000)]),
    ("II", "Sở Y tế", [(320_000_000, 0), (250_000_000, 0), (0, 1_000_000_000)]),
    ("III", "UBND phường Pleiku", [(2_000_000_000, 0)]),
]


def our_export(
    path: Path, *, alter: dict[str, int] | None = None, with_annex01: bool = True
) -> tuple[Path, dict[str, int]]:
    """The consolidation export's layout: title lines, "Đơn vị tính: triệu đồng", the two-row header with
    "Kinh phí năm 2027 (triệu đồng)" merged over the sources and "Tổng cộng", group rows holding their
    subtotals, items "I.1", and "TỔNG CỘNG"; amounts are exact đồng formatted ``#,##0,,``.
    ``alter`` adds đồng to cells by reference, e.g. {"I13": 5_000_000}."""
    wb = Workbook()
    if with_annex01:
        status = wb.active
        status.title = "Phụ lục 01"
        status["A1"] = "TÌNH HÌNH TRIỂN KHAI CÁC NHIỆM VỤ, DỰ ÁN NĂM 2026"
        _row(status, 3, {"A": "STT", "B": "Tên nhiệm vụ, dự án", "C": "Trạng thái triển khai"})
        _row(status, 4, {"A": 1, "B": "Nâng cấp cổng dịch vụ công", "C": "Đã hoàn thành"})
        ws = wb.create_sheet("Phụ lục 02")
    else:
        ws = wb.active
        ws.title = "Phụ lục 02"
    ws["A1"] = "PHỤ LỤC 02"
    ws["A2"] = "DANH MỤC NHIỆM VỤ, DỰ ÁN CHUYỂN ĐỔI SỐ NĂM 2027"
    ws["A3"] = "(Kèm theo Kế hoạch số …/KH-UBND ngày …/…/2026)"
    ws["A4"] = "Đơn vị tính: triệu đồng"
    headers = [
        "STT",
        "Tên nhiệm vụ, dự án",
        "Đơn vị chủ trì",
        "Lĩnh vực ứng dụng",
        "Dự án mới / chuyển tiếp",
        "Mục tiêu, nội dung thực hiện",
        "Phạm vi thực hiện",
        "Thời gian triển khai",
    ]
    for column, text in enumerate(headers, start=1):
        ws.cell(row=6, column=column, value=text)
        ws.merge_cells(start_row=6, start_column=column, end_row=7, end_column=column)
    ws["I6"] = "Kinh phí năm 2027 (triệu đồng)"
    ws.merge_cells("I6:K6")
    ws["I7"], ws["J7"], ws["K7"] = SOURCES[0], SOURCES[1], "Tổng cộng"
    ws["L6"] = "Ghi chú"
    ws.merge_cells("L6:L7")
    rows: dict[str, int] = {}
    row = 8
    grand = [0, 0]
    for numeral, unit_name, items in EXPORT_GROUPS:
        group_row = row
        rows[numeral] = row
        _row(ws, row, {"A": numeral, "B": unit_name})
        row += 1
        subtotal = [0, 0]
        for number, (nsdp, nstw) in enumerate(items, start=1):
            stt = f"{numeral}.{number}"
            rows[stt] = row
            _row(ws, row, {"A": stt, "B": f"Nhiệm vụ {stt}", "C": unit_name, "E": "Dự án mới", "H": "2027"})
            _row(ws, row, {"I": nsdp, "J": nstw, "K": nsdp + nstw})
            subtotal = [subtotal[0] + nsdp, subtotal[1] + nstw]
            row += 1
        _row(ws, group_row, {"I": subtotal[0], "J": subtotal[1], "K": sum(subtotal)})
        grand = [grand[0] + subtotal[0], grand[1] + subtotal[1]]
    rows["total"] = row
    _row(ws, row, {"B": "TỔNG CỘNG", "I": grand[0], "J": grand[1], "K": sum(grand)})
    for cells in ws.iter_rows(min_row=8, max_row=row, min_col=9, max_col=11):
        for cell in cells:
            cell.number_format = "#,##0,,"
    for ref, delta in (alter or {}).items():
        ws[ref] = ws[ref].value + delta
    wb.save(path)
    return path, rows


def test_our_export_agrees_and_skips_annex01(tmp_path: Path) -> None:
    path, _ = our_export(tmp_path / "KH2027.xlsx")
    report = check_plan_file(path)

    assert report.findings == [] and report.exit_code == 0
    assert report.skipped == [("Phụ lục 01", "skip_no_amount_columns")]
    (table,) = report.tables
    assert table.unit == "trieu"
    assert [(c.letter, c.is_row_total, c.sums) for c in table.amount_columns] == [
        ("I", False, ()),
        ("J", False, ()),
        ("K", True, (0, 1)),
    ]
    assert (table.items, table.groups, table.total_rows) == (6, 3, 1)
    # 3 group rows × 3 columns and the grand total × 3, plus the row total of each of the 6 items
    assert table.checks == 18
    assert report.lines()[1] == "Phụ lục 01: bỏ qua (không có cột kinh phí)."


def test_our_export_one_group_subtotal_altered(tmp_path: Path) -> None:
    path, rows = our_export(tmp_path / "KH2027.xlsx", alter={"I11": 5_000_000})
    assert rows["II"] == 11
    report = check_plan_file(path)

    assert _kinds(report) == [("group_total", "I11")]
    (finding,) = report.findings
    assert (finding.printed, finding.computed, finding.count) == (575_000_000, 570_000_000, 3)
    assert finding.message() == (
        "Phụ lục 02!I11 — II Sở Y tế, cột «Ngân sách địa phương (NSĐP)»: ghi 575 triệu đồng, "
        "cộng 3 nhiệm vụ, dự án của nhóm được 570 triệu đồng; chênh lệch +5 triệu đồng."
    )
    assert report.exit_code == 1


def test_our_export_amounts_finer_than_the_display_are_still_exact(tmp_path: Path) -> None:
    # 1.250,5 triệu in I.1: a 500.000 đồng slip in a subtotal shows as ",5" and is still caught
    path, rows = our_export(tmp_path / "KH2027.xlsx", alter={f"I{8}": 500_000, "K8": 500_000})
    report = check_plan_file(path)
    assert _kinds(report) == [("group_total", "I8"), ("group_total", "K8")]
    assert str(report.findings[0]).endswith(
        "ghi 4.251 triệu đồng, cộng 2 nhiệm vụ, dự án của nhóm được 4.250,5 triệu đồng; "
        "chênh lệch +0,5 triệu đồng."
    )
    assert rows["I.1"] == 9


def test_our_export_item_row_total_and_grand_total(tmp_path: Path) -> None:
    path, rows = our_export(tmp_path / "KH2027.xlsx", alter={"K10": 1_000_000, "J17": -1_000_000})
    report = check_plan_file(path)
    # the item's "Tổng cộng" disagrees with its own sources; the grand total's NSTW with the items
    assert rows["total"] == 17
    assert _kinds(report) == [("row_total", "K10"), ("grand_total", "J17")]
    row_total = report.findings[0]
    assert row_total.columns == tuple(SOURCES)
    assert row_total.difference == 1_000_000


def test_check_plan_workbook_on_a_generated_workbook_and_its_bytes(tmp_path: Path) -> None:
    path, _ = our_export(tmp_path / "KH2027.xlsx", with_annex01=False)
    report = check_plan_workbook(path.read_bytes(), name="KH2027.xlsx")
    assert report.ok and report.source == "KH2027.xlsx" and report.checks == 18

    from openpyxl import load_workbook

    workbook = load_workbook(path)
    workbook["Phụ lục 02"]["K17"] = "=SUM(K8,K12,K16)"  # a formula openpyxl cannot compute
    report = check_plan_workbook(workbook, sheet="Phụ lục 02")
    assert _kinds(report) == [("formula", "K17")]
    assert "công thức" in report.findings[0].message()


# ---------------------------------------------------------------- amount entry styles


def _small_table(
    path: Path, unit_line: str, amounts: list[Any], total: Any, total_column: Any = None
) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Danh mục"
    ws["A1"] = unit_line
    _row(ws, 3, {"A": "TT", "B": "Tên dự án", "C": "Nguồn vốn", "D": "Kinh phí", "E": "Tổng"})
    for n, amount in enumerate(amounts, start=1):
        _row(ws, 3 + n, {"A": n, "B": f"Dự án {n}", "C": "NSĐP", "D": amount})
    _row(ws, 4 + len(amounts), {"A": "Tổng cộng", "D": total, "E": total_column})
    wb.save(path)
    return path


@pytest.mark.parametrize(
    ("unit_line", "amounts", "total", "expected_dong"),
    [
        ("Đơn vị tính: đồng", [1_234_567, "1.234.567", "2.000.000 đ"], 4_469_134, 4_469_134),
        ("Đơn vị tính: triệu đồng", [596.5, 0.1, 0.2, "1.234,5"], "1.831,3", 1_831_300_000),
        ("Đơn vị: tỷ đồng", [0.25, "0,5", 0.1, 0.2], 1.05, 1_050_000_000),
    ],
)
def test_amount_entry_styles(
    tmp_path: Path, unit_line: str, amounts: list[Any], total: Any, expected_dong: int
) -> None:
    """Numbers and Vietnamese text in đồng, triệu and tỷ add up exactly (0.1 + 0.2 is 0.3 here)."""
    path = _small_table(tmp_path / "t.xlsx", unit_line, amounts, total)
    report = check_plan_file(path)
    assert report.findings == [] and report.checks == 1
    # "Nguồn vốn" holds only text: a note column, not money
    assert [c.label for c in report.tables[0].amount_columns] == ["Kinh phí", "Tổng"]

    wrong = _small_table(tmp_path / "w.xlsx", unit_line, amounts, total, total_column=1)
    (finding,) = check_plan_file(wrong).findings
    assert finding.kind == "grand_total" and finding.cell == f"E{4 + len(amounts)}"
    assert finding.computed == expected_dong  # the "Tổng" column of each item is its "Kinh phí"


def test_sub_items_group_subtotal_rows_and_leading_total(tmp_path: Path) -> None:
    """A total row right under the header, letter and Roman groups, "Cộng" rows closing groups, and an
    item "1" carrying the sum of its sub-items "1.1", "a)": nothing is counted twice."""
    wb = Workbook()
    ws = wb.active
    ws.title = "PL"
    _row(ws, 1, {"A": "Đơn vị tính: triệu đồng"})
    _row(ws, 2, {"A": "STT", "B": "Tên nhiệm vụ", "C": "Vốn NSTW", "D": "Vốn NSĐP"})
    table = [
        ("", "TỔNG CỘNG", 1000, 760),  # 3: the grand total first, as budget tables often print it
        ("A", "DỰ ÁN CHUYỂN TIẾP", None, None),  # 4
        ("I", "Sở Thông tin và Truyền thông", None, None),  # 5
        ("1", "Hệ thống thông tin báo cáo", 1000, 300),  # 6: sum of its sub-items
        ("1.1", "Phần mềm", 600, 200),  # 7
        ("1.2", "Thiết bị", 400, 100),  # 8
        ("2", "Đào tạo", None, 60),  # 9
        ("", "Cộng nhóm I", 1000, 360),  # 10
        ("II", "Sở Y tế", None, None),  # 11
        ("1", "Bệnh án điện tử", None, 400),  # 12: sum of a) and b)
        ("a)", "Bệnh viện tỉnh", None, 250),  # 13
        ("b)", "Trung tâm y tế huyện", None, 150),  # 14
        ("", "Cộng", None, 450),  # 15: wrong, the group adds up to 400
    ]
    for offset, (stt, name, nstw, nsdp) in enumerate(table):
        _row(ws, 3 + offset, {"A": stt or None, "B": name, "C": nstw, "D": nsdp})
    wb.save(tmp_path / "pl.xlsx")

    report = check_plan_file(tmp_path / "pl.xlsx")
    assert _kinds(report) == [("group_total", "D15")]
    assert report.findings[0].computed == 400_000_000
    (result,) = report.tables
    assert (result.items, result.groups, result.total_rows) == (5, 3, 3)
    # C3, D3 grand; C6, D6 item 1; C10, D10 group I; D12 item II.1; D15 group II
    assert result.checks == 8


def test_sections_closed_by_cong_rows_without_groups(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "DM"
    _row(ws, 1, {"A": "Đơn vị tính: đồng"})
    _row(ws, 2, {"A": "Số TT", "B": "Tên công việc", "C": "Dự toán"})
    for line, (stt, name, amount) in enumerate(
        [
            (1, "Việc một", 100),
            (2, "Việc hai", 200),
            (None, "Cộng", 300),  # 5
            (3, "Việc ba", 50),
            (4, "Việc bốn", 50),
            (None, "Cộng", 150),  # 8: wrong, 100
            (None, "Tổng cộng", 400),  # 9
        ],
        start=3,
    ):
        _row(ws, line, {"A": stt, "B": name, "C": amount})
    wb.save(tmp_path / "dm.xlsx")

    report = check_plan_file(tmp_path / "dm.xlsx")
    assert _kinds(report) == [("section_total", "C8")]
    assert str(report.findings[0]) == (
        "DM!C8 — Cộng, cột «Dự toán»: ghi 150 đồng, cộng 2 nhiệm vụ, dự án phía trên được 100 đồng; "
        "chênh lệch +50 đồng."
    )
    assert report.checks == 3


def test_no_total_row_and_items_without_amount_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "no-total.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "DM"
    _row(ws, 1, {"A": "STT", "B": "Tên nhiệm vụ", "C": "NSĐP (triệu đồng)"})
    _row(ws, 2, {"A": 1, "B": "Cổng thông tin điện tử", "C": "1.500"})
    _row(ws, 3, {"A": 2, "B": "Chưa có kinh phí", "C": "-"})
    wb.save(path)

    report = check_plan_file(path)
    assert report.exit_code == 0 and report.checks == 0
    assert _kinds(report) == [("no_total_row", "line 1"), ("no_amount", "line 3")]
    assert report.findings[0].message() == (
        "DM, dòng 1: bảng không có dòng tổng cộng nên không có số ghi sẵn để đối chiếu. "
        "Tổng tính được từ 2 nhiệm vụ, dự án: NSĐP (triệu đồng): 1.500 triệu đồng."
    )
    assert report.lines()[-1] == "Kết quả: không có số tổng nào để đối chiếu; 2 lưu ý."


# ---------------------------------------------------------------- CSV and the command line

CSV_TEXT = (
    "Đơn vị tính: triệu đồng;;;;;\n"
    "STT;Tên nhiệm vụ, dự án;Đơn vị chủ trì;NSĐP;NSTW;Tổng cộng\n"
    "I;Sở Thông tin và Truyền thông;;;;\n"
    '1;"Nâng cấp hệ thống\nquản lý văn bản";Sở TT&TT;1.234,5;;1.234,5\n'
    "2;Dịch vụ công trực tuyến;Sở TT&TT;500;1.000;1.500\n"
    "II;Sở Y tế;;;;\n"
    "1;Hồ sơ sức khỏe điện tử;Sở Y tế;;Nguồn vốn ODA;\n"
    ";Tổng cộng;;1.734,5;1.000;2.744,5\n"
)


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "danh-muc.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return path


def test_csv_with_bom_and_semicolons_via_the_cli(tmp_path: Path) -> None:
    path = _csv(tmp_path, CSV_TEXT)
    result = runner.invoke(app, ["check-plan", str(path)])

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("danh-muc.csv: bảng có tiêu đề ở dòng 2; 3 nhiệm vụ, dự án, 2 nhóm, 1 dòng")
    assert lines[1:] == [
        "KHÔNG KHỚP dòng 9 — Tổng cộng, cột «Tổng cộng»: ghi 2.744,5 triệu đồng, cộng 3 nhiệm vụ, dự án "
        "được 2.734,5 triệu đồng; chênh lệch +10 triệu đồng.",
        "LƯU Ý dòng 8 — 1 Hồ sơ sức khỏe điện tử, cột «NSTW»: «Nguồn vốn ODA» không phải số tiền; tính là 0.",
        "Kết quả: 1 chỗ không khớp trong 5 số tổng đã đối chiếu; 1 lưu ý.",
    ]

    fixed = _csv(tmp_path, CSV_TEXT.replace("2.744,5", "2.734,5"))
    result = runner.invoke(app, ["check-plan", str(fixed)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("Kết quả: khớp.")


def test_csv_comma_separated_with_named_amount_columns(tmp_path: Path) -> None:
    text = 'STT,Tên,Ghi chú,A,B\n1,Việc một,x,"1,5",2\n2,Việc hai,y,3,4\n,Cộng,,"4,5",6\n'
    path = tmp_path / "plain.csv"
    path.write_text(text, encoding="utf-8")
    report = check_plan_file(path, amount_columns="A,B", unit="ty")
    assert report.findings == [] and report.checks == 2
    assert report.tables[0].unit == "ty"
    assert [c.label for c in report.tables[0].amount_columns] == ["A", "B"]


def test_cli_json_and_english(tmp_path: Path) -> None:
    path, _, _ = appendix_2021(tmp_path / "phu-luc-2021.xlsx")
    result = runner.invoke(app, ["check-plan", str(path), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["ok"], data["exit_code"], data["mismatches"], data["warnings"]) == (False, 1, 2, 0)
    assert [(f["cell"], f["kind"], f["difference"], f["display_unit"]) for f in data["findings"]] == [
        ("E70", "grand_total", 1_000_000_000, "ty"),
        ("F70", "grand_total", 1_000_000_000, "ty"),
    ]

    result = runner.invoke(app, ["check-plan", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "MISMATCH Phụ lục!E70 — Tổng cộng, column 'Vốn sự nghiệp': printed" in result.stdout
    assert "difference +1 billion đồng." in result.stdout


def test_cli_ok_exit_zero(tmp_path: Path) -> None:
    path, _ = gialai_annex02(tmp_path / "gialai.xlsx")
    result = runner.invoke(app, ["check-plan", str(path), "--sheet", "Phụ lục 02"])
    assert result.exit_code == 0, result.output
    assert "Phụ lục 02!J" in result.stdout and "LƯU Ý" in result.stdout and "KHÔNG KHỚP" not in result.stdout


# ---------------------------------------------------------------- files that cannot be checked


def test_pdf_renamed_xlsx_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "ke-hoach.xlsx"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    with pytest.raises(PlanCheckError) as caught:
        check_plan_file(path)
    assert caught.value.key == "unreadable"

    result = runner.invoke(app, ["check-plan", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Không đọc được tệp ke-hoach.xlsx như một bảng tính Excel (.xlsx): tệp bị hỏng hoặc thực ra là loại "
        "tệp khác (ví dụ PDF đổi đuôi)."
    )


def test_sheet_without_stt_header_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bang.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Tổng hợp"
    _row(ws, 1, {"A": "Nội dung", "B": "Kinh phí"})
    _row(ws, 2, {"A": "Phần mềm", "B": 100})
    wb.save(path)

    result = runner.invoke(app, ["check-plan", str(path), "--sheet", "Tổng hợp"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Không tìm thấy bảng trong trang «Tổng hợp» của tệp bang.xlsx: cần một dòng tiêu đề có ô «STT» "
        "(hoặc «Số TT», «TT») và một ô chứa «Tên» (ví dụ «Tên nhiệm vụ, dự án») trong 30 dòng đầu."
    )

    # a workbook of one sheet gets the same precise answer without --sheet
    assert runner.invoke(app, ["check-plan", str(path)]).stderr == result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sheet", "Phụ lục 03"], "không có trang «Phụ lục 03»; các trang có: Phụ lục 01, Phụ lục 02."),
        (["--amount-columns", "NSTW,ODA"], "Không thấy cột «ODA» trong bảng ở trang «Phụ lục 02»"),
        (
            ["--amount-columns", "ODA"],
            "Không trang nào của tệp KH2027.xlsx có bảng kinh phí để kiểm tra: «Phụ lục 01»: không có "
            "các cột kinh phí đã chỉ định; «Phụ lục 02»: không có các cột kinh phí đã chỉ định.",
        ),
        (["--sheet", "Phụ lục 01"], "không có cột kinh phí: cần các cột như «NSĐP»"),
        (["--unit", "nghin"], "Đơn vị tính «nghin» không hợp lệ"),
        (["--lang", "fr"], "Ngôn ngữ «fr» không hợp lệ"),
    ],
)
def test_cli_refusals_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    path, _ = our_export(tmp_path / "KH2027.xlsx")
    result = runner.invoke(app, ["check-plan", str(path), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_other_unreadable_files_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["check-plan", str(tmp_path / "khong-co.xlsx")])
    assert missing.exit_code == 2 and "Không có tệp" in missing.stderr

    word = tmp_path / "ke-hoach.docx"
    word.write_bytes(b"not a zip")
    assert "không phải bảng tính" in runner.invoke(app, ["check-plan", str(word)]).stderr

    latin = tmp_path / "latin.csv"
    latin.write_bytes("STT;Tên;Kinh phí\n1;Ph\xe1t tri\xean;5\n".encode("latin-1"))
    result = runner.invoke(app, ["check-plan", str(latin)])
    assert result.exit_code == 2 and "không phải văn bản UTF-8" in result.stderr

    no_header = tmp_path / "ghi-chu.csv"
    no_header.write_text("Nội dung;Số tiền\nA;1\n", encoding="utf-8")
    result = runner.invoke(app, ["check-plan", str(no_header)])
    assert result.exit_code == 2 and "Không tìm thấy bảng trong ghi-chu.csv" in result.stderr

    result = runner.invoke(app, ["check-plan", str(no_header), "--json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["exit_code"] == 2
