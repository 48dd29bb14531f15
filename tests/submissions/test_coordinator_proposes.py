"""The coordinating department proposes too (issue 19, finding 1): its own request and workbook by
default, a cycle setting turns it off, and the coordinator can enter a unit's workbook on its behalf."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from models import AuditEntry, PlanningCycle, Submission
from models.registry import get_unit_by_code
from plancycle.cli import app as cli
from tasks.registry.directory import import_registry
from tasks.submissions.cycles import CycleError, CycleSpec, open_cycle_records
from tests.submissions.conftest import World, filled_workbook

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"


def _asked(session: Session, cycle_id: int) -> set[str]:
    from models import Unit

    return set(
        session.exec(
            select(Unit.code)
            .join(Submission, Submission.unit_id == Unit.id)
            .where(Submission.cycle_id == cycle_id)  # type: ignore[arg-type]
        )
    )


def test_the_coordinating_unit_gets_its_own_request_and_keeps_it_on_rerun(session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])
    spec = CycleSpec(year=2027, submission_deadline=date(2026, 9, 30), coordinating_unit_code="SKHCN")
    first = open_cycle_records(session=session, spec=spec, as_of=date(2026, 8, 3), actor="test")
    assert "SKHCN" in _asked(session, first.cycle_id) and len(first.new_submission_ids) == 21
    again = open_cycle_records(session=session, spec=spec, as_of=date(2026, 8, 4), actor="test")
    assert again.new_submission_ids == [] and len(again.submission_ids) == 21

    listed = CycleSpec(
        year=2028,
        submission_deadline=date(2027, 9, 30),
        coordinating_unit_code="SKHCN",
        units="list",
        unit_codes=["SYT", "STC"],
    )
    opened = open_cycle_records(session=session, spec=listed, as_of=date(2027, 8, 3), actor="test")
    assert _asked(session, opened.cycle_id) == {"SYT", "STC", "SKHCN"}


def test_a_cycle_setting_keeps_the_coordinator_out(session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])
    spec = CycleSpec(
        year=2027,
        submission_deadline=date(2026, 9, 30),
        coordinating_unit_code="SKHCN",
        coordinator_proposes=False,
    )
    opened = open_cycle_records(session=session, spec=spec, as_of=date(2026, 8, 3), actor="test")
    cycle = session.get(PlanningCycle, opened.cycle_id)
    assert cycle is not None and cycle.coordinator_proposes is False
    assert "SKHCN" not in _asked(session, opened.cycle_id) and len(opened.new_submission_ids) == 20


def test_unknown_coordinating_unit_is_refused(session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])
    spec = CycleSpec(year=2027, submission_deadline=date(2026, 9, 30), coordinating_unit_code="SKHCNX")
    try:
        open_cycle_records(session=session, spec=spec, as_of=date(2026, 8, 3), actor="test")
    except CycleError as error:
        assert "SKHCNX" in error.message_vi
    else:
        raise AssertionError("an unknown coordinating unit must be refused")


def test_coordinator_enters_a_units_workbook_on_its_behalf(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world.session.add(Submission(cycle_id=world.cycle.id, unit_id=world.unit.id, deadline=date(2026, 9, 30)))  # type: ignore[arg-type]
    world.session.commit()
    path = tmp_path / "syt-giay.xlsx"
    path.write_bytes(filled_workbook(world))
    result = CliRunner().invoke(
        cli,
        [
            "submissions",
            "import",
            str(path),
            "--unit",
            "SYT",
            "--year",
            "2027",
            "--as-of",
            "2026-09-25",
            "--on-behalf-of",
            "Lê Văn Cường",
        ],
    )
    assert result.exit_code == 0, result.output
    world.session.expire_all()
    entry = world.session.exec(
        select(AuditEntry).where(AuditEntry.action == "submission.version_stored")
    ).one()
    assert entry.actor == "coordinator:Lê Văn Cường"
    assert entry.details["on_behalf_of"] == "SYT" and entry.details["channel"] == "cli"  # type: ignore[index]
    assert get_unit_by_code(session=world.session, code="SYT") is not None
