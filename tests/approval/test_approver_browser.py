"""An approver decides from the link in their email, on a phone, in headless Chromium: the portal (served
in this process) resumes the circulation waiting on the session's Prefect API (served as a deployment by
a separate process, as in test_circulate_flow.py). The chain is the province's default chain file (the
demo chain's shape: appraisal by the Finance department, then the People's Committee), approvers named by
unit code; the links come from the emails in the local outbox."""

from __future__ import annotations

import email
import os
import shutil
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
import yaml
from docx import Document
from sqlmodel import Session, select

from models import PlanningCycle
from models.approval import ApprovalDecision
from models.db import get_engine
from plancycle.settings import get_settings
from tasks.approval.steps import default_chain_file
from tasks.common.links import issue_link_token
from tasks.consolidation.pdf import soffice
from tests.approval.test_approver_page import TWO_STAGES
from tests.approval.test_circulate_flow import Server, pause_key, start_run, wait_for
from tests.approval.world import TRIEU, YEAR, build_world
from tests.notify.servers import free_port, serve_portal

pytestmark = [pytest.mark.prefect, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = os.environ.get("PLANCYCLE_TEST_SCREENSHOTS")


@pytest.fixture
def portal_port(monkeypatch: pytest.MonkeyPatch, db_url: str) -> int:
    port = free_port()
    monkeypatch.setenv("PLANCYCLE_PORTAL_PORT", str(port))  # the links the flow writes point here
    get_settings.cache_clear()
    return port


@pytest.fixture
def portal(portal_port: int, prefect_api: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)  # the portal's thread resumes runs there
    with serve_portal(portal_port) as base:
        yield base


@pytest.fixture
def server(portal_port: int, prefect_api: str, db_url: str) -> Iterator[Server]:
    serving = Server(prefect_api, db_url)
    serving.start()
    yield serving
    serving.stop()


def emailed_link(to: str, after: set[Path]) -> tuple[str, set[Path]]:
    """The approver's page link in the newest email to ``to`` not among ``after`` (the local outbox)."""
    outbox = get_settings().resolved_outbox_dir / "email"
    files = set(outbox.glob("*.eml"))
    for path in sorted(files - after, key=lambda p: p.stat().st_mtime, reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if to in str(message["To"]):
            body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            link = next(word for word in body.split() if "/a/" in word)
            return link, files
    raise AssertionError(f"no email to {to} in {outbox}")


def off_loop(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call a Prefect function from a thread of its own: Playwright's sync API runs an event loop in this
    one, where Prefect's sync-compatible functions would hand back coroutines."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_approver_returns_then_approves_from_the_emailed_link_on_a_phone(
    session: Session, server: Server, portal: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    world = build_world(session)
    default_chain_file().parent.mkdir(parents=True, exist_ok=True)
    default_chain_file().write_text(yaml.safe_dump({"stages": TWO_STAGES}, allow_unicode=True))
    run_id = start_run(server, year=YEAR, as_of="2026-12-09")  # the run form's defaults
    run = wait_for(run_id, server)
    assert pause_key(run) == "v1-stc-1"
    link, seen = emailed_link("pgd.stc@example.org", set())
    assert link.startswith(f"{portal}/a/")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")
        page.set_default_timeout(120_000)

        # 1. the Finance department reads the totals and returns the plan to the health department
        page.goto(link)
        assert "THẨM ĐỊNH – SỞ TÀI CHÍNH" in page.inner_text("header").upper()
        assert "3.820" in page.inner_text("#tong-cong")  # 800 + 200 + 2.500 + 320 triệu
        assert "Bệnh án điện tử" in page.inner_text("#danh-muc")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        shot(page, tmp_path, "1-approver-page")
        page.check('input[name="decision"][value="return_for_revision"]')
        page.fill("#comment", "Bổ sung thuyết minh bệnh án điện tử")
        page.click("summary:has-text('Trả lại')")
        page.check('input[name="return_to"][value="units"]')
        page.check('input[name="unit_codes"][value="SYT"]')
        page.fill("#ic-2", "Thiếu dự toán chi tiết")
        page.click("#gui-y-kien")
        assert page.inner_text("#quyet-dinh") == "Trả lại để chỉnh sửa"
        assert "Thiếu dự toán chi tiết" in page.inner_text("#da-quyet-dinh")
        shot(page, tmp_path, "2-returned")
        run = wait_for(run_id, server, final=True)
        assert run.state is not None and run.state.is_completed() and run.state.name == "Trả lại"

        # 2. the unit resubmits, the coordinator consolidates and circulates again
        from tasks.consolidation.plan import materialize_plan
        from tests.consolidation.plan_world import Item, add_submission

        session.expire_all()
        cycle = session.exec(select(PlanningCycle).where(PlanningCycle.year == YEAR)).one()
        add_submission(
            session,
            cycle,
            world.health,
            [
                Item("Bệnh án điện tử (có thuyết minh)", {"NSDP": 2_400 * TRIEU}),
                Item("Phần mềm thống kê y tế", {"NSDP": 320 * TRIEU}),
            ],
        )
        materialize_plan(session=session, cycle=cycle, actor="test")
        session.commit()
        again = off_loop(start_run, server, year=YEAR, as_of="2026-12-16")
        run = wait_for(again, server)
        assert pause_key(run) == "v2-stc-1"
        link, seen = emailed_link("pgd.stc@example.org", seen)
        page.goto(link)
        assert "3.720" in page.inner_text("#tong-cong")
        assert "Bệnh án điện tử (có thuyết minh)" in page.inner_text("#thay-doi")
        page.click("#gui-y-kien")  # approve is the default choice
        assert page.inner_text("#quyet-dinh") == "Thống nhất"

        # 3. the People's Committee: refused without a number, then issues the plan
        run = wait_for(again, server)
        assert pause_key(run) == "v2-ubnd-1"
        link, seen = emailed_link("chutich@example.org", seen)
        page.goto(link)
        page.fill("#signer", "Nguyễn Văn Chủ tịch")
        page.click("#gui-y-kien")
        assert "Ý kiến chưa được ghi nhận" in page.inner_text("#loi")
        shot(page, tmp_path, "3-refused")
        page.fill("#decision_number", "245/KH-UBND")
        page.fill("#decision_date", "2026-12-28")
        page.click("#gui-y-kien")
        assert page.inner_text("#quyet-dinh") == "Thống nhất"
        shot(page, tmp_path, "4-issued")
        run = wait_for(again, server, final=True)
        assert run.state is not None and run.state.is_completed() and run.state.name != "Trả lại"

        # a second submit of the same decision changes nothing
        import httpx

        count = len(session.exec(select(ApprovalDecision)).all())
        second = httpx.post(link, data={"decision": "approve", "decision_number": "999/KH-UBND"})
        assert second.status_code == 200 and "không thay đổi gì" in second.text
        session.expire_all()
        decisions = session.exec(select(ApprovalDecision).order_by(ApprovalDecision.id)).all()  # type: ignore[arg-type]
        assert len(decisions) == count == 3
        assert {(d.payload or {}).get("channel") for d in decisions} == {"portal"}
        assert decisions[-1].decided_by_contact_id == world.approvers["UBND"].id

        # 4. the issued plan is final, and the health department sees what was approved
        cycle = session.exec(select(PlanningCycle).where(PlanningCycle.year == YEAR)).one()
        assert (cycle.status, cycle.decision_number) == ("approved", "245/KH-UBND")
        issued = next(
            (get_settings().resolved_data_dir / "plans" / str(YEAR)).glob("KH2027_ban-hanh_v*.docx")
        )
        text = "\n".join(p.text for p in Document(str(issued)).paragraphs)
        tables = "\n".join(c.text for t in Document(str(issued)).tables for r in t.rows for c in r.cells)
        assert "DỰ THẢO" not in text + tables and "Số: 245/KH-UBND" in tables
        with Session(get_engine(get_settings().resolved_database_url)) as fresh:
            token = issue_link_token(session=fresh, unit=world.health, cycle=cycle)
            fresh.commit()
        page.goto(f"{portal}/u/{token}")
        assert "245/KH-UBND" in page.inner_text("#ban-hanh")
        approved = page.inner_text("#duoc-duyet")
        assert "Bệnh án điện tử (có thuyết minh)" in approved and "2.400" in approved
        assert page.locator("#tep").count() == 0  # uploads closed
        if soffice() is not None:  # the issued plan as PDF too, where LibreOffice is installed
            assert page.locator("#tai-pdf").count() == 1
        shot(page, tmp_path, "5-unit-approved")
        browser.close()
