"""The coordinator's console, in a real browser against a real `plancycle up`: the open-cycle run form
reads in Vietnamese and is filled and submitted by clicks; the run's artifacts show; then, with two units'
workbooks submitted and accepted, the consolidated plan's summary links to its annex, which downloads
through the portal and opens in openpyxl. Screenshots land in tests/output/ (ignored by git)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from plancycle.settings import PROJECT_ROOT, get_settings
from tests.plancycle.test_stack import _api, _free_port, _wait_for, _wait_until

pytestmark = [pytest.mark.browser, pytest.mark.stack]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = PROJECT_ROOT / "tests" / "output"
YEAR = 2027
UNITS = ("SYT", "STC")
FINISHED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


class Stack:
    def __init__(self, api: str, ui: str, data_dir: Path, env: dict[str, str]) -> None:
        self.api, self.ui, self.data_dir, self.env = api, ui, data_dir, env

    def deployment(self, name: str) -> dict:
        response = _api(
            "POST", f"{self.api}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}
        )
        (deployment,) = response.json()
        return deployment

    def runs(self, name: str) -> list[dict]:
        body = {
            "deployments": {"id": {"any_": [self.deployment(name)["id"]]}},
            "sort": "EXPECTED_START_TIME_DESC",
        }
        return _api("POST", f"{self.api}/flow_runs/filter", json=body).json()

    def finished(self, run_id: str) -> dict:
        def probe() -> dict | None:
            run = _api("GET", f"{self.api}/flow_runs/{run_id}").json()
            return run if run["state"]["type"] in FINISHED else None

        run = _wait_until("the run finishing", probe, timeout=150)
        assert run["state"]["type"] == "COMPLETED", run["state"]
        return run

    def run(self, name: str, parameters: dict) -> dict:
        deployment = self.deployment(name)["id"]
        created = _api(
            "POST", f"{self.api}/deployments/{deployment}/create_flow_run", json={"parameters": parameters}
        )
        return self.finished(created.json()["id"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`plancycle up` with its own Prefect server, worker and portal on free ports (as tests/plancycle)."""
    home = tmp_path_factory.mktemp("console")
    prefect_port = _free_port()
    inherited = ("PLANCYCLE_DATABASE_URL", "PLANCYCLE_PREFECT_API_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k not in inherited}
    env.update(
        {
            "PLANCYCLE_DATA_DIR": str(home / "data"),
            "PLANCYCLE_PREFECT_PORT": str(prefect_port),
            "PLANCYCLE_PORTAL_PORT": str(_free_port()),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_HOME": str(home / "prefect-home"),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "plancycle.cli", "up"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    try:
        _wait_for(process, log, timeout=300)
        yield Stack(
            f"http://127.0.0.1:{prefect_port}/api", f"http://127.0.0.1:{prefect_port}", home / "data", env
        )
    finally:
        process.send_signal(subprocess.signal.SIGINT)  # type: ignore[attr-defined]
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


def _submit_workbooks(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each unit fills its own workbook (the one the call attached) and drops it in the inbox, through the
    library against the stack's database."""
    from models.cycle import get_cycle_by_year
    from models.db import get_engine, session_scope
    from models.registry import get_unit_by_code
    from tasks.submissions.workbook import ITEMS_DATA_START_ROW, build_workbook, load_workbook_context
    from tests.submissions.conftest import fill_items, open_book, save_book

    monkeypatch.setenv("PLANCYCLE_DATA_DIR", str(stack.data_dir))
    monkeypatch.delenv("PLANCYCLE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    inbox = Path(get_settings().resolved_inbox_url)
    inbox.mkdir(parents=True, exist_ok=True)
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=YEAR)
        for number, code in enumerate(UNITS, start=1):
            unit = get_unit_by_code(session=session, code=code)
            context = load_workbook_context(session=session, cycle=cycle, unit=unit)  # type: ignore[arg-type]
            book = open_book(build_workbook(context))
            row = {
                "stt": 1,
                "name": f"Nền tảng số của {code}",
                "field": "Ứng dụng CNTT trong nội bộ cơ quan nhà nước",
                "origin": "Dự án mới",
                "start_year": YEAR,
                "end_year": YEAR,
                "amount:NSDP-SN": f"{number * 1000},25",
            }
            fill_items(book, context, [row], ITEMS_DATA_START_ROW)
            (inbox / f"{code}-{YEAR}.xlsx").write_bytes(save_book(book))
    get_engine.cache_clear()
    get_settings.cache_clear()


def _open_artifact(page, run_url: str, key: str, screenshot: str) -> None:  # type: ignore[no-untyped-def]
    """The run's Artifacts tab (a card per artifact, screenshot), then the artifact ``key`` itself."""
    page.goto(run_url)
    page.get_by_text("Artifacts", exact=True).first.click()
    card = page.get_by_text(key, exact=True).first
    card.wait_for(timeout=30_000)
    page.screenshot(path=str(OUTPUT / f"{screenshot}.png"), full_page=True)
    card.click()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_coordinator_opens_the_cycle_and_downloads_the_plan_from_the_prefect_ui(
    stack: Stack, browser: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1600}, locale="vi-VN")  # type: ignore[attr-defined]
    open_cycle = stack.deployment("open-cycle")
    page.goto(f"{stack.ui}/deployments/deployment/{open_cycle['id']}/run")
    form = page.locator("form").first
    form.get_by_text("Năm kế hoạch", exact=True).wait_for()

    # What the page shows: Vietnamese labels, choices in words, no "None" toggles, the technical date last.
    text = form.inner_text()
    for label in (
        "Năm kế hoạch",
        "Hạn đơn vị gửi đề xuất",
        "Đơn vị được đề nghị",
        "Mã đơn vị (khi chọn theo danh sách)",
        "Đơn vị tiền hiển thị",
        "Kỹ thuật — ngày thực hiện (để trống: hôm nay)",
        "Chỉ dùng khi chạy lại cho ngày khác; thường để trống.",
    ):
        assert label in text, label
    for english in ("submission_deadline", "unit_codes", "as_of", 'Property is type "None"', "by_kind"):
        assert english not in text, english
    assert "Tất cả đơn vị" in text and "triệu đồng" in text
    assert text.index("Kỹ thuật — ngày thực hiện") > text.index("Mã cơ quan chủ trì tổng hợp")
    page.wait_for_timeout(1000)  # the page's fade-in, for a screenshot a person can read
    page.screenshot(path=str(OUTPUT / "open-cycle-form.png"), full_page=True)

    def field(title: str):  # type: ignore[no-untyped-def]
        label = page.locator(".p-label__label", has_text=re.compile("^" + re.escape(title)))
        return form.locator(".p-label", has=label)

    # Filled and submitted by clicks.
    field("Năm kế hoạch").locator("input").fill(str(YEAR))
    field("Hạn đơn vị gửi đề xuất").locator(".p-date-button__control").click()
    page.locator("input[type=date]").last.fill(date(YEAR - 1, 12, 20).isoformat())
    page.get_by_role("button", name="Apply").click()
    field("Đơn vị được đề nghị").locator(".p-select-button__control").focus()
    page.keyboard.press("Space")  # opens the select (as a click does for a person)
    page.get_by_role("option", name="Theo danh sách mã đơn vị").click()
    codes = field("Mã đơn vị (khi chọn theo danh sách)")
    for index, code in enumerate(UNITS):
        codes.get_by_role("button", name="Add item").click()
        codes.locator("textarea").nth(index).fill(code)  # waits for the new item's box
    page.screenshot(path=str(OUTPUT / "open-cycle-form-filled.png"), full_page=True)
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("scheduled to start").first.wait_for(timeout=30_000)  # the UI's notice of the new run

    run = _wait_until("the open-cycle run", lambda: stack.runs("open-cycle"), timeout=30)[0]
    run = stack.finished(run["id"])
    assert run["name"] == f"mở kỳ kế hoạch năm {YEAR}"
    assert run["parameters"]["units"] in ("list", "Theo danh sách mã đơn vị")

    _open_artifact(
        page, f"{stack.ui}/runs/flow-run/{run['id']}", f"open-cycle-{YEAR}", "open-cycle-artifacts"
    )
    page.get_by_text("Bước tiếp theo").first.wait_for(timeout=30_000)
    page.screenshot(path=str(OUTPUT / "open-cycle-summary.png"), full_page=True)
    shown = page.locator("body").inner_text()
    assert "collect-submissions" in shown and "Đã đề nghị 2 đơn vị" in shown
    next_step = page.get_by_role("link", name="collect-submissions")
    assert (next_step.get_attribute("href") or "").startswith(f"{stack.ui}/deployments/deployment/")

    # Two units answer; the coordinator accepts and consolidates (deployments, as the UI's Run does).
    _submit_workbooks(stack, monkeypatch)
    stack.run("collect-submissions", {"year": YEAR})
    stack.run("accept-submissions", {"year": YEAR})
    plan_run = stack.run("consolidate-plan", {"year": YEAR})

    _open_artifact(
        page, f"{stack.ui}/runs/flow-run/{plan_run['id']}", f"plan-summary-{YEAR}", "plan-artifacts"
    )
    annex = page.get_by_role("link", name=re.compile(r"KH2027_tong-hop_.*\.xlsx")).first
    annex.wait_for(timeout=30_000)
    page.screenshot(path=str(OUTPUT / "plan-summary.png"), full_page=True)
    shown = page.locator("body").inner_text()
    assert "Tổng kinh phí" in shown and "3.000,5" in shown  # 1.000,25 + 2.000,25 triệu, one format
    assert str(stack.data_dir) not in shown  # no server path
    href = annex.get_attribute("href") or ""
    assert "/files/" in href
    annex.evaluate("link => link.removeAttribute('target')")  # same tab, so the download is this page's
    with page.expect_download() as download_info:
        annex.click()
    download = download_info.value
    assert re.fullmatch(r"KH2027_tong-hop_.*\.xlsx", download.suggested_filename)
    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert "Phụ lục 02" in workbook.sheetnames
    page.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_progress_report_rules_are_plain_object_fields_and_may_be_left_empty(
    stack: Stack, browser: object
) -> None:
    """`request-progress-reports`' per-kind rules and fixed deadlines: one object field each in the run
    form (no "value / None" switch to get past), and a run submitted with both untouched reads them as
    "no special rule"."""
    page = browser.new_page(viewport={"width": 1280, "height": 1600}, locale="vi-VN")  # type: ignore[attr-defined]
    deployment = stack.deployment("request-progress-reports")
    page.goto(f"{stack.ui}/deployments/deployment/{deployment['id']}/run")
    form = page.locator("form").first
    form.get_by_text("Quy định riêng theo loại kỳ").first.wait_for(timeout=60_000)
    # The two object fields are code editors that load after the form: submitted before they hold their
    # "{}", the form has nothing valid to send (a loaded machine made that race visible).
    _wait_until("the object fields' editors", lambda: form.inner_text().count("{}") >= 2, timeout=60)
    page.wait_for_timeout(1000)  # the page's fade-in, for a screenshot a person can read
    page.screenshot(path=str(OUTPUT / "request-progress-reports-form.png"), full_page=True)
    text = form.inner_text()
    assert "Hạn cố định theo kỳ" in text
    for english in ('Property is type "None"', "by_kind", "fixed_deadlines", "None"):
        assert english not in text, english

    def submitted() -> dict | None:  # the run from the form, not one the daily schedule created
        return next((r for r in stack.runs("request-progress-reports") if not r["auto_scheduled"]), None)

    # The run itself, read from the API. A fresh stack's Prefect server (SQLite) sometimes answers the
    # form's request with an error while its scheduler is writing the season's runs: the UI says "Oops.
    # Something went wrong." and keeps the form, and a person clicks Submit again; so does this test, twice
    # at most. Any other failure fails at once.
    for attempt in range(3):
        page.get_by_role("button", name="Submit").click()
        try:
            created = _wait_until("the request-progress-reports run", submitted, timeout=30)
            break
        except AssertionError:
            page.screenshot(path=str(OUTPUT / "request-progress-reports-not-submitted.png"), full_page=True)
            if attempt == 2 or not page.get_by_text("Something went wrong").count():
                raise
    run = stack.finished(created["id"])
    assert run["parameters"].get("by_kind") in ({}, None)
    assert run["parameters"].get("fixed_deadlines") in ({}, None)
    page.close()
