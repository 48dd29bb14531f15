"""Consolidation from accepted submissions: exact totals, grouping, last year's comparison, Annex 01 and
every check, against a real migrated database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from models import AuditEntry, FundingEnvelope, PlanItem, PlanVersion
from tasks.common.money import parse_money
from tasks.consolidation.checks import similar_name_clusters
from tasks.consolidation.consolidated import ConsolidationError, roman
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_plan_item, add_submission, make_unit, new_cycle

AS_OF = date(2026, 11, 20)
TRIEU = 1_000_000
TY = 1_000_000_000


@pytest.fixture
def units(session: Session) -> dict[str, object]:
    return {
        "stttt": make_unit(session, code="STTTT", name="Sở Thông tin và Truyền thông"),
        "syt": make_unit(session, code="SYT", name="Sở Y tế"),
        "vp": make_unit(session, code="VPUB", name="Văn phòng UBND tỉnh", kind="provincial_leadership"),
        "xa": make_unit(session, code="XIAGRAI", name="UBND xã Ia Grai", kind="commune"),
        "skhdt": make_unit(session, code="SKHDT", name="Sở Kế hoạch và Đầu tư"),
    }


def test_totals_are_exact_whatever_unit_the_amounts_were_entered_in(session: Session, units) -> None:
    cycle = new_cycle(session, 2027, coordinating_unit_id=units["stttt"].id)
    # what units typed, in đồng, triệu and tỷ, parsed the way intake parses them
    entered = [
        ("1.234.567", "dong"),
        ("596,5", "trieu"),
        ("0,25", "ty"),
        ("3.384", "trieu"),
        ("1,000000001", "ty"),
        ("999.999.999", "dong"),
    ]
    values = [parse_money(text, unit) for text, unit in entered]
    assert values == [1_234_567, 596_500_000, 250_000_000, 3_384_000_000, 1_000_000_001, 999_999_999]
    add_submission(
        session,
        cycle,
        units["syt"],
        [
            Item("Hồ sơ sức khỏe điện tử", {"NSDP": values[0], "NSTW": values[1]}),
            Item("Phần mềm thống kê y tế", {"NSDP": values[2]}),
        ],
    )
    add_submission(
        session,
        cycle,
        units["stttt"],
        [
            Item("Nâng cấp phần mềm quản lý văn bản", {"NSDP": values[3]}),
            Item("Trung tâm giám sát an toàn thông tin", {"NSDP": values[4], "NSTW": values[5]}, field="SEC"),
        ],
    )
    result = materialize_plan(session=session, cycle=cycle, actor="tester")
    assert (result.items, result.amounts, result.versions) == (4, 6, 2)

    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)

    nsdp = values[0] + values[2] + values[3] + values[4]
    nstw = values[1] + values[5]
    assert plan.grand_totals == {"NSDP": nsdp, "NSTW": nstw, "total": nsdp + nstw}
    assert plan.grand_totals["total"] == sum(values)
    assert all(isinstance(v, int) for v in plan.grand_totals.values())
    # coordinator first, Roman numerals, refs within groups
    assert list(plan.groups["group_label"]) == ["Sở Thông tin và Truyền thông", "Sở Y tế"]
    assert list(plan.items["ref"]) == ["I.1", "I.2", "II.1", "II.2"]
    assert list(plan.groups["total"]) == [
        values[3] + values[4] + values[5],
        values[0] + values[1] + values[2],
    ]
    assert int(plan.groups["amt:NSTW"].sum()) == nstw
    # display rounding is a separate thing: 596,5 triệu shows rounded, the total keeps every đồng
    assert plan.money(values[1]) == "596,5"
    assert "chính xác đến đồng" in plan.rounding_rule_vi


def test_grouping_by_lead_unit_orders_coordinator_then_kinds_and_by_field_follows_the_field_list(
    session: Session, units
) -> None:
    cycle = new_cycle(session, 2027, coordinating_unit_id=units["stttt"].id)
    add_submission(
        session, cycle, units["xa"], [Item("Trang bị máy tính cho bộ phận một cửa", {"NSDP": 50 * TRIEU})]
    )
    add_submission(
        session,
        cycle,
        units["vp"],
        [
            Item("Phần mềm họp không giấy", {"NSDP": 100 * TRIEU}, field="SVC"),
            Item("Đào tạo", {"NSDP": 30 * TRIEU}, field=None),
        ],
    )
    add_submission(session, cycle, units["syt"], [Item("Bệnh án điện tử", {"NSTW": 2 * TY}, field="SVC")])
    add_submission(
        session, cycle, units["stttt"], [Item("Giám sát an toàn thông tin", {"NSDP": 80 * TY}, field="SEC")]
    )
    materialize_plan(session=session, cycle=cycle, actor="tester")

    by_unit = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    assert list(by_unit.groups["group_roman"]) == ["I", "II", "III", "IV"]
    assert list(by_unit.groups["group_label"]) == [
        "Sở Thông tin và Truyền thông",  # the coordinator
        "Sở Y tế",  # departments
        "Văn phòng UBND tỉnh",  # provincial leadership
        "UBND xã Ia Grai",  # communes last
    ]
    assert list(by_unit.groups["items"]) == [1, 1, 2, 1]

    by_field = build_plan(session=session, cycle=cycle, grouping="field", as_of=AS_OF)
    assert list(by_field.groups["group_label"]) == [
        "Ứng dụng CNTT trong nội bộ cơ quan nhà nước",
        "Ứng dụng CNTT phục vụ người dân và doanh nghiệp",
        "Bảo đảm an toàn thông tin",
        "Chưa xác định lĩnh vực",
    ]
    assert list(by_field.items["ref"]) == ["I.1", "II.1", "II.2", "III.1", "IV.1"]
    # within a field group, units keep the plan's unit order: Sở Y tế before Văn phòng UBND
    assert list(by_field.items[by_field.items["group_no"] == 2]["lead_unit_code"]) == ["SYT", "VPUB"]
    assert by_field.grand_totals == by_unit.grand_totals
    assert sorted(by_field.by_field["total"]) == sorted(
        [50 * TRIEU, 2 * TY + 100 * TRIEU, 80 * TY, 30 * TRIEU]
    )
    with pytest.raises(ConsolidationError, match="lead_unit"):
        build_plan(session=session, cycle=cycle, grouping="district", as_of=AS_OF)


def test_only_chosen_statuses_and_the_latest_version_count(session: Session, units) -> None:
    cycle = new_cycle(session, 2027)
    add_submission(session, cycle, units["syt"], [Item("Phiên bản cũ", {"NSDP": 1 * TY})], status="returned")
    add_submission(session, cycle, units["syt"], [Item("Phiên bản mới", {"NSDP": 2 * TY})])
    add_submission(session, cycle, units["vp"], [Item("Chưa xem xét", {"NSDP": 5 * TY})], status="submitted")

    materialize_plan(session=session, cycle=cycle, actor="tester")
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    assert list(plan.items["name"]) == ["Phiên bản mới"] and plan.grand_totals["total"] == 2 * TY

    materialize_plan(session=session, cycle=cycle, statuses=("accepted", "submitted"), actor="tester")
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    assert sorted(plan.items["name"]) == ["Chưa xem xét", "Phiên bản mới"]
    assert plan.grand_totals["total"] == 7 * TY
    assert len(session.exec(select(PlanItem)).all()) == 2  # replaced, not added
    with pytest.raises(ConsolidationError) as refused:
        materialize_plan(session=session, cycle=cycle, statuses=("approved",), actor="tester")
    assert "không hợp lệ" in refused.value.message_vi


def test_comparison_with_last_year_annex01_and_carry_over_reconciliation(session: Session, units) -> None:
    previous = new_cycle(session, 2026)
    cycle = new_cycle(session, 2027, previous_cycle_id=previous.id)
    continuing = add_plan_item(
        session, previous, units["syt"], "Bệnh án điện tử giai đoạn 1", {"NSDP": 3 * TY}, position=1
    )
    done = add_plan_item(
        session, previous, units["syt"], "Đào tạo kỹ năng số", {"NSDP": 200 * TRIEU}, position=2
    )
    forgotten = add_plan_item(
        session,
        previous,
        units["vp"],
        "Nâng cấp phòng họp trực tuyến",
        {"NSTW": 1 * TY, "NSDP": None},
        position=3,
    )
    add_plan_item(
        session,
        previous,
        units["skhdt"],
        "Bản đồ số đầu tư",
        {"NSDP": 700 * TRIEU},
        position=4,
        status="completed",
    )
    session.commit()
    add_submission(
        session,
        cycle,
        units["syt"],
        [
            Item(
                "Bệnh án điện tử giai đoạn 2",
                {"NSDP": 4 * TY},
                origin="carry_over",
                carry_over_from_id=continuing.id,
            ),
            Item("Chuyển tiếp không rõ nguồn gốc", {"NSDP": 1 * TY}, origin="carry_over"),
        ],
        statuses=[(continuing.id, "in_progress", 40, "Chậm giải ngân"), (done.id, "completed", 100, None)],
    )
    add_submission(session, cycle, units["vp"], [Item("Phần mềm họp không giấy", {"NSDP": 500 * TRIEU})])
    materialize_plan(session=session, cycle=cycle, actor="tester")

    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)

    assert plan.previous_year == 2026
    assert plan.previous_totals == {
        "NSDP": 3 * TY + 900 * TRIEU,
        "NSTW": 1 * TY,
        "total": 4 * TY + 900 * TRIEU,
    }
    assert int(plan.previous_by_group["previous_total"].sum()) == plan.previous_totals["total"]
    assert int(plan.previous_by_group["total"].sum()) == plan.grand_totals["total"]
    assert list(plan.previous_by_group["group_label"])[-1] == "Sở Kế hoạch và Đầu tư"  # nothing this year
    compare = plan.previous_by_group.set_index("group_label")
    assert compare.loc["Sở Y tế", "previous_total"] == 3 * TY + 200 * TRIEU
    assert compare.loc["Sở Y tế", "change"] == 5 * TY - (3 * TY + 200 * TRIEU)
    assert compare.loc["Văn phòng UBND tỉnh", "change"] == 500 * TRIEU - 1 * TY
    assert compare.loc["Sở Kế hoạch và Đầu tư", "change"] == -700 * TRIEU
    origin = plan.by_origin.set_index("origin")
    assert origin.loc["carry_over", "total"] == 5 * TY and origin.loc["new", "total"] == 500 * TRIEU

    annex = plan.annex01.set_index("name")
    assert annex.loc["Bệnh án điện tử giai đoạn 1", "status_label"] == "Đang triển khai"
    assert annex.loc["Bệnh án điện tử giai đoạn 1", "percent_complete"] == 40
    assert annex.loc["Bệnh án điện tử giai đoạn 1", "note"] == "Chậm giải ngân"
    assert bool(annex.loc["Bệnh án điện tử giai đoạn 1", "carried_over"]) is True
    assert annex.loc["Đào tạo kỹ năng số", "status_label"] == "Đã hoàn thành"
    assert annex.loc["Nâng cấp phòng họp trực tuyến", "sources"] == "NSDP: chưa ghi số; NSTW: 1.000"

    kinds = {(f.kind, tuple(f.refs)) for f in plan.findings}
    assert ("carry_over_not_in_previous_plan", ("I.2",)) in kinds
    # the forgotten item: in progress last year (tracked status), not carried over, not closed
    assert ("open_item_not_carried_over", ("PL01-3",)) in kinds
    assert not any(f.kind == "open_item_not_carried_over" and f.refs == ["PL01-2"] for f in plan.findings)
    assert forgotten.id is not None


def test_checks_name_the_items_involved(session: Session, units) -> None:
    cycle = new_cycle(session, 2027)
    add_submission(
        session,
        cycle,
        units["syt"],
        [
            Item("Triển khai phần mềm họp không giấy (eCabinet) năm 2027", {"NSDP": 100 * TRIEU}),
            Item("Phần mềm thống kê y tế điện tử", {"NSTW": None}),
            Item("Khảo sát nhu cầu", {}),
        ],
    )
    add_submission(
        session,
        cycle,
        units["vp"],
        [
            Item("Triển khai phần mềm họp không giấy eCabinet", {"NSDP": 300 * TRIEU}),
            Item("Trang bị thiết bị lưu trữ NAS", {"NSDP": 40 * TRIEU}),
        ],
    )
    add_submission(
        session, cycle, units["skhdt"], [Item("Thuê phần mềm họp không giấy", {"NSDP": 130 * TRIEU})]
    )
    nsdp = next(s for s in build_plan(session=session, cycle=cycle, as_of=AS_OF).sources if s.code == "NSDP")
    session.add(FundingEnvelope(cycle_id=cycle.id, funding_source_id=nsdp.id, amount=500 * TRIEU))
    session.add(
        FundingEnvelope(
            cycle_id=cycle.id, funding_source_id=nsdp.id, unit_id=units["vp"].id, amount=300 * TRIEU
        )
    )
    session.add(
        FundingEnvelope(
            cycle_id=cycle.id, funding_source_id=nsdp.id, unit_id=units["syt"].id, amount=50 * TRIEU
        )
    )
    session.commit()
    materialize_plan(session=session, cycle=cycle, actor="tester")

    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    refs = {ref: name for ref, name in zip(plan.items["ref"], plan.items["name"], strict=True)}
    by_kind: dict[str, list] = {}
    for finding in plan.findings:
        by_kind.setdefault(finding.kind, []).append(finding)

    (unstated,) = by_kind["amount_not_stated"]
    assert refs[unstated.refs[0]] == "Phần mềm thống kê y tế điện tử" and "NSTW" in unstated.message_vi
    (no_amount,) = by_kind["no_amount"]
    assert refs[no_amount.refs[0]] == "Khảo sát nhu cầu"
    (duplicate,) = by_kind["possible_duplicate"]
    assert sorted(refs[r] for r in duplicate.refs) == [
        "Triển khai phần mềm họp không giấy (eCabinet) năm 2027",
        "Triển khai phần mềm họp không giấy eCabinet",
    ]
    assert set(duplicate.units) == {"Sở Y tế", "Văn phòng UBND tỉnh"}
    over = {(f.units[0] if f.units else None): f for f in by_kind["over_envelope"]}
    assert set(over) == {None, "Sở Y tế", "Văn phòng UBND tỉnh"}
    assert "vượt 70" in over[None].message_vi  # 570 planned against 500
    assert "vượt 50" in over["Sở Y tế"].message_vi
    assert "vượt 40" in over["Văn phòng UBND tỉnh"].message_vi  # 340 against 300
    envelopes = {(e.unit_code, e.source_code): e.gap for e in plan.envelopes}
    assert envelopes == {
        (None, "NSDP"): -70 * TRIEU,
        ("VPUB", "NSDP"): -40 * TRIEU,
        ("SYT", "NSDP"): -50 * TRIEU,
    }
    assert {f.severity for f in by_kind["over_envelope"]} == {"error"}


def test_similar_names_scale_and_same_unit_is_not_a_duplicate() -> None:
    import pandas as pd

    names = [f"Xây dựng cơ sở dữ liệu chuyên ngành số {i} loại {i * 7 % 13}" for i in range(20_000)]
    frame = pd.DataFrame(
        {"name": names + ["Cổng dịch vụ công", "Cổng dịch vụ công"], "lead_unit_id": [1] * 20_002}
    )
    assert similar_name_clusters(frame) == []  # same lead unit: not "two units proposing"
    frame.loc[20_001, "lead_unit_id"] = 2
    assert similar_name_clusters(frame) == [[20_000, 20_001]]


def test_consolidation_is_refused_once_a_plan_version_is_frozen(session: Session, units) -> None:
    cycle = new_cycle(session, 2027)
    add_submission(session, cycle, units["syt"], [Item("Bệnh án điện tử", {"NSDP": 1 * TY})])
    materialize_plan(session=session, cycle=cycle, actor="tester")
    session.add(PlanVersion(cycle_id=cycle.id, number=1, content_hash="x" * 64, content={}))
    cycle.status = "circulating"
    session.add(cycle)
    session.commit()
    with pytest.raises(ConsolidationError) as refused:
        materialize_plan(session=session, cycle=cycle, actor="tester")
    assert "đã được chốt phiên bản 1" in refused.value.message_vi
    assert len(session.exec(select(PlanItem)).all()) == 1
    audit = session.exec(select(AuditEntry).where(AuditEntry.action == "plan.consolidated")).all()
    assert len(audit) == 1

    # the approvers returned the plan (cycle back to reviewing), the unit resubmitted: consolidate again
    cycle.status = "reviewing"
    session.add(cycle)
    session.commit()
    add_submission(session, cycle, units["syt"], [Item("Bệnh án điện tử (bổ sung)", {"NSDP": 2 * TY})])
    materialize_plan(session=session, cycle=cycle, actor="tester")
    assert [i.name for i in session.exec(select(PlanItem)).all()] == ["Bệnh án điện tử (bổ sung)"]


def test_roman_numerals() -> None:
    assert [roman(n) for n in (1, 4, 9, 11, 14, 40, 90)] == ["I", "IV", "IX", "XI", "XIV", "XL", "XC"]
