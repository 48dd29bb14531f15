"""The draft plan document: a plan built in a real database, written to .docx, read back with python-docx.

The figures of the main test reproduce the Gia Lai 2020 plan's funding summary (NSĐP 249.921 and NSTW
11.300 triệu, total 261.221 triệu) so the amounts in words can be checked against the published text."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn
from sqlmodel import Session

from tasks.common.money import money_in_words
from tasks.common.numbers import share_percent
from tasks.consolidation.consolidated import ConsolidatedPlan
from tasks.consolidation.document import placeholder_text, write_plan_document
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_plan_item, add_submission, make_unit, new_cycle

AS_OF = date(2026, 11, 20)
TRIEU = 1_000_000
SECTIONS_2027 = [
    "I. CĂN CỨ LẬP KẾ HOẠCH",
    "II. KẾT QUẢ THỰC HIỆN KẾ HOẠCH NĂM 2026",
    "III. MỤC TIÊU",
    "IV. NHIỆM VỤ",
    "V. GIẢI PHÁP",
    "VI. TỔ CHỨC THỰC HIỆN",
]
PLACEHOLDER = re.compile(r"\[Cơ quan chủ trì bổ sung: [^\]]*\]")
COMMUNE_NFD = unicodedata.normalize("NFD", "UBND xã Ia Grai")  # as Excel sometimes hands names over


@pytest.fixture
def units(session: Session) -> dict[str, object]:
    return {
        "skhcn": make_unit(session, code="SKHCN", name="Sở Khoa học và Công nghệ"),
        "syt": make_unit(session, code="SYT", name="Sở Y tế"),
        "vp": make_unit(session, code="VPUB", name="Văn phòng UBND tỉnh", kind="provincial_leadership"),
        "xa": make_unit(session, code="XIAGRAI", name=COMMUNE_NFD, kind="commune"),
    }


# ---------------------------------------------------------------- reading the file back


def _all_paragraphs(doc: DocxDocument) -> list:
    """Body paragraphs, table cell paragraphs and header paragraphs, in document order per container."""
    paragraphs = list(doc.paragraphs)
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                paragraphs += cell.paragraphs
    for section in doc.sections:
        paragraphs += section.header.paragraphs + section.first_page_header.paragraphs
    return paragraphs


def _texts(doc: DocxDocument) -> list[str]:
    return [p.text for p in doc.paragraphs]


def _headings(doc: DocxDocument, style: str = "Heading 1") -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == style]


def _placeholders(doc: DocxDocument) -> list[str]:
    return [m for p in _all_paragraphs(doc) for m in PLACEHOLDER.findall(p.text)]


def _between(texts: list[str], start: str, end: str) -> list[str]:
    first = texts.index(start)
    return texts[first + 1 : texts.index(end, first)]


def _rows(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def _group_table(doc: DocxDocument):
    (table,) = [t for t in doc.tables if t.rows[0].cells[0].text == "STT"]
    return table


def _trieu(amounts: dict[str, int]) -> dict[str, int | None]:
    return {code: value * TRIEU for code, value in amounts.items()}


def _gap(what: str) -> str:
    return placeholder_text(what)


# ---------------------------------------------------------------- the plan with last year's results


@pytest.fixture
def plan_2027(session: Session, units) -> ConsolidatedPlan:
    previous = new_cycle(session, 2026)
    cycle = new_cycle(
        session,
        2027,
        previous_cycle_id=previous.id,
        coordinating_unit_id=units["skhcn"].id,
        guidance_reference="Công văn số 2345/BKHCN-CĐSQG ngày 30/6/2026 của Bộ Khoa học và Công nghệ",
        decision_number="1181/QĐ-UBND",
        decision_date=date(2026, 12, 27),
        decision_signer="Nguyễn Văn An",
    )
    last_year = [  # (unit, name, amounts in triệu)
        ("skhcn", "Nâng cấp trục liên thông văn bản", {"NSDP": 80_000}),
        ("skhcn", "Đánh giá mức độ chuyển đổi số", {"NSDP": 50_000}),
        ("syt", "Đào tạo kỹ năng số", {"NSDP": 20_000}),
        ("syt", "Bệnh án điện tử giai đoạn 1", {"NSDP": 30_000}),
        ("vp", "Phòng họp trực tuyến", {"NSTW": 15_000}),
        ("vp", "Lưu trữ điện tử", {"NSDP": 5_000}),
    ]
    ids = [
        add_plan_item(session, previous, units[unit], name, _trieu(amounts), position=position).id
        for position, (unit, name, amounts) in enumerate(last_year, start=1)
    ]
    session.commit()
    add_submission(
        session,
        cycle,
        units["skhcn"],
        [
            Item("Nền tảng tích hợp, chia sẻ dữ liệu (LGSP)", _trieu({"NSDP": 80_724})),
            Item(
                "Trung tâm giám sát an toàn thông tin", _trieu({"NSDP": 80_000, "NSTW": 10_300}), field="SEC"
            ),
            Item("Cổng dịch vụ công trực tuyến", _trieu({"NSDP": 19_344, "NSTW": 1_000}), field="SVC"),
            Item("Hạ tầng kỹ thuật dùng chung", _trieu({"NSDP": 40_280})),
        ],
        statuses=[(ids[0], "completed", 100, None), (ids[1], "completed", 100, None)],
    )
    add_submission(
        session,
        cycle,
        units["syt"],
        [
            Item(
                "Bệnh án điện tử giai đoạn 2",
                _trieu({"NSDP": 7_930}),
                origin="carry_over",
                carry_over_from_id=ids[3],
            ),
            Item("Hồ sơ sức khỏe điện tử", _trieu({"NSDP": 570}), field="SVC"),
            Item("Phần mềm thống kê y tế", {"NSTW": None}),
        ],
        statuses=[(ids[2], "completed", 100, None), (ids[3], "in_progress", 40, "Chậm giải ngân")],
    )
    add_submission(
        session,
        cycle,
        units["vp"],
        [
            Item("Phần mềm họp không giấy", _trieu({"NSDP": 705})),
            Item(
                "Phòng họp trực tuyến (mở rộng)",
                _trieu({"NSDP": 4_268}),
                origin="carry_over",
                carry_over_from_id=ids[4],
            ),
        ],
        statuses=[
            (ids[4], "in_progress", 60, None),
            (ids[5], "not_started", None, "Chưa được bố trí kinh phí"),
        ],
    )
    add_submission(
        session, cycle, units["xa"], [Item("Trang bị máy tính bộ phận một cửa", _trieu({"NSDP": 16_100}))]
    )
    materialize_plan(session=session, cycle=cycle, actor="tester")
    return build_plan(session=session, cycle=cycle, as_of=AS_OF)


def test_the_draft_follows_the_administrative_layout(plan_2027: ConsolidatedPlan, tmp_path: Path) -> None:
    path = write_plan_document(plan_2027, tmp_path / "out" / "KH2027.docx", province_name="Gia Lai")
    assert path == tmp_path / "out" / "KH2027.docx" and path.exists()
    doc = Document(str(path))

    # A4, margins of Decree 30 (top/bottom 20–25, left 30–35, right 15–20 mm), Times New Roman 14
    section = doc.sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    margins = [
        section.top_margin.mm,
        section.bottom_margin.mm,
        section.left_margin.mm,
        section.right_margin.mm,
    ]
    assert [round(m) for m in margins] == [20, 20, 30, 15]
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size.pt == 14
    fonts = normal.element.rPr.rFonts
    assert {fonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "eastAsia", "cs")} == {"Times New Roman"}
    for name in ("Heading 1", "Heading 2", "Plan Body", "Plan Cell"):
        style = doc.styles[name]
        assert style.font.name in (None, "Times New Roman")
        assert (
            style.element.rPr is None
            or style.element.rPr.rFonts is None
            or (style.element.rPr.rFonts.get(qn("w:asciiTheme")) is None)
        )
    assert {run.font.name for p in _all_paragraphs(doc) for run in p.runs} <= {None, "Times New Roman"}
    assert doc.styles["Plan Body"].font.size is None  # inherits 14 pt from Normal
    assert round(doc.styles["Plan Body"].paragraph_format.first_line_indent.cm, 2) == 1.27

    # the draft mark, first page only; page numbers from page 2
    assert section.different_first_page_header_footer
    assert [p.text for p in section.first_page_header.paragraphs] == [
        "DỰ THẢO",
        "(Số liệu tổng hợp đến ngày 20/11/2026)",
    ]
    assert "PAGE" in section.header.paragraphs[0]._p.xml

    # the two-column header
    header = doc.tables[0]
    assert _rows(header) == [
        [
            "ỦY BAN NHÂN DÂN\nTỈNH GIA LAI\n",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n",
        ],
        ["Số: …/KH-UBND", "Gia Lai, ngày … tháng … năm …"],
    ]
    assert header.cell(0, 0).paragraphs[0].runs[0].bold and header.cell(1, 1).paragraphs[0].runs[0].italic

    # the title: the cycle's title without its leading "Kế hoạch"
    texts = _texts(doc)
    start = texts.index("KẾ HOẠCH")
    assert texts[start + 1 : start + 3] == [
        "Ứng dụng CNTT, chuyển đổi số năm 2027",
        "(Ban hành kèm theo Quyết định số 1181/QĐ-UBND ngày 27/12/2026 của Ủy ban nhân dân tỉnh Gia Lai)",
    ]

    # the six sections in order, as Word headings (navigation pane, table of contents)
    assert _headings(doc) == SECTIONS_2027

    # the signature block and the distribution list
    signature = doc.tables[-1]
    recipients, signer = (cell.text.split("\n") for cell in signature.rows[0].cells)
    assert signer[:3] == ["TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]
    assert signer[-1] == "Nguyễn Văn An"
    assert recipients[0] == "Nơi nhận:"
    assert recipients[1:] == [  # a 2027 plan: the names after the 2025 reorganisation
        "- Bộ Khoa học và Công nghệ (báo cáo);",
        "- Thường trực Tỉnh ủy (báo cáo);",
        "- Thường trực HĐND tỉnh (báo cáo);",
        "- Chủ tịch, các Phó Chủ tịch UBND tỉnh;",
        "- Các sở, ban, ngành thuộc tỉnh;",
        "- UBND các xã, phường;",
        "- Cổng thông tin điện tử tỉnh;",
        "- Lưu: VT.",
    ]

    # every text NFC, including a unit name stored decomposed
    everything = [p.text for p in _all_paragraphs(doc)]
    assert all(unicodedata.is_normalized("NFC", text) for text in everything)
    assert any("UBND xã Ia Grai" in text for text in everything)


def test_the_draft_carries_the_plans_figures(plan_2027: ConsolidatedPlan, tmp_path: Path) -> None:
    doc = Document(str(write_plan_document(plan_2027, tmp_path / "KH2027.docx", province_name="Gia Lai")))
    texts = _texts(doc)

    # I. the guidance letter of the cycle, among the legal bases
    bases = _between(texts, SECTIONS_2027[0], SECTIONS_2027[1])
    assert (
        "- Công văn số 2345/BKHCN-CĐSQG ngày 30/6/2026 của Bộ Khoa học và Công nghệ về việc hướng dẫn xây "
        "dựng kế hoạch năm 2027;"
    ) in bases
    assert bases[-1].endswith(".") and all(line.endswith(";") for line in bases[:-1])

    # II. last year's results: counts by status with shares, open items with their reasons, Annex 01
    results = _between(texts, SECTIONS_2027[1], SECTIONS_2027[2])
    assert results[1] == (
        "Kế hoạch năm 2026 có 6 nhiệm vụ, dự án với tổng kinh phí 200.000 triệu đồng. "
        "Theo báo cáo của các đơn vị chủ trì, kết quả thực hiện như sau:"
    )
    assert results[2:5] == [
        "- Đã hoàn thành: 3 nhiệm vụ, dự án (50%);",
        "- Đang triển khai: 2 nhiệm vụ, dự án (33,3%);",
        "- Chưa triển khai: 1 nhiệm vụ, dự án (16,7%).",
    ]
    assert "2 nhiệm vụ, dự án được chuyển tiếp thực hiện trong năm 2027" in results[5]
    open_items = _between(
        results, "2. Các nhiệm vụ, dự án chưa hoàn thành", "(Chi tiết tại Phụ lục 01 kèm theo)"
    )
    assert open_items == [
        "- 4. Bệnh án điện tử giai đoạn 1 (Sở Y tế): Đang triển khai, đạt 40%; lý do: Chậm giải ngân;",
        "- 5. Phòng họp trực tuyến (Văn phòng UBND tỉnh): Đang triển khai, đạt 60%; lý do: "
        f"{_gap('lý do chưa hoàn thành')};",
        "- 6. Lưu trữ điện tử (Văn phòng UBND tỉnh): Chưa triển khai; lý do: Chưa được bố trí kinh phí.",
    ]

    # III. data-driven objectives
    objectives = _between(texts, SECTIONS_2027[2], SECTIONS_2027[3])
    assert (
        "- Triển khai 10 nhiệm vụ, dự án do 4 đơn vị chủ trì thực hiện, với tổng kinh phí 261.221 triệu đồng."
        in objectives
    )
    # carry-over: 7.930 + 4.268 = 12.198 of 261.221 = 4,67%
    assert (
        "- Hoàn thành 2 nhiệm vụ, dự án chuyển tiếp, với kinh phí 12.198 triệu đồng (4,7% tổng kinh phí); "
        "triển khai 8 nhiệm vụ, dự án mới."
    ) in objectives

    # IV. the group table: coordinator first, then departments, leadership offices, communes
    tasks = _between(texts, SECTIONS_2027[3], SECTIONS_2027[4])
    assert any("chi tiết tại Phụ lục 02" in line for line in tasks)
    assert "Đơn vị tính: triệu đồng" in tasks
    assert _rows(_group_table(doc)) == [
        ["STT", "Đơn vị chủ trì", "Số nhiệm vụ, dự án", "Kinh phí năm 2027"],
        ["I", "Sở Khoa học và Công nghệ", "4", "231.648"],
        ["II", "Sở Y tế", "3", "8.500"],
        ["III", "Văn phòng UBND tỉnh", "2", "4.973"],
        ["IV", "UBND xã Ia Grai", "1", "16.100"],
        ["", "Tổng cộng", "10", "261.221"],
    ]
    assert sum(int(r[3].replace(".", "")) for r in _rows(_group_table(doc))[1:-1]) == 261_221
    # … and the funding paragraph of the Gia Lai plan, word for word in its amounts
    funding = tasks[tasks.index("2. Kinh phí thực hiện") + 1 :]
    assert funding[:4] == [
        "Tổng kinh phí năm 2027: 261.221 triệu đồng (Bằng chữ: Hai trăm sáu mươi mốt tỷ, hai trăm hai mươi "
        "mốt triệu đồng chẵn);",
        "Trong đó:",
        "+ Ngân sách địa phương: 249.921 triệu đồng (Hai trăm bốn mươi chín tỷ, chín trăm hai mươi mốt "
        "triệu đồng chẵn);",
        "+ Ngân sách Trung ương: 11.300 triệu đồng (Mười một tỷ, ba trăm triệu đồng chẵn).",
    ]
    assert money_in_words(plan_2027.grand_totals["total"]) in funding[0]
    assert funding[4] == (
        "Ngoài ra, 1 nhiệm vụ, dự án (II.3) có ghi nguồn vốn nhưng chưa ghi số tiền, chưa được tính vào "
        "tổng kinh phí."
    )
    assert funding[5] == (
        "So với Kế hoạch năm 2026 (tổng kinh phí 200.000 triệu đồng), tổng kinh phí năm 2027 tăng "
        "61.221 triệu đồng (30,6%)."
    )

    # VI. the coordinator from the cycle, the finance department, each lead unit with its share
    organisation = texts[texts.index(SECTIONS_2027[5]) + 1 :]
    assert "1. Sở Khoa học và Công nghệ" in organisation
    assert "2. Sở Tài chính" in organisation
    assert "- Sở Khoa học và Công nghệ: 4 nhiệm vụ, dự án, kinh phí 231.648 triệu đồng;" in organisation
    assert "- UBND xã Ia Grai: 1 nhiệm vụ, dự án, kinh phí 16.100 triệu đồng." in organisation
    assert any("về Sở Khoa học và Công nghệ để tổng hợp" in line for line in organisation)
    assert organisation[-1].endswith("./.")

    # placeholders only where the data does not exist: no provincial bases configured, one missing
    # reason, and the narrative parts no table holds (assessment, numeric targets)
    assert sorted(set(_placeholders(doc))) == sorted(
        {
            _gap("các nghị quyết, chương trình, kế hoạch của tỉnh Gia Lai làm căn cứ"),
            _gap("lý do chưa hoàn thành"),
            _gap("kết quả nổi bật; tồn tại, hạn chế và nguyên nhân; bài học kinh nghiệm năm 2026"),
            _gap(
                "các chỉ tiêu cụ thể năm 2027 (dịch vụ công trực tuyến, hồ sơ xử lý trên môi trường mạng, "
                "dữ liệu số, an toàn thông tin…) theo hướng dẫn của Trung ương và của tỉnh"
            ),
        }
    )
    highlighted = [
        run.text
        for p in _all_paragraphs(doc)
        for run in p.runs
        if run.font.highlight_color == WD_COLOR_INDEX.YELLOW
    ]
    assert sorted(highlighted) == sorted(_placeholders(doc))


def test_writing_twice_gives_the_same_text(plan_2027: ConsolidatedPlan, tmp_path: Path) -> None:
    first = write_plan_document(plan_2027, tmp_path / "a.docx", province_name="Gia Lai")
    second = write_plan_document(plan_2027, tmp_path / "a.docx", province_name="Gia Lai")
    assert first == second
    again = write_plan_document(plan_2027, tmp_path / "b.docx", province_name="Gia Lai")
    assert [p.text for p in _all_paragraphs(Document(str(first)))] == [
        p.text for p in _all_paragraphs(Document(str(again)))
    ]


# ---------------------------------------------------------------- a first plan, nothing recorded yet


def test_a_first_plan_without_previous_year_or_references_shows_placeholders(
    session: Session, units, tmp_path: Path
) -> None:
    cycle = new_cycle(session, 2027)  # no previous cycle, guidance, coordinator or signer
    add_submission(
        session,
        cycle,
        units["syt"],
        [
            Item("Bệnh án điện tử", {"NSDP": 3_000 * TRIEU + 500_000}),
            Item("Giám sát an toàn thông tin", {"NSTW": 1_500 * TRIEU}, field="SEC"),
        ],
    )
    materialize_plan(session=session, cycle=cycle, actor="tester")
    plan = build_plan(session=session, cycle=cycle, grouping="field", as_of=AS_OF)
    assert plan.previous_year is None

    doc = Document(str(write_plan_document(plan, tmp_path / "KH2027.docx", province_name="Đắk Lắk")))
    texts = _texts(doc)

    assert _headings(doc) == SECTIONS_2027  # "năm 2026" still: the year before the plan's
    assert doc.tables[0].cell(0, 0).text.split("\n")[:2] == ["ỦY BAN NHÂN DÂN", "TỈNH ĐẮK LẮK"]
    assert doc.tables[0].cell(1, 1).text == "Đắk Lắk, ngày … tháng … năm …"
    assert not any(text.startswith("(Ban hành kèm theo") for text in texts)

    no_previous = _gap(
        "đánh giá kết quả thực hiện Kế hoạch năm 2026 (hệ thống chưa có dữ liệu kế hoạch năm 2026)"
    )
    assert _between(texts, SECTIONS_2027[1], SECTIONS_2027[2]) == [no_previous]

    # grouped by field: the table says so; amounts not whole triệu keep three decimals, words every đồng
    assert _rows(_group_table(doc)) == [
        ["STT", "Lĩnh vực ứng dụng", "Số nhiệm vụ, dự án", "Kinh phí năm 2027"],
        ["I", "Ứng dụng CNTT trong nội bộ cơ quan nhà nước", "1", "3.000,5"],
        ["II", "Bảo đảm an toàn thông tin", "1", "1.500"],
        ["", "Tổng cộng", "2", "4.500,5"],
    ]
    tasks = _between(texts, SECTIONS_2027[3], SECTIONS_2027[4])
    assert (
        "Tổng kinh phí năm 2027: 4.500,5 triệu đồng (Bằng chữ: Bốn tỷ, năm trăm triệu năm trăm nghìn đồng "
        "chẵn);"
    ) in tasks
    assert not any(line.startswith("So với Kế hoạch năm") for line in tasks)
    assert (
        "- Tất cả 2 nhiệm vụ, dự án là nhiệm vụ, dự án mới; không có nhiệm vụ, dự án chuyển tiếp từ năm 2026."
        in texts
    )

    coordinator = _gap("cơ quan chủ trì tham mưu Kế hoạch")
    assert f"1. {coordinator}" in _headings(doc, "Heading 2")
    assert doc.tables[-1].rows[0].cells[1].text.split("\n")[-1] == _gap("họ và tên người ký")
    assert sorted(set(_placeholders(doc))) == sorted(
        {
            _gap(
                "văn bản hướng dẫn xây dựng kế hoạch năm 2027 của Bộ, ngành Trung ương "
                "(số, ngày, cơ quan ban hành)"
            ),
            _gap("các nghị quyết, chương trình, kế hoạch của tỉnh Đắk Lắk làm căn cứ"),
            no_previous,
            _gap(
                "các chỉ tiêu cụ thể năm 2027 (dịch vụ công trực tuyến, hồ sơ xử lý trên môi trường mạng, "
                "dữ liệu số, an toàn thông tin…) theo hướng dẫn của Trung ương và của tỉnh"
            ),
            coordinator,
            _gap("họ và tên người ký"),
        }
    )


def test_an_empty_plan_still_writes_a_draft(session: Session, tmp_path: Path) -> None:
    cycle = new_cycle(session, 2027)
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    doc = Document(str(write_plan_document(plan, tmp_path / "empty.docx", province_name="Gia Lai")))
    texts = _texts(doc)
    assert _headings(doc) == SECTIONS_2027
    assert "Tổng kinh phí năm 2027: 0 triệu đồng (Bằng chữ: Không đồng)." in texts
    assert not [t for t in doc.tables if t.rows[0].cells[0].text == "STT"]


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (1, 3, "33,3%"),
        (1, 2, "50%"),
        (2, 3, "66,7%"),
        (1, 2000, "0,1%"),
        (249_221, 12_000, "2.076,8%"),
        (3, 0, "0%"),
    ],
)
def test_percentages_are_written_the_vietnamese_way(part: int, whole: int, expected: str) -> None:
    assert share_percent(part, whole) == expected
