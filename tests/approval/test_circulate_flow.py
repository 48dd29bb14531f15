"""The circulate-for-approval flow on a real Prefect API, served as a deployment by a separate process that
is stopped and started again between stages; decisions are given through the API (``resume_flow_run`` with
``run_input``), as the Prefect UI and ``plancycle decide`` do. No sleeping beyond polling the run's state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.flow_runs import resume_flow_run
from sqlmodel import Session, select

from models import PlanningCycle, Submission
from models.approval import ApprovalDecision
from models.items import PlanVersion
from models.notifications import NotificationLog
from plancycle.decisions import input_ready
from plancycle.settings import get_settings
from tasks.approval.versions import version_totals
from tests.approval.world import TRIEU, YEAR, build_world, chain

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "circulate-for-approval/test"


class Server:
    """The serving process: ``restart()`` kills it and starts a fresh one (nothing is kept in memory)."""

    def __init__(self, api: str, db_url: str) -> None:
        self.env = dict(os.environ)
        self.env.update(
            {
                "PREFECT_API_URL": api,
                "PLANCYCLE_DATABASE_URL": db_url,
                "PLANCYCLE_DATA_DIR": str(get_settings().resolved_data_dir),
                "PREFECT_RUNNER_POLL_FREQUENCY": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        self.log = get_settings().resolved_data_dir / "serve.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.approval.serve_circulation"],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def idle(self, timeout: float = 60) -> None:
        """Wait until the suspended run's process has exited (the run is Suspended on the server a moment
        before its process is gone): stopping the server earlier would kill the run mid-suspension."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while _children(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)

    def restart(self) -> None:
        self.idle()
        self.stop()
        self.start()


def _children(pid: int) -> list[int]:
    """The flow-run processes of the serving process (multiprocessing spawns, not its resource tracker)."""
    import psutil

    found: list[int] = []
    for child in psutil.Process(pid).children():
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in command:
            found.append(child.pid)
    return found


@pytest.fixture
def server(prefect_api: str, db_url: str) -> Iterator[Server]:
    serving = Server(prefect_api, db_url)
    serving.start()
    yield serving
    serving.stop()


def _read(run_id: UUID) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def wait_for(run_id: UUID, server: Server, *, final: bool = False, timeout: float = 180) -> FlowRun:
    """Poll the API until the run is suspended (or, with ``final``, finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _read(run_id)
        state = run.state
        assert state is not None
        if final and state.is_final():
            return run
        if not final and state.is_paused() and input_ready(run):  # its form saved, not only the state
            return run
        if state.is_final() and not final:
            raise AssertionError(f"run ended: {state!r}; see {server.log}")
        time.sleep(0.5)
    raise AssertionError(f"timeout waiting for run {run_id}: {_read(run_id).state!r}; see {server.log}")


def pause_key(run: FlowRun) -> str:
    assert run.state is not None
    return str(run.state.state_details.pause_key)


def description(run: FlowRun) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run_input(run.id, f"suspended-{pause_key(run)}-description")  # type: ignore[arg-type]


def decide(run: FlowRun, **answer: Any) -> None:
    resume_flow_run(run.id, run_input=answer)


def start_run(server: Server, **parameters: Any) -> UUID:
    deadline = time.monotonic() + 120
    while True:  # the serving process registers the deployment when it starts
        try:
            run = run_deployment(DEPLOYMENT, parameters=parameters, timeout=0)
            return run.id
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_full_chain_with_parallel_stage_adjustment_invalid_answer_and_restarts(
    server: Server, session: Session
) -> None:
    world = build_world(session)
    run_id = start_run(server, year=YEAR, as_of="2026-12-09", stages=chain(world))

    run = wait_for(run_id, server)
    assert pause_key(run) == "v1-gd-1"
    text = description(run)
    assert "Giám đốc Sở KH&CN" in text and "Phiên bản đầu tiên" in text and "Tổng cộng" in text
    health_ref = next(
        i["ref"]
        for i in session.exec(select(PlanVersion)).one().content["items"]
        if i["name"] == "Bệnh án điện tử"
    )
    decide(
        run,
        approver="giamdoc@example.org",
        decision="adjust",
        adjustments=[{"item_ref": health_ref, "source_code": "NSDP", "amount": "2.000", "reason": "cân đối"}],
        comment="Giảm theo khả năng cân đối",
    )

    run = wait_for(run_id, server)
    assert pause_key(run) == "v2-stc-1"  # the parallel round sees the adjusted version
    assert "2.500" in description(run) and "2.000" in description(run)  # the change since version 1
    server.restart()
    decide(
        run,
        approver="gd.stc@example.org",
        decision="adjust",
        adjustments=[{"item_ref": "IX.9", "source_code": "NSDP", "amount": "-1", "reason": ""}],
    )

    run = wait_for(run_id, server)
    assert pause_key(run) == "v2-stc-2"  # refused, asked again; nothing recorded
    assert "Ý kiến vừa gửi chưa được ghi nhận" in description(run) and "IX.9" in description(run)
    decide(run, approver="gd.stc@example.org", decision="approve", entered_by="Văn thư Sở KH&CN")

    run = wait_for(run_id, server)
    assert pause_key(run) == "v2-dt-1"
    server.restart()
    # the coordinator enters the investment side's approval on its behalf, from the command line
    from typer.testing import CliRunner

    from plancycle.cli import app

    typed = CliRunner().invoke(
        app,
        [
            "decide",
            "--year",
            str(YEAR),
            "--stage",
            "DT",
            "--decision",
            "approve",
            "--approver",
            str(world.approvers["DT"].id),
            "--on-behalf-of",
            "Chuyên viên tổng hợp",
        ],
    )
    assert typed.exit_code == 0, typed.output

    run = wait_for(run_id, server)
    assert pause_key(run) == "v2-ubnd-1"
    decide(run, approver="chutich@example.org", decision="approve")  # no decision number: refused
    run = wait_for(run_id, server)
    assert pause_key(run) == "v2-ubnd-2"
    server.restart()
    decide(
        run,
        approver="chutich@example.org",
        decision="approve",
        decision_number="2345/QĐ-UBND",
        decision_date="2026-12-27",
        signer="Nguyễn Văn Chủ tịch",
    )
    run = wait_for(run_id, server, final=True)
    assert run.state is not None and run.state.is_completed(), run.state

    session.expire_all()
    cycle = session.exec(select(PlanningCycle).where(PlanningCycle.year == YEAR)).one()
    assert (cycle.decision_number, cycle.decision_date, cycle.status) == (
        "2345/QĐ-UBND",
        date(2026, 12, 27),
        "approved",
    )
    versions = session.exec(select(PlanVersion).order_by(PlanVersion.number)).all()  # type: ignore[arg-type]
    assert [v.number for v in versions] == [1, 2, 3] and versions[-1].is_final
    assert versions[0].content_hash != versions[1].content_hash
    assert version_totals(versions[1].content)["total"] == (800 + 200 + 2_000 + 320) * TRIEU
    decisions = session.exec(select(ApprovalDecision).order_by(ApprovalDecision.id)).all()  # type: ignore[arg-type]
    assert [d.decision for d in decisions] == ["adjust", "approve", "approve", "approve"]
    assert decisions[1].entered_by == "Văn thư Sở KH&CN"
    assert decisions[2].entered_by == "Chuyên viên tổng hợp"

    folder = get_settings().resolved_data_dir / "plans" / str(YEAR)
    assert (folder / "KH2027_ban-hanh_v3.xlsx").exists() and (folder / "KH2027_ban-hanh_v3.docx").exists()

    # every message once, although the flow re-executed from the top after each of six resumptions
    logs = session.exec(select(NotificationLog)).all()
    by_template: dict[str, int] = {}
    for log in logs:
        by_template[log.template] = by_template.get(log.template, 0) + 1
        assert log.status == "sent" and log.attempts == 1, log
    assert by_template == {"approval_requested": 4, "plan_approved": 2}
    outbox = list((get_settings().resolved_outbox_dir / "email").glob("*.eml"))
    assert len(outbox) == len(logs)

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="approval-%"))
        )
    keys = {a.key for a in found}
    assert {f"approval-decisions-{YEAR}", f"approval-audit-{YEAR}"} <= keys
    assert {f"approval-v{n}-{YEAR}" for n in (1, 2, 3)} <= keys  # one artifact per plan version
    decisions = max((a for a in found if a.key == f"approval-decisions-{YEAR}"), key=lambda a: a.created)
    shown = str(decisions.data)
    assert "Bước tiếp theo" in shown and "request-progress-reports" in shown  # the plan issued: what now
    assert f"Kế hoạch năm {YEAR} đã ban hành" in shown


def test_return_for_revision_resubmission_and_a_new_circulation(server: Server, session: Session) -> None:
    world = build_world(session)
    run_id = start_run(server, year=YEAR, as_of="2026-12-09", stages=chain(world))
    run = wait_for(run_id, server)
    decide(
        run,
        approver="giamdoc@example.org",
        decision="return_for_revision",
        return_to="units",
        unit_codes=["SYT"],
        comment="Bổ sung thuyết minh bệnh án điện tử",
    )
    run = wait_for(run_id, server, final=True)
    assert run.state is not None and run.state.is_completed() and run.state.name == "Trả lại"
    session.expire_all()
    submission = session.exec(select(Submission).where(Submission.unit_id == world.health.id)).one()
    assert submission.status == "returned"
    templates = [log.template for log in session.exec(select(NotificationLog))]
    assert templates.count("submission_returned") == 1 and "plan_approved" not in templates

    # the unit resubmits, the coordinator consolidates again and circulates the new draft
    from tasks.consolidation.plan import materialize_plan
    from tests.consolidation.plan_world import Item, add_submission

    cycle = session.exec(select(PlanningCycle).where(PlanningCycle.year == YEAR)).one()
    assert cycle.status == "reviewing"
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
    again = start_run(server, year=YEAR, as_of="2026-12-16")
    for approver, key in (
        ("giamdoc@example.org", "v2-gd-1"),
        ("gd.stc@example.org", "v2-stc-1"),
        ("pgd.stc@example.org", "v2-dt-1"),
    ):
        run = wait_for(again, server)
        assert pause_key(run) == key
        decide(run, approver=approver, decision="approve")
    run = wait_for(again, server)
    assert pause_key(run) == "v2-ubnd-1"
    decide(
        run,
        approver="chutich@example.org",
        decision="approve",
        decision_number="2400/QĐ-UBND",
        decision_date="2026-12-28",
        signer="Nguyễn Văn Chủ tịch",
    )
    run = wait_for(again, server, final=True)
    assert run.state is not None and run.state.is_completed() and run.state.name != "Trả lại"
    session.expire_all()
    final = session.exec(select(PlanVersion).where(PlanVersion.is_final)).one()  # type: ignore[arg-type]
    assert "Bệnh án điện tử (có thuyết minh)" in {i["name"] for i in final.content["items"]}
    assert version_totals(final.content)["total"] == (800 + 200 + 2_400 + 320) * TRIEU
