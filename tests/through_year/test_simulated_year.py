"""A simulated plan year on a real database, clocked by ``as_of``: four quarterly reports (one unit late in
Q2, one missing in Q3), indicators per administrative level, an amendment approved as a new version, the
year closed, and the next cycle opened with the right carry-over candidates and Annex 01."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from models import AuditEntry, PlanItem, PlanVersion
from tasks.approval.amendments import (
    AddItem,
    AmendmentProposal,
    ChangeAmount,
    DropItem,
    decide_amendment,
    list_amendments,
    propose_amendment,
)
from tasks.approval.chain import get_stage
from tasks.approval.decisions import DecisionData, DecisionRefused
from tasks.approval.versions import version_totals
from tasks.consolidation.plan import build_plan, materialize_plan
from tasks.progress.report import choose_period, progress_snapshot, track_statuses
from tasks.progress.year_end import close_year
from tasks.submissions.cycles import CycleSpec, FundingSourceSpec, open_cycle_records
from tasks.submissions.workbook import load_workbook_context
from tests.consolidation.plan_world import Item, add_submission
from tests.through_year.year_world import TRIEU, YEAR, YearWorld, build_year, request_reports, send_report


def _quarter_one(session: Session, world: YearWorld) -> None:
    request_reports(session, world, "Q1")
    sent = world.periods["Q1"].deadline - timedelta(days=1)
    send_report(
        session, world, "Q1", "SKHCN", sent, {"giam-sat": ("in_progress", 25, 100)}, {"CT01": 85, "CT02": 0}
    )
    send_report(
        session,
        world,
        "Q1",
        "SYT",
        sent,
        {"benh-an": ("in_progress", 20, 300), "thong-ke": ("not_started", 0, 0)},
    )
    send_report(
        session,
        world,
        "Q1",
        "SGD",
        sent,
        {"so-diem": ("in_progress", 30, 90), "hoc-lieu": ("in_progress", 10, 0)},
    )
    send_report(session, world, "Q1", "HCP", sent, {"mot-cua": ("in_progress", 40, 50)}, {"CT01": 60})
    send_report(session, world, "Q1", "XIK", sent, values={"CT01": 20})


def _quarter_two(session: Session, world: YearWorld) -> None:
    request_reports(session, world, "Q2")
    deadline = world.periods["Q2"].deadline
    send_report(
        session,
        world,
        "Q2",
        "SKHCN",
        deadline,
        {"giam-sat": ("in_progress", 50, 400)},
        {"CT01": 88, "CT02": 1},
    )
    send_report(
        session,
        world,
        "Q2",
        "SYT",
        deadline,
        {"benh-an": ("in_progress", 40, 900), "thong-ke": ("suspended", 0, 0)},
        problems={"thong-ke": "Chờ hướng dẫn của Bộ Y tế về bộ chỉ số thống kê"},
    )
    # Sở Giáo dục is three days late
    send_report(
        session,
        world,
        "Q2",
        "SGD",
        deadline + timedelta(days=3),
        {"so-diem": ("in_progress", 60, 200), "hoc-lieu": ("in_progress", 30, 150)},
    )
    send_report(session, world, "Q2", "HCP", deadline, {"mot-cua": ("in_progress", 70, 100)}, {"CT01": 65})
    send_report(session, world, "Q2", "XIK", deadline, values={"CT01": 28})


def _amend(session: Session, world: YearWorld) -> PlanVersion:
    cycle = world.cycle
    benh_an = world.items["benh-an"].row_ref
    proposal = AmendmentProposal(
        reason="Cân đối lại nguồn vốn giữa năm theo Nghị quyết HĐND tỉnh",
        add_items=[
            AddItem(
                name="Nền tảng học trực tuyến",
                lead_unit_code="SGD",
                amounts={"NSDP": "350"},
                field_code="SVC",
                reason="Triển khai theo chỉ đạo của Bộ Giáo dục và Đào tạo",
            )
        ],
        change_amounts=[
            ChangeAmount(
                item_ref=benh_an, source_code="NSDP", amount="2.000", reason="Giảm do đấu thầu tiết kiệm"
            )
        ],
    )
    # an invalid proposal is refused with reasons, nothing recorded
    with pytest.raises(DecisionRefused) as refused:
        propose_amendment(
            session=session,
            cycle=cycle,
            proposal=AmendmentProposal(reason="", drop_items=[DropItem(item_ref="IX.9", reason="")]),
            actor="coordinator",
        )
    assert any("IX.9" in m for m in refused.value.messages_vi)
    amendment = propose_amendment(session=session, cycle=cycle, proposal=proposal, actor="coordinator")
    session.commit()
    assert amendment.number == 1 and amendment.state == "proposed"
    stage = get_stage(session=session, cycle=cycle, code="UBND")
    # approval without the amending decision's number is refused
    with pytest.raises(DecisionRefused):
        decide_amendment(
            session=session,
            cycle=cycle,
            number=1,
            stage=stage,
            data=DecisionData(approver="chutich@example.org", decision="approve"),
            idempotency_key="amend-1-a",
            actor="test",
        )
    decided = decide_amendment(
        session=session,
        cycle=cycle,
        number=1,
        stage=stage,
        data=DecisionData(
            approver="chutich@example.org",
            decision="approve",
            decision_number="1234/QĐ-UBND",
            decision_date=date(2027, 7, 10),
            signer="Nguyễn Văn A",
        ),
        idempotency_key="amend-1-b",
        actor="test",
    )
    session.commit()
    assert decided.state == "approved" and decided.decision_number == "1234/QĐ-UBND"
    again = decide_amendment(
        session=session,
        cycle=cycle,
        number=1,
        stage=stage,
        data=DecisionData(approver="chutich@example.org", decision="return_for_revision", comment="x"),
        idempotency_key="amend-1-c",
        actor="test",
    )
    assert again.state == "approved"  # decided once
    version = session.exec(select(PlanVersion).where(PlanVersion.number == decided.version)).one()
    return version


def test_a_year_from_issued_plan_to_next_years_carry_over(session: Session) -> None:
    world = build_year(session)
    cycle = world.cycle
    issued_total = (800 + 200 + 2_500 + 320 + 450 + 600 + 150) * TRIEU

    # ---- Q1: everyone on time
    _quarter_one(session, world)
    as_of = world.periods["Q1"].deadline + timedelta(days=5)
    period = choose_period(session=session, cycle=cycle, label=None, as_of=as_of)
    assert period.label == "Quý I/2027"
    q1 = progress_snapshot(session=session, cycle=cycle, period=period, as_of=as_of)
    assert q1.plan.approved == issued_total
    assert q1.plan.disbursed == (100 + 300 + 0 + 90 + 0 + 50) * TRIEU
    assert not q1.late and not q1.missing
    # weighted by approved amount: (25·1000 + 20·2500 + 0·320 + 30·450 + 10·600 + 40·150) / 5020
    assert q1.plan.weighted_percent * 5020 == 25 * 1000 + 20 * 2500 + 30 * 450 + 10 * 600 + 40 * 150

    # ---- Q2: Sở Giáo dục three days late
    _quarter_two(session, world)
    as_of = world.periods["Q2"].deadline + timedelta(days=10)
    q2 = progress_snapshot(
        session=session,
        cycle=cycle,
        period=choose_period(session=session, cycle=cycle, label=None, as_of=as_of),
        as_of=as_of,
    )
    assert q2.period_label == "Quý II/2027"
    assert [(r.unit_code, r.days_late) for r in q2.late] == [("SGD", 3)]
    assert not q2.missing
    syt = next(u for u in q2.units if u.unit_code == "SYT")
    assert (syt.totals.approved, syt.totals.disbursed) == (2_820 * TRIEU, 900 * TRIEU)
    assert syt.totals.by_status == {"in_progress": 1, "suspended": 1}
    # indicators per level: province 88 < 90, district 65 < 70, commune 28 < 30; incidents 1 ≤ 2
    met = {(r.code, r.level, r.unit_name): r.met for r in q2.indicators}
    assert met == {
        ("CT01", "province", "Sở Khoa học và Công nghệ"): False,
        ("CT01", "district", "UBND huyện Chư Păh"): False,
        ("CT01", "commune", "UBND xã Ia Ka"): False,
        ("CT02", "all", "Sở Khoa học và Công nghệ"): True,
    }

    # ---- the tracked status: one transaction, idempotent
    tracked = track_statuses(session=session, cycle=cycle, period=world.periods["Q2"], actor="test")
    session.commit()
    assert tracked.changed == 6
    assert track_statuses(session=session, cycle=cycle, period=world.periods["Q2"], actor="test").changed == 0
    session.refresh(world.items["thong-ke"])
    assert world.items["thong-ke"].status == "suspended"
    assert world.items["thong-ke"].status_note == "Chờ hướng dẫn của Bộ Y tế về bộ chỉ số thống kê"

    # ---- July: the amendment (adds one item, cuts one amount)
    version = _amend(session, world)
    assert version.is_amendment and version.reason == "amendment:1"
    parent = session.get(PlanVersion, version.parent_version_id)
    assert parent is not None and parent.is_final
    amended_total = issued_total - 500 * TRIEU + 350 * TRIEU
    assert version_totals(version.content)["total"] == amended_total
    added = session.exec(select(PlanItem).where(PlanItem.name == "Nền tảng học trực tuyến")).one()
    so_diem = world.items["so-diem"]
    assert added.row_ref is not None and added.row_ref.split(".")[0] == so_diem.row_ref.split(".")[0]  # type: ignore[union-attr]
    world.items["hoc-truc-tuyen"] = added
    actions = [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.cycle_id == cycle.id))]
    assert {"amendment.proposed", "amendment.approved", "plan.item_added", "plan.amount_adjusted"} <= set(
        actions
    )
    assert [a.state for a in list_amendments(session=session, cycle=cycle)] == ["approved"]

    # ---- Q3: the district misses its report
    request_reports(session, world, "Q3")
    sent = world.periods["Q3"].deadline
    send_report(
        session, world, "Q3", "SKHCN", sent, {"giam-sat": ("in_progress", 80, 700)}, {"CT01": 91, "CT02": 3}
    )
    send_report(
        session,
        world,
        "Q3",
        "SYT",
        sent,
        {"benh-an": ("in_progress", 60, 1_200), "thong-ke": ("suspended", 0, 0)},
    )
    send_report(
        session,
        world,
        "Q3",
        "SGD",
        sent,
        {
            "so-diem": ("in_progress", 90, 400),
            "hoc-lieu": ("in_progress", 50, 300),
            "hoc-truc-tuyen": ("in_progress", 10, 0),
        },
    )
    send_report(session, world, "Q3", "XIK", sent, values={"CT01": 33})
    as_of = world.periods["Q3"].deadline + timedelta(days=7)
    q3 = progress_snapshot(session=session, cycle=cycle, period=world.periods["Q3"], as_of=as_of)
    assert [(r.unit_code, r.days_late) for r in q3.missing] == [("HCP", 7)]
    assert q3.missing[0].working_days_late == 5
    assert q3.plan.approved == amended_total
    mot_cua = next(i for i in q3.items if i.name == "Một cửa điện tử cấp huyện")
    assert (mot_cua.percent, mot_cua.reported_in, mot_cua.current) == (70, "Quý II/2027", False)
    met = {(r.code, r.level): r.met for r in q3.indicators}
    assert met[("CT01", "province")] is True and met[("CT01", "commune")] is True
    assert met[("CT01", "district")] is False  # its Q2 value, the latest it sent
    assert met[("CT02", "all")] is False  # 3 incidents > 2

    # ---- Q4 and the annual report
    for key in ("Q4", "N"):
        request_reports(session, world, key)
    final = {
        "SKHCN": {"giam-sat": ("completed", 100, 1_000)},
        "SYT": {"benh-an": ("in_progress", 80, 1_500), "thong-ke": ("cancelled", 0, 0)},
        "SGD": {
            "so-diem": ("completed", 100, 450),
            "hoc-lieu": ("partly_done", 70, 420),
            "hoc-truc-tuyen": ("in_progress", 30, 100),
        },
        "HCP": {"mot-cua": ("completed", 100, 150)},
    }
    for key in ("Q4", "N"):
        for code, entries in final.items():
            send_report(session, world, key, code, world.periods[key].deadline, entries)
        send_report(session, world, key, "XIK", world.periods[key].deadline)

    # ---- year end
    closing = date(2027, 12, 31)
    year_end = close_year(session=session, cycle=cycle, as_of=closing)
    session.commit()
    assert year_end.period_label == "Năm 2027"
    ids = {name: item.id for name, item in world.items.items()}
    assert year_end.carry_over_candidates == {
        world.units["SYT"].id: [ids["benh-an"]],
        world.units["SGD"].id: [ids["hoc-lieu"], ids["hoc-truc-tuyen"]],
    }
    assert close_year(session=session, cycle=cycle, as_of=closing).closed_now is False
    session.refresh(cycle)
    assert cycle.status == "closed"

    # ---- the next cycle: carry-over prefilled, Annex 01 with the year-end statuses
    opened = open_cycle_records(
        session=session,
        spec=CycleSpec(
            year=YEAR + 1,
            submission_deadline=date(2027, 9, 30),
            coordinating_unit_code="SKHCN",
            funding_sources=[
                FundingSourceSpec(code="NSDP", name="Ngân sách địa phương"),
                FundingSourceSpec(code="NSTW", name="Ngân sách Trung ương", group="central"),
            ],
        ),
        as_of=date(2027, 7, 1),
        actor="test",
    )
    session.commit()
    from models import PlanningCycle

    next_cycle = session.get(PlanningCycle, opened.cycle_id)
    assert next_cycle is not None and next_cycle.previous_cycle_id == cycle.id
    candidates = {
        code: [
            p.name
            for p in load_workbook_context(
                session=session, cycle=next_cycle, unit=world.units[code]
            ).carry_over_candidates
        ]
        for code in ("SKHCN", "SYT", "SGD", "HCP")
    }
    assert candidates == {
        "SKHCN": [],
        "SYT": ["Bệnh án điện tử"],
        "SGD": ["Kho học liệu số", "Nền tảng học trực tuyến"],
        "HCP": [],
    }
    add_submission(
        session,
        next_cycle,
        world.units["SYT"],
        [
            Item(
                "Bệnh án điện tử (giai đoạn 2)",
                {"NSDP": 1_000 * TRIEU},
                origin="carry_over",
                carry_over_from_id=ids["benh-an"],
                start_year=2028,
                end_year=2028,
            )
        ],
    )
    materialize_plan(session=session, cycle=next_cycle, actor="test")
    plan = build_plan(session=session, cycle=next_cycle, as_of=date(2027, 11, 1))
    annex = {row["name"]: row for row in plan.annex01.to_dict("records")}
    assert {name: (row["status"], row["percent_complete"]) for name, row in annex.items()} == {
        "Trung tâm giám sát an toàn thông tin": ("completed", 100),
        "Bệnh án điện tử": ("in_progress", 80),
        "Phần mềm thống kê y tế": ("cancelled", 0),
        "Sổ điểm điện tử": ("completed", 100),
        "Kho học liệu số": ("partly_done", 70),
        "Nền tảng học trực tuyến": ("in_progress", 30),
        "Một cửa điện tử cấp huyện": ("completed", 100),
    }
    assert annex["Bệnh án điện tử"]["carried_over"] and not annex["Kho học liệu số"]["carried_over"]
    # Annex 01 shows last year's amended amounts: 2.000 triệu after the cut
    assert int(annex["Bệnh án điện tử"]["total"]) == 2_000 * TRIEU
    open_not_carried = {f.refs[0] for f in plan.findings if f.kind == "open_item_not_carried_over"}
    assert len(open_not_carried) == 2  # Kho học liệu số, Nền tảng học trực tuyến: not yet proposed again
