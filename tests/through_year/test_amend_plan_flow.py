"""The amend-plan flow on a real Prefect API, served by a separate process: the proposal is recorded, the
last stage's approver is asked, an incomplete answer is refused and asked again, the approval becomes a
new plan version (is_amendment) and each unit concerned is told."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.deployments import run_deployment
from sqlmodel import Session, select

from models import PlanItem, PlanVersion
from models.notifications import NotificationLog
from tasks.approval.versions import version_totals
from tests.approval.test_circulate_flow import ROOT, Server, decide, description, pause_key, wait_for
from tests.through_year.year_world import TRIEU, build_year

pytestmark = pytest.mark.prefect


class AmendmentServer(Server):
    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.through_year.serve_amendment"],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def server(prefect_api: str, db_url: str) -> Iterator[Server]:
    serving = AmendmentServer(prefect_api, db_url)
    serving.start()
    yield serving
    serving.stop()


def start_run(**parameters: Any) -> Any:
    import time

    deadline = time.monotonic() + 120
    while True:
        try:
            return run_deployment("amend-plan/test", parameters=parameters, timeout=0).id
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_amendment_through_one_approval_stage(server: Server, session: Session) -> None:
    world = build_year(session)
    benh_an = world.items["benh-an"].row_ref
    thong_ke = world.items["thong-ke"].row_ref
    proposal = {
        "reason": "Cân đối lại nguồn vốn giữa năm",
        "add_items": [
            {
                "name": "Nền tảng học trực tuyến",
                "lead_unit_code": "SGD",
                "amounts": {"NSDP": "350"},
                "reason": "Chỉ đạo của Bộ",
            }
        ],
        "change_amounts": [
            {"item_ref": benh_an, "source_code": "NSDP", "amount": "2.000", "reason": "Tiết kiệm đấu thầu"}
        ],
        "drop_items": [{"item_ref": thong_ke, "reason": "Bộ Y tế triển khai dùng chung"}],
    }
    run_id = start_run(year=2027, proposal=proposal, as_of="2027-07-01")
    run = wait_for(run_id, server)
    assert pause_key(run) == "amendment-1-1"
    text = description(run)
    assert "Nền tảng học trực tuyến" in text and "2.500" in text and "2.000" in text
    server.restart()
    decide(run, approver="chutich@example.org", decision="approve")  # no decision number: refused
    run = wait_for(run_id, server)
    assert pause_key(run) == "amendment-1-2"
    assert "Ý kiến vừa gửi chưa được ghi nhận" in description(run)
    decide(
        run,
        approver="chutich@example.org",
        decision="approve",
        decision_number="1234/QĐ-UBND",
        decision_date="2027-07-10",
        signer="Nguyễn Văn A",
    )
    run = wait_for(run_id, server, final=True)
    assert run.state is not None and run.state.is_completed(), run.state

    session.expire_all()
    latest = session.exec(select(PlanVersion).order_by(PlanVersion.number.desc())).first()  # type: ignore[attr-defined]
    assert latest is not None and latest.is_amendment
    expected = (800 + 200 + 2_000 + 450 + 600 + 150 + 350) * TRIEU
    assert version_totals(latest.content)["total"] == expected
    assert session.exec(select(PlanItem).where(PlanItem.row_ref == thong_ke)).one().rejected
    told = {
        row.idempotency_key.split(":")[3]
        for row in session.exec(select(NotificationLog))
        if row.idempotency_key.startswith("plan-amended:")
    }
    assert told == {"SGD", "SYT"}
