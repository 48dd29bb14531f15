"""'Nothing to propose this year': declared on the portal, answered on time or late, reminders stop, the
status table shows it, a workbook before the deadline withdraws it (issue 19, finding 9)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from models import AuditEntry
from models.submissions import Submission, get_submission
from plancycle.settings import get_settings
from portal.app import create_app
from tasks.common.links import issue_link_token
from tasks.reminders.units import plan_submission_reminders
from tasks.submissions.intake import ingest_submission
from tasks.submissions.status import answered_share, status_rows, status_table
from tests.factories import make_contact
from tests.notify.servers import serve_portal
from tests.submissions.conftest import World, filled_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def portal(world: World) -> tuple[TestClient, str]:
    """Both units asked, deadline ten days from today; officers on file for both."""
    deadline = get_settings().today() + timedelta(days=10)
    world.cycle.submission_deadline = deadline
    world.session.add(world.cycle)
    for unit in (world.unit, world.other_unit):
        world.session.add(Submission(cycle_id=world.cycle.id, unit_id=unit.id, deadline=deadline))  # type: ignore[arg-type]
        make_contact(world.session, unit)
    token = issue_link_token(session=world.session, unit=world.unit, cycle=world.cycle)
    world.session.commit()
    return TestClient(create_app()), token


def _submission(world: World) -> Submission:
    world.session.expire_all()
    found = get_submission(session=world.session, cycle_id=world.cycle.id, unit_id=world.unit.id)  # type: ignore[arg-type]
    assert found is not None
    return found


def test_declaration_needs_confirmation_officer_and_reason(
    world: World, portal: tuple[TestClient, str]
) -> None:
    client, token = portal
    page = client.get(f"/u/{token}")
    assert 'action="/u/' in page.text and "/no-proposal" in page.text  # the form is on the unit page
    for form, words in (
        ({"officer_name": "Trần Thị Bình", "reason": "Không có nhu cầu"}, "ô xác nhận"),
        ({"confirm": "1", "reason": "Không có nhu cầu"}, "họ tên cán bộ"),
        ({"confirm": "1", "officer_name": "Trần Thị Bình"}, "lý do"),
    ):
        response = client.post(f"/u/{token}/no-proposal", data=form)
        assert response.status_code == 422 and words in response.text
    assert _submission(world).status == "requested"


def test_declared_unit_has_answered_on_time_and_is_not_reminded(
    world: World, portal: tuple[TestClient, str]
) -> None:
    client, token = portal
    response = client.post(
        f"/u/{token}/no-proposal",
        data={
            "confirm": "1",
            "officer_name": "Trần Thị Bình",
            "reason": "Năm nay đơn vị không có dự án CNTT",
        },
    )
    assert response.status_code == 200
    assert "Không có đề xuất" in response.text and "Trần Thị Bình" in response.text
    submission = _submission(world)
    assert submission.status == "no_proposal"
    assert submission.no_proposal_by == "Trần Thị Bình"
    assert submission.answered_on == get_settings().today()
    audit = world.session.exec(select(AuditEntry).where(AuditEntry.action == "submission.no_proposal")).one()
    assert audit.details["on_time"] is True and audit.details["officer"] == "Trần Thị Bình"  # type: ignore[index]

    today = get_settings().today()
    rows = {r.unit_code: r for r in status_rows(session=world.session, cycle=world.cycle, as_of=today)}
    assert (
        rows["SYT"].status == "no_proposal" and rows["SYT"].on_time is True and rows["SYT"].days_late is None
    )
    assert answered_share(list(rows.values())) == 50.0
    table = status_table(session=world.session, cycle=world.cycle, rows=list(rows.values()))
    assert any("Không có đề xuất" in row.values() for row in table)

    # On the deadline day the other unit is reminded, the unit that declared is not.
    deadline = world.cycle.submission_deadline
    plan = plan_submission_reminders(
        session=world.session, cycle=world.cycle, as_of=deadline, settings=get_settings()
    )  # type: ignore[arg-type]
    assert {row.unit_code for row in plan.rows} == {"STC"}

    # A second declaration is refused once answered; the page says why.
    again = client.post(f"/u/{token}/no-proposal", data={"confirm": "1", "officer_name": "A", "reason": "B"})
    assert again.status_code == 422 and "Không có đề xuất" in again.text
    assert 'action="/u/' + token + "/no-proposal" not in again.text  # no form once answered
    assert _submission(world).no_proposal_by == "Trần Thị Bình"


def test_late_declaration_counts_as_answered_late(world: World, portal: tuple[TestClient, str]) -> None:
    client, token = portal
    today = get_settings().today()
    submission = _submission(world)
    submission.deadline = today - timedelta(days=3)
    world.session.add(submission)
    world.session.commit()
    response = client.post(
        f"/u/{token}/no-proposal", data={"confirm": "on", "officer_name": "Lê Văn C", "reason": "Không có"}
    )
    assert response.status_code == 200 and "sau thời hạn" in response.text
    world.session.expire_all()
    row = next(
        r for r in status_rows(session=world.session, cycle=world.cycle, as_of=today) if r.unit_code == "SYT"
    )
    assert row.status == "no_proposal" and row.on_time is False and row.days_late == 3


def test_workbook_before_the_deadline_withdraws_the_declaration(
    world: World, portal: tuple[TestClient, str]
) -> None:
    client, token = portal
    client.post(
        f"/u/{token}/no-proposal", data={"confirm": "1", "officer_name": "Trần Thị Bình", "reason": "x"}
    )
    upload = client.post(f"/u/{token}/upload", files={"file": ("de-xuat.xlsx", filled_workbook(world), XLSX)})
    assert upload.status_code == 200
    submission = _submission(world)
    assert submission.status == "submitted" and submission.no_proposal_by is None
    stored = world.session.exec(
        select(AuditEntry).where(AuditEntry.action == "submission.version_stored")
    ).one()
    assert stored.details["previous_status"] == "no_proposal"  # type: ignore[index]
    assert stored.details["no_proposal_withdrawn"]["by"] == "Trần Thị Bình"  # type: ignore[index]


def test_after_the_deadline_the_declaration_stands(world: World, portal: tuple[TestClient, str]) -> None:
    client, token = portal
    client.post(
        f"/u/{token}/no-proposal", data={"confirm": "1", "officer_name": "Trần Thị Bình", "reason": "x"}
    )
    deadline = _submission(world).deadline
    assert deadline is not None
    result = ingest_submission(
        session=world.session,
        cycle=world.cycle,
        unit=world.unit,
        filename="de-xuat.xlsx",
        content=filled_workbook(world),
        channel="cli",
        as_of=deadline + timedelta(days=1),
        actor="cli",
    )
    assert not result.accepted
    assert result.errors[0].key == "no_proposal_stands" and "quá hạn" in result.errors[0].message_vi
    assert _submission(world).status == "no_proposal"


@pytest.fixture
def live_portal(portal: tuple[TestClient, str]) -> Iterator[tuple[str, str]]:
    with serve_portal() as base:
        yield base, portal[1]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_declares_nothing_to_propose(world: World, live_portal: tuple[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    base, token = live_portal
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")  # a phone, as in Zalo
        page.goto(f"{base}/u/{token}")
        page.fill("#can-bo", "Trần Thị Bình")
        page.fill("#ly-do", "Năm nay đơn vị không có dự án CNTT")
        page.click("#gui-khong-de-xuat")  # without the confirmation box: refused, nothing recorded
        assert "ô xác nhận" in page.inner_text("#ket-qua")
        page.check("#xac-nhan")
        page.fill("#can-bo", "Trần Thị Bình")
        page.fill("#ly-do", "Năm nay đơn vị không có dự án CNTT")
        page.click("#gui-khong-de-xuat")
        assert "không có đề xuất năm nay" in page.inner_text("#ket-qua")
        assert page.inner_text("#trang-thai") == "Không có đề xuất"
        assert "Trần Thị Bình" in page.inner_text("#khong-de-xuat")
        page.screenshot(path=str(tmp_path / "khong-de-xuat.png"), full_page=True)
        browser.close()
    assert _submission(world).status == "no_proposal"
