"""The approval chain as plain functions on a real database: configuration, versions, decisions, audit."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from models import PlanItem, PlanItemAmount
from models.approval import ApprovalDecision, ApprovalStage
from models.items import PlanVersion
from tasks.approval.chain import configure_chain, get_stage, list_stages, stage_groups
from tasks.approval.decisions import (
    DecisionData,
    DecisionRefused,
    finalize,
    parse_adjustment,
    record_decision,
    validate_decision,
)
from tasks.approval.reports import audit_workbook
from tasks.approval.versions import (
    content_hash,
    freeze_version,
    plan_content,
    version_changes,
    version_totals,
)
from tests.approval.world import TRIEU, build_world, chain


@pytest.fixture
def world(session: Session):
    return build_world(session)


def test_chain_configuration_is_idempotent(session: Session, world) -> None:
    stages = configure_chain(session=session, cycle=world.cycle, stages=chain(world), actor="test")
    again = configure_chain(session=session, cycle=world.cycle, stages=chain(world), actor="test")
    assert [s.id for s in stages] == [s.id for s in again]
    assert [[s.code for s in g] for g in stage_groups(list_stages(session=session, cycle=world.cycle))] == [
        ["GD"],
        ["STC", "DT"],
        ["UBND"],
    ]
    assert len(session.exec(select(ApprovalStage)).all()) == 4
    assert get_stage(session=session, cycle=world.cycle, code="DT").allowed_decisions == [
        "approve",
        "adjust",
        "return_for_revision",
    ]
    # a stage removed from the file goes away (no decision refers to it)
    configure_chain(session=session, cycle=world.cycle, stages=chain(world)[:3], actor="test")
    assert [s.code for s in list_stages(session=session, cycle=world.cycle)] == ["GD", "STC", "DT"]


def test_freeze_version_is_idempotent_and_hashes_content(session: Session, world) -> None:
    first = freeze_version(session=session, cycle=world.cycle, reason="circulation", actor="test")
    again = freeze_version(session=session, cycle=world.cycle, reason="circulation", actor="test")
    assert again.id == first.id and first.number == 1
    assert first.content_hash == content_hash(plan_content(session=session, cycle=world.cycle))
    assert len(first.content_hash) == 64
    assert version_totals(first.content)["total"] == (800 + 200 + 2_500 + 320) * TRIEU
    # any change of content gives a new version with the previous one as parent
    amount = session.exec(select(PlanItemAmount)).first()
    amount.approved_amount = 1  # type: ignore[union-attr]
    session.flush()
    second = freeze_version(session=session, cycle=world.cycle, reason="test", actor="test")
    assert second.number == 2 and second.parent_version_id == first.id
    assert second.content_hash != first.content_hash
    assert first.content["items"][0]["amounts"] != second.content["items"][0]["amounts"] or any(
        c.kind == "amount" for c in version_changes(first.content, second.content)
    )


def _setup(session: Session, world):
    configure_chain(session=session, cycle=world.cycle, stages=chain(world), actor="test")
    version = freeze_version(session=session, cycle=world.cycle, reason="circulation", actor="test")
    refs = [i["ref"] for i in version.content["items"]]
    return version, refs


def test_validate_decision_messages(session: Session, world) -> None:
    version, refs = _setup(session, world)
    gd = get_stage(session=session, cycle=world.cycle, code="GD")
    dt = get_stage(session=session, cycle=world.cycle, code="DT")

    def problems(stage, **data) -> list[str]:
        return validate_decision(
            session=session, cycle=world.cycle, version=version, stage=stage, data=DecisionData(**data)
        )

    assert problems(gd, approver="giamdoc@example.org") == []
    assert problems(gd, approver="GIAMDOC@example.org") == []
    assert "không có trong danh sách người phê duyệt" in problems(gd, approver="chutich@example.org")[0]
    adjust = problems(
        gd,
        approver="giamdoc@example.org",
        decision="adjust",
        adjustments=[
            parse_adjustment("IX.9:NSDP=100:cắt giảm"),
            parse_adjustment(f"{refs[0]}:XYZ=100:cắt giảm"),
            parse_adjustment(f"{refs[0]}:NSDP=-5:cắt giảm"),
            parse_adjustment(f"{refs[0]}:NSDP=100"),
        ],
    )
    assert any("Không có nhiệm vụ, dự án STT «IX.9»" in p for p in adjust)
    assert any("không có nguồn vốn mã «XYZ»" in p for p in adjust)
    assert any("không được âm" in p for p in adjust)
    assert any("cần ghi lý do điều chỉnh" in p for p in adjust)
    rejected = problems(
        dt, approver=str(world.approvers["DT"].id), decision="reject_items", rejected_items=[refs[0]]
    )
    assert any("không được phép quyết định «Loại nhiệm vụ, dự án»" in p for p in rejected)
    returned = problems(gd, approver="giamdoc@example.org", decision="return_for_revision", return_to="units")
    assert any("cần ghi mã các đơn vị" in p for p in returned)
    assert any("cần ghi ý kiến" in p for p in returned)
    ubnd = get_stage(session=session, cycle=world.cycle, code="UBND")
    final = validate_decision(
        session=session,
        cycle=world.cycle,
        version=version,
        stage=ubnd,
        data=DecisionData(approver="chutich@example.org"),
        final_stage=True,
    )
    assert any("số quyết định" in p for p in final)


def test_decisions_recorded_once_adjustment_new_version_finalize_and_audit(session: Session, world) -> None:
    version, refs = _setup(session, world)
    gd = get_stage(session=session, cycle=world.cycle, code="GD")
    with pytest.raises(DecisionRefused):
        record_decision(
            session=session,
            cycle=world.cycle,
            version=version,
            stage=gd,
            data=DecisionData(approver="giamdoc@example.org", decision="adjust"),
            idempotency_key="k0",
            actor="test",
        )
    assert session.exec(select(ApprovalDecision)).all() == []
    health_ref = next(i["ref"] for i in version.content["items"] if i["name"] == "Bệnh án điện tử")
    data = DecisionData(
        approver="giamdoc@example.org",
        decision="adjust",
        adjustments=[parse_adjustment(f"{health_ref}:NSDP=2.000:cân đối ngân sách")],
        entered_by="Chuyên viên tổng hợp",
    )
    outcome = record_decision(
        session=session,
        cycle=world.cycle,
        version=version,
        stage=gd,
        data=data,
        idempotency_key="k1",
        actor="test",
    )
    assert outcome.new_version is not None and outcome.new_version.number == 2
    assert version_totals(outcome.new_version.content)["total"] == (800 + 200 + 2_000 + 320) * TRIEU
    again = record_decision(
        session=session,
        cycle=world.cycle,
        version=version,
        stage=gd,
        data=data,
        idempotency_key="k1",
        actor="test",
    )
    assert not again.recorded_now and again.new_version.id == outcome.new_version.id  # type: ignore[union-attr]
    assert len(session.exec(select(ApprovalDecision)).all()) == 1
    assert len(session.exec(select(PlanVersion)).all()) == 2
    assert outcome.decision.entered_by == "Chuyên viên tổng hợp"

    final = finalize(
        session=session,
        cycle=world.cycle,
        decision_number="123/QĐ-UBND",
        decision_date=date(2026, 12, 27),
        signer="Nguyễn Văn A",
        actor="test",
    )
    assert final.is_final and final.number == 3
    assert (
        finalize(
            session=session,
            cycle=world.cycle,
            decision_number="123/QĐ-UBND",
            decision_date=date(2026, 12, 27),
            signer="Nguyễn Văn A",
            actor="test",
        ).id
        == final.id
    )
    approved = {
        a.approved_amount for a in session.exec(select(PlanItemAmount).join(PlanItem)) if a.approved_amount
    }
    assert 2_000 * TRIEU in approved and 320 * TRIEU in approved
    session.commit()

    book = load_workbook(io.BytesIO(audit_workbook(session=session, cycle=world.cycle)))
    sheet = book.active
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert rows[0][:3] == ["Thời điểm (giờ Việt Nam)", "Người thực hiện", "Hành động"]
    actions = [r[2] for r in rows[1:]]
    assert "Điều chỉnh kinh phí một nhiệm vụ" in actions and "Ban hành kế hoạch" in actions
    assert any("thay giamdoc@example.org" in (r[1] or "") for r in rows[1:])
    # a record, not a dump: versions named as their files, details in words, no JSON
    assert not any("planversion" in str(r[3]) or "{" in str(r[4]) for r in rows[1:])
    assert any(
        str(r[3]).startswith("Phiên bản 1 (dự thảo trình duyệt KH2027_trinh-duyet_v1)") for r in rows[1:]
    )
    assert any("bản ban hành (KH2027_ban-hanh_v" in str(r[3]) for r in rows[1:])
    assert any("Lý do: cân đối" in str(r[4]) and "Nguồn vốn: NSDP" in str(r[4]) for r in rows[1:])
