"""The approver's page over HTTP (the portal app, a real database): the signed link opens one approver's
view of one stage and one version; other links are refused; an invalid decision is shown on the page and
nothing is recorded; the chain can name approvers by unit code; a cycle without a chain takes the
province's default chain file. (Deciding through a waiting run: tests/approval/test_approver_browser.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.approval import ApprovalDecision
from plancycle.settings import get_settings
from portal.app import create_app
from tasks.approval.access import approver_url, issue_approver_token, link_expiry
from tasks.approval.chain import configure_chain, get_stage, stage_approvers
from tasks.approval.decisions import begin_circulation
from tests.approval.world import TRIEU, YEAR, World, build_world

TWO_STAGES = [
    {"code": "STC", "name": "Thẩm định – Sở Tài chính", "sequence": 1, "approvers": ["STC"]},
    {"code": "UBND", "name": "Phê duyệt – UBND tỉnh", "sequence": 2, "approvers": ["UBND"]},
]


@pytest.fixture
def world(session: Session) -> World:
    world = build_world(session)
    configure_chain(session=session, cycle=world.cycle, stages=TWO_STAGES, actor="test")
    begin_circulation(session=session, cycle=world.cycle, flow_run_id="run-1", actor="test")
    session.commit()
    return world


def _token(session: Session, world: World, stage_code: str, contact_id: int, *, days: int = 30) -> str:
    stage = get_stage(session=session, cycle=world.cycle, code=stage_code)
    contact = next(c for c in world.approvers.values() if c.id == contact_id)
    return issue_approver_token(
        cycle=world.cycle,
        stage=stage,
        version_number=1,
        contact=contact,
        expires=datetime.now(UTC) + timedelta(days=days),
        settings=get_settings(),
    )


def test_unit_codes_name_the_units_approvers_else_heads(session: Session, world: World) -> None:
    stc = get_stage(session=session, cycle=world.cycle, code="STC")
    ubnd = get_stage(session=session, cycle=world.cycle, code="UBND")
    assert [c.email for c in stage_approvers(session=session, stage=stc)] == ["pgd.stc@example.org"]
    assert [c.email for c in stage_approvers(session=session, stage=ubnd)] == ["chutich@example.org"]


def test_the_link_opens_one_approvers_page_and_nothing_else(session: Session, world: World) -> None:
    client = TestClient(create_app())
    token = _token(session, world, "STC", world.approvers["DT"].id)  # pgd.stc: the STC stage's approver
    page = client.get(f"/a/{token}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Thẩm định – Sở Tài chính" in html and "Phó Giám đốc STC" in html
    assert "3.820" in html  # 800 + 200 + 2.500 + 320 triệu, the version's total
    assert "Bệnh án điện tử" in html and "Sở Y tế" in html and "Phiên bản đầu tiên được trình" in html
    assert "Trả lại để chỉnh sửa" in html and "return_for_revision</" not in html
    assert 'name="decision_number"' not in html  # the first stage does not issue the plan
    for kind in ("du-thao.docx", "phu-luc.xlsx"):
        download = client.get(f"/a/{token}/{kind}")
        assert download.status_code == 200 and download.content[:2] == b"PK"

    # the last stage's approver gets the issuing fields
    last = _token(session, world, "UBND", world.approvers["UBND"].id)
    assert 'name="decision_number"' in client.get(f"/a/{last}").text

    # someone who is not an approver of the stage, a tampered link, an expired link
    outsider = _token(session, world, "STC", world.approvers["GD"].id)
    assert client.get(f"/a/{outsider}").status_code == 403
    assert client.get(f"/a/{token[:-3]}abc").status_code == 403
    expired = _token(session, world, "STC", world.approvers["DT"].id, days=-1)
    refused = client.get(f"/a/{expired}")
    assert refused.status_code == 403 and "hết hạn" in refused.text and "thư xin ý kiến" not in refused.text
    assert "không còn là người cho ý kiến" in client.get(f"/a/{outsider}").text
    # a unit's link is not an approver's link, and the other way round
    assert client.get(f"/u/{token}").status_code == 403


def test_an_invalid_decision_is_shown_on_the_page_and_nothing_is_recorded(
    session: Session, world: World
) -> None:
    client = TestClient(create_app())
    token = _token(session, world, "UBND", world.approvers["UBND"].id)
    answer = client.post(f"/a/{token}", data={"decision": "return_for_revision", "comment": ""})
    assert answer.status_code == 422
    assert "Ý kiến chưa được ghi nhận" in answer.text and "ghi ý kiến" in answer.text.lower()
    answer = client.post(f"/a/{token}", data={"decision": "approve", "signer": "Chủ tịch"})
    assert answer.status_code == 422 and "số" in answer.text  # the issuing stage needs number and date
    answer = client.post(
        f"/a/{token}",
        data={"decision": "adjust", "amount_I.1__NSDP": "-5", "reason_I.1": ""},
    )
    assert answer.status_code == 422 and "không được âm" in answer.text
    assert 'value="-5"' in answer.text  # what was typed is kept
    assert session.exec(select(ApprovalDecision)).first() is None


def test_link_expires_with_the_stages_wait() -> None:
    assert link_expiry(date(2026, 12, 9), 30) == datetime(2027, 1, 8, 16, 59, tzinfo=UTC)
    assert approver_url("abc", get_settings()).endswith("/a/abc")
    assert 2 * TRIEU > 0 and YEAR == 2027


@pytest.mark.prefect
def test_a_cycle_without_chain_is_refused_in_vietnamese_then_takes_the_default_chain(
    session: Session, prefect_api: str
) -> None:
    from flows.circulate_for_approval import circulate_for_approval
    from tasks.approval.chain import list_stages
    from tasks.approval.steps import default_chain_file

    world = build_world(session)
    state = circulate_for_approval(year=YEAR, as_of=date(2026, 12, 9), return_state=True)
    assert state.is_failed() and state.name == "Chưa trình được"
    assert state.message.startswith("Chưa cấu hình trình tự phê duyệt cho kỳ kế hoạch năm 2027")
    assert "Traceback" not in (state.message or "")

    default_chain_file().parent.mkdir(parents=True, exist_ok=True)
    default_chain_file().write_text("stages: [{code: STC, name: X, sequence: 1, approvers: [KHONGCO]}]")
    state = circulate_for_approval(year=YEAR, as_of=date(2026, 12, 9), return_state=True)
    assert state.is_failed() and "không tìm thấy người phê duyệt «KHONGCO»" in (state.message or "")

    import yaml

    default_chain_file().write_text(yaml.safe_dump({"stages": TWO_STAGES}, allow_unicode=True))
    session.expire_all()
    from tasks.approval.steps import start_circulation

    started = start_circulation.fn(YEAR, date(2026, 12, 9), None, "run-x", actor="test")
    assert started.refusal is None and started.groups == [["STC"], ["UBND"]]
    session.expire_all()
    assert [s.code for s in list_stages(session=session, cycle=world.cycle)] == ["STC", "UBND"]


def test_each_approver_is_sent_their_own_page_and_a_reply_by_date_in_working_days(
    session: Session, world: World
) -> None:
    from tasks.approval.steps import approval_messages

    messages = approval_messages.fn(
        YEAR, 1, ["STC", "UBND"], "phu-luc.xlsx", "http://prefect/runs/x", date(2026, 12, 9)
    )
    assert [m.contact_id for m in messages] == [world.approvers["DT"].id, world.approvers["UBND"].id]
    links = [m.context["link"] for m in messages]
    assert all(link.startswith(get_settings().resolved_public_base_url + "/a/") for link in links)
    assert links[0] != links[1]
    # Wednesday 09/12/2026 + 5 working days (the default) = Wednesday 16/12/2026
    assert {m.context["due"] for m in messages} == {date(2026, 12, 16)}
    client = TestClient(create_app())
    assert (
        "Phó Giám đốc STC" in client.get(links[0].removeprefix(get_settings().resolved_public_base_url)).text
    )


def test_a_valid_decision_with_prefect_unreachable_is_refused_in_words(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.notify.servers import free_port

    nowhere = f"http://127.0.0.1:{free_port()}/api"  # nothing listens
    monkeypatch.setenv("PREFECT_API_URL", nowhere)  # also when a session harness set the context before
    token = _token(session, world, "STC", world.approvers["DT"].id)
    with temporary_settings(updates={PREFECT_API_URL: nowhere}):
        client = TestClient(create_app())
        answer = client.post(f"/a/{token}", data={"decision": "approve"})
    assert answer.status_code == 503 and "Prefect" in answer.text and "Chưa có gì được ghi" in answer.text
    assert session.exec(select(ApprovalDecision)).first() is None
