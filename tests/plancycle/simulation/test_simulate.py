"""`plancycle simulate` end to end, as a newcomer runs it: the command in its own process against a real
Prefect API, a whole planning year with ten units; then what it reports is checked against what it left
behind (the outbox, the database, the plan files, `plancycle check-plan` on the issued appendices)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from plancycle.settings import PROJECT_ROOT

pytestmark = pytest.mark.prefect
# a year no other test uses: flow runs and artifacts (keyed by year) share the session's Prefect API
YEAR, UNITS = 2033, 10
STAGES = [
    "registry",
    "open",
    "answers_early",
    "answers_corrected",
    "reminders_before",
    "answers_due",
    "reminders_overdue",
    "answers_late",
    "escalation",
    "answers_very_late",
    "review",
    "resubmission",
    "consolidation",
    "appraisal",
    "approval",
    "progress",
    "progress",
    "progress",
    "progress",
    "close",
    "next_year",
]


@pytest.fixture(scope="module")
def simulation(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    folder = tmp_path_factory.mktemp("simulation")
    data_dir, report = folder / "data", folder / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANCYCLE_")}
    env["PLANCYCLE_ENV"] = "test"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("plancycle")),
            "simulate",
            "--year",
            str(YEAR),
            "--units",
            str(UNITS),
            "--data-dir",
            str(data_dir),
            "--prefect-api",
            prefect_api,
            "--json",
            str(report),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    return json.loads(report.read_text(encoding="utf-8")), completed.stdout, data_dir


def _stage(result: dict, key: str) -> dict:
    return next(s for s in result["stages"] if s["key"] == key)


def test_every_stage_runs_in_order_and_is_printed(simulation: tuple[dict, str, Path]) -> None:
    result, printed, _ = simulation
    assert [s["key"] for s in result["stages"]] == STAGES
    for stage in result["stages"]:
        assert stage["label"] in printed
    assert f"Quý IV/{YEAR}" in printed and f"KH{YEAR}_ban-hanh" in printed


def test_messages_reported_are_the_messages_in_the_outbox(simulation: tuple[dict, str, Path]) -> None:
    result, _, data_dir = simulation
    email = sum(s["email"] for s in result["stages"])
    zalo = sum(s["zalo"] for s in result["stages"])
    assert result["outbox"] == {"email": email, "zalo": zalo}
    assert email == len(list((data_dir / "outbox" / "email").glob("*.eml")))
    assert zalo > 0  # every third officer follows the Zalo OA
    opened = _stage(result, "open")
    assert opened["details"]["units_requested"] == UNITS
    assert opened["email"] == UNITS  # one call per unit, with its workbook
    # reminders before the deadline, overdue reminders, then the heads told
    for key in ("reminders_before", "reminders_overdue", "escalation"):
        assert _stage(result, key)["email"] > 0, key


def test_the_season_as_played(simulation: tuple[dict, str, Path]) -> None:
    result, _, data_dir = simulation
    engine = create_engine(f"sqlite:///{data_dir / 'plancycle.db'}")
    with engine.connect() as db:
        statuses = dict(
            db.execute(
                text(
                    "select s.status, count(*) from submission s join planningcycle c on c.id = s.cycle_id "
                    "where c.year = :y group by s.status"
                ),
                {"y": YEAR},
            ).all()
        )
        cycles = dict(db.execute(text("select year, status from planningcycle")).all())
        invalid = db.execute(text("select count(*) from intakeattempt where not accepted")).scalar_one()
        returned = db.execute(
            text("select count(distinct unit_id) from notificationlog where template = 'submission_returned'")
        ).scalar_one()
    silent = 1  # 8 % of ten units, at least one
    nothing = 1  # one unit declares on the portal that it has nothing to propose
    assert statuses == {"accepted": UNITS - silent - nothing, "requested": silent, "no_proposal": nothing}
    assert invalid == _stage(result, "answers_early")["details"]["invalid_files"] >= 1
    assert returned == 1
    assert cycles == {YEAR: "closed", YEAR + 1: "collecting"}

    consolidated = _stage(result, "consolidation")
    appraised = _stage(result, "appraisal")
    approved = _stage(result, "approval")
    assert consolidated["details"]["workbook_mismatches"] == 0
    assert 0 < appraised["total_dong"] < consolidated["total_dong"]  # the appraisal lowered one amount
    assert approved["total_dong"] == appraised["total_dong"]

    quarters = [s for s in result["stages"] if s["key"] == "progress"]
    assert [q["details"]["period"] for q in quarters] == [f"Quý {r}/{YEAR}" for r in ("I", "II", "III", "IV")]
    assert [len(q["details"]["late"]) for q in quarters] == [0, 1, 0, 0]
    assert [len(q["details"]["missing"]) for q in quarters] == [0, 0, 1, 0]
    disbursed = [q["total_dong"] for q in quarters]
    assert disbursed == sorted(disbursed) and disbursed[-1] <= approved["total_dong"]

    closed = _stage(result, "close")["details"]
    assert closed["carry_over"] >= 1
    assert _stage(result, "next_year")["details"]["carry_over_prefilled"] == closed["carry_over"]


def test_the_issued_plan_adds_up(simulation: tuple[dict, str, Path]) -> None:
    result, _, _ = simulation
    issued = [Path(f) for f in result["files"] if "ban-hanh" in f]
    assert {p.suffix for p in issued} == {".xlsx", ".docx"}
    workbook = next(p for p in issued if p.suffix == ".xlsx")
    checked = subprocess.run(
        [str(Path(sys.executable).with_name("plancycle")), "check-plan", str(workbook)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len([f for f in result["files"] if "tien-do" in f]) == 4


def test_the_appraiser_decided_from_the_page_the_email_linked_to(simulation: tuple[dict, str, Path]) -> None:
    from sqlmodel import Session, create_engine, select

    from models.approval import ApprovalDecision

    _, _, data_dir = simulation
    engine = create_engine(f"sqlite:///{data_dir / 'plancycle.db'}")
    with Session(engine) as session:
        first = session.exec(select(ApprovalDecision).order_by(ApprovalDecision.id)).first()  # type: ignore[arg-type]
    engine.dispose()
    assert first is not None and first.decision == "adjust" and (first.payload or {})["channel"] == "portal"
