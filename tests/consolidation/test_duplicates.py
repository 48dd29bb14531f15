"""Probable duplicates found for the coordinator: measured on a labelled set of pairs built from the
reference plans (tests/consolidation/data/duplicate_pairs.csv: Gia Lai's 2019 items against its 2020
items, as the notes link them, and 2020 items of different units, plus a few spelled with abbreviations or
without accents), and reported by consolidation with their evidence."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from sqlmodel import Session

from tasks.consolidation.duplicates import is_probable_duplicate, settings, similarity
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_plan_item, add_submission, make_unit, new_cycle

PAIRS = Path(__file__).resolve().parent / "data" / "duplicate_pairs.csv"
TRIEU = 1_000_000


def test_precision_and_recall_on_the_labelled_set() -> None:
    rows = list(csv.DictReader(PAIRS.open(encoding="utf-8"), delimiter=";"))
    assert len(rows) == 47 and sum(r["label"] == "1" for r in rows) == 20
    outcome = [(is_probable_duplicate(r["a_name"], r["b_name"]), r["label"] == "1") for r in rows]
    true_positive = sum(1 for found, wanted in outcome if found and wanted)
    false_positive = sum(1 for found, wanted in outcome if found and not wanted)
    false_negative = sum(1 for found, wanted in outcome if not found and wanted)
    precision = true_positive / (true_positive + false_positive)
    recall = true_positive / (true_positive + false_negative)
    print(f"threshold {settings()['threshold']}: precision {precision:.2f}, recall {recall:.2f}")
    assert precision >= 0.9 and recall >= 0.85


def test_accents_abbreviations_and_batches() -> None:
    assert (
        similarity("Xây dựng CSDL tài nguyên môi trường", "Xay dung co so du lieu tai nguyen moi truong") == 1
    )
    assert similarity("Nâng cấp hệ thống QLVB&ĐH", "Nâng cấp phần mềm quản lý văn bản và điều hành") == 1
    assert similarity("Trang bị máy tính đợt 10", "Trang bị máy tính đợt 11") == 0  # parts of one programme
    assert similarity("Trang bị máy tính đợt 10", "Trang bị máy tính đợt 10") == 1


def test_consolidation_lists_probable_duplicates_with_their_evidence(session: Session) -> None:
    stttt = make_unit(session, code="STTTT", name="Sở Thông tin và Truyền thông")
    syt = make_unit(session, code="SYT", name="Sở Y tế")
    vp = make_unit(session, code="VPUBND", name="Văn phòng UBND tỉnh", kind="provincial_leadership")
    skhdt = make_unit(session, code="SKHDT", name="Sở Kế hoạch và Đầu tư")
    last = new_cycle(session, 2026, status="closed")
    contest_2026 = "Hội thi Tin học trẻ tỉnh năm 2026"
    add_plan_item(session, last, stttt, contest_2026, {"NSDP": 172 * TRIEU}, position=1, status="completed")
    gis = add_plan_item(
        session, last, stttt, "Xây dựng CSDL nền địa lý (GIS)", {"NSDP": 5 * TRIEU}, position=2
    )
    cycle = new_cycle(session, 2027, previous_cycle_id=last.id)
    add_submission(
        session,
        cycle,
        stttt,
        [
            Item("Tổ chức Hội thi tin học trẻ tỉnh năm 2027", {"NSDP": 180 * TRIEU}),
            Item(
                "Xây dựng cơ sở dữ liệu nền địa lý (GIS) của tỉnh",
                {"NSDP": 3_000 * TRIEU},
                origin="carry_over",
                carry_over_from_id=gis.id,
            ),
        ],
    )
    document_system = "Triển khai Hệ thống Quản lý văn bản và điều hành tại các đơn vị trực thuộc Sở Y tế"
    add_submission(session, cycle, syt, [Item(document_system, {"NSDP": 250 * TRIEU})])
    add_submission(
        session, cycle, vp, [Item("Triển khai phần mềm họp không giấy tờ (eCabinet)", {"NSDP": 100 * TRIEU})]
    )
    add_submission(
        session, cycle, skhdt, [Item("Thuê dịch vụ phần mềm họp không giấy tờ", {"NSDP": 130 * TRIEU})]
    )
    materialize_plan(session=session, cycle=cycle, actor="test")
    plan = build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))

    found = [f for f in plan.findings if f.kind == "probable_duplicate"]
    messages = [f.message_vi for f in found]
    assert len(found) == 3 and all(f.severity == "warning" for f in found)
    same_year = next(m for m in messages if m.startswith("Có thể trùng lặp:"))
    assert (
        "«Triển khai phần mềm họp không giấy tờ (eCabinet)» (Văn phòng UBND tỉnh, 100 triệu đồng)"
        in same_year
    )
    assert "«Thuê dịch vụ phần mềm họp không giấy tờ» (Sở Kế hoạch và Đầu tư, 130 triệu đồng)" in same_year
    assert "tên giống nhau 69%" in same_year
    repeat = next(m for m in messages if m.startswith("Có thể lặp lại"))
    assert "«Tổ chức Hội thi tin học trẻ tỉnh năm 2027»" in repeat and "của kế hoạch năm 2026" in repeat
    assert f"«{contest_2026}»" in repeat
    platform = next(m for m in messages if m.startswith("Có thể trùng nền tảng dùng chung"))
    assert "(Sở Y tế, 250 triệu đồng) đề xuất «Hệ thống quản lý văn bản và điều hành dùng chung»" in platform
    # the GIS database, linked as carry-over, is a continuation, not a repeat
    assert not any("GIS" in m for m in messages)
