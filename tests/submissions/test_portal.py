"""The submission portal through a real HTTP client, and in a real browser (headless Chromium)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl.workbook.workbook import Workbook
from sqlmodel import Session, func, select

from models import IntakeAttempt, SubmissionVersion
from models.submissions import Submission
from plancycle.settings import get_settings
from portal.app import MAX_UPLOAD_BYTES, create_app
from tasks.common.links import issue_link_token
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, WorkbookContext
from tests.factories import make_contact
from tests.notify.servers import serve_portal
from tests.submissions.conftest import World, filled_workbook, item_letter, items_sheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _negative_amount(wb: Workbook, context: WorkbookContext) -> None:
    items_sheet(wb)[f"{item_letter(context, 'amount:NSDP')}{ITEMS_DATA_START_ROW}"] = -5


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def portal(world: World) -> tuple[TestClient, str, str]:
    for unit in (world.unit, world.other_unit):
        world.session.add(
            Submission(cycle_id=world.cycle.id, unit_id=unit.id, deadline=world.cycle.submission_deadline)
        )  # type: ignore[arg-type]
    make_contact(world.session, world.unit, full_name="Trần Thị Bình", email="binh@example.org")
    token = issue_link_token(session=world.session, unit=world.unit, cycle=world.cycle)
    other = issue_link_token(session=world.session, unit=world.other_unit, cycle=world.cycle)
    world.session.commit()
    return TestClient(create_app()), token, other


def test_unit_page_shows_only_its_unit(world: World, portal: tuple[TestClient, str, str]) -> None:
    client, token, other = portal
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert "Sở Y tế" in page.text and "Chưa gửi" in page.text
    assert "Sở Y tế" not in client.get(f"/u/{other}").text


def test_tampered_link_refused(portal: tuple[TestClient, str, str]) -> None:
    client, token, other = portal
    forged = token.split(".")[0] + "." + other.split(".")[1]
    for bad in (forged, "abc.def", token[:-3] + "AAA"):
        response = client.get(f"/u/{bad}")
        assert response.status_code == 403
        assert "Đường dẫn không hợp lệ" in response.text
    assert client.post(f"/u/{forged}/upload", files={"file": ("a.xlsx", b"PK", XLSX)}).status_code == 403


def test_download_prefilled_workbook(portal: tuple[TestClient, str, str]) -> None:
    client, token, _ = portal
    response = client.get(f"/u/{token}/workbook")
    assert response.status_code == 200
    assert response.content[:2] == b"PK"
    assert "2027" in response.headers["content-disposition"]


def test_upload_invalid_then_valid(world: World, portal: tuple[TestClient, str, str]) -> None:
    client, token, _ = portal
    bad = filled_workbook(world, mutate=_negative_amount)
    response = client.post(f"/u/{token}/upload", files={"file": ("de-xuat.xlsx", bad, XLSX)})
    assert response.status_code == 422
    assert 'id="loi"' in response.text and "không được âm" in response.text
    assert f"<td>{ITEMS_DATA_START_ROW}</td>" in response.text
    assert _count(world.session, SubmissionVersion) == 0 and _count(world.session, IntakeAttempt) == 1

    good = filled_workbook(world)
    response = client.post(f"/u/{token}/upload", files={"file": ("de-xuat.xlsx", good, XLSX)})
    assert response.status_code == 200, response.text[:2000]
    assert "Đã tiếp nhận" in response.text and "Đã gửi, chờ xem xét" in response.text
    assert "Xây dựng kho dữ liệu y tế dùng chung" in response.text  # what was accepted is shown
    assert _count(world.session, SubmissionVersion) == 1

    # the officer has a written record of both answers (outbox: no SMTP configured in tests), sent after
    # the answers, in the portal's next batch of notices (portal/pools.py)
    from email import message_from_bytes, policy

    deadline = time.monotonic() + 10
    while len(list(get_settings().resolved_outbox_dir.rglob("*.eml"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    mails = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(get_settings().resolved_outbox_dir.rglob("*.eml"))
    ]
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert len(mails) == 2, subjects
    assert any("chưa hợp lệ" in s for s in subjects) and any("Đã nhận" in s for s in subjects)
    invalid = next(m for m in mails if "chưa hợp lệ" in str(m["Subject"]))
    assert "không được âm" in invalid.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_unit_b_cannot_submit_for_unit_a(world: World, portal: tuple[TestClient, str, str]) -> None:
    client, _, other = portal
    response = client.post(f"/u/{other}/upload", files={"file": ("a.xlsx", filled_workbook(world), XLSX)})
    assert response.status_code == 422
    assert _count(world.session, SubmissionVersion) == 0


def test_oversize_upload_refused(portal: tuple[TestClient, str, str]) -> None:
    client, token, _ = portal
    response = client.post(
        f"/u/{token}/upload", files={"file": ("big.xlsx", b"0" * (MAX_UPLOAD_BYTES + 1), XLSX)}
    )
    assert response.status_code == 413 and "10 MB" in response.text


def test_a_form_without_a_file_gets_the_page_and_a_clear_message(
    world: World, portal: tuple[TestClient, str, str]
) -> None:
    client, token, _ = portal
    response = client.post(f"/u/{token}/upload", data={"note": "quên chọn tệp"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "Tệp chưa hợp lệ" in response.text and "không có nội dung" in response.text, response.text[-3000:]
    world.session.expire_all()
    assert _count(world.session, SubmissionVersion) == 0


# ---------------------------------------------------------------- a real browser


@pytest.fixture
def live_portal(portal: tuple[TestClient, str, str]) -> Iterator[tuple[str, str]]:
    with serve_portal() as base:
        yield base, portal[1]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_upload_errors_then_accepted(
    world: World, live_portal: tuple[str, str], tmp_path: Any
) -> None:
    from playwright.sync_api import sync_playwright

    base, token = live_portal
    bad, good = tmp_path / "de-xuat-loi.xlsx", tmp_path / "de-xuat.xlsx"
    bad.write_bytes(filled_workbook(world, mutate=_negative_amount))
    good.write_bytes(filled_workbook(world))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")  # a phone, as in Zalo
        page.goto(f"{base}/u/{token}")
        assert "SỞ Y TẾ" in page.inner_text("header").upper()
        page.set_input_files("#tep", str(bad))
        page.click("#gui")
        errors = page.inner_text("#loi")
        assert "không được âm" in errors
        page.screenshot(path=str(tmp_path / "errors.png"), full_page=True)
        page.set_input_files("#tep", str(good))
        page.click("#gui")
        assert "Đã tiếp nhận" in page.inner_text("#ket-qua")
        assert page.inner_text("#trang-thai") == "Đã gửi, chờ xem xét"
        browser.close()
