"""Opening a cycle: configuration, one request per unit, idempotent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import Session, func, select

from models import ApplicationField, FundingSource, PlanningCycle, Submission
from tasks.registry.directory import import_registry
from tasks.submissions.cycles import CycleSpec, open_cycle_records

DEMO = Path(__file__).resolve().parents[2] / "plancycle" / "demo"


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_open_cycle_twice_changes_nothing(session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])
    spec = CycleSpec(year=2027, submission_deadline=date(2026, 9, 30), coordinating_unit_code="SKHCN")
    first = open_cycle_records(session=session, spec=spec, as_of=date(2026, 8, 3), actor="test")
    session.commit()
    # units valid on 3/8/2026: merged departments and the old city committee are gone, communes are in;
    # the coordinating department (SKHCN) proposes too
    assert first.created and len(first.new_submission_ids) == 21
    cycle = session.get(PlanningCycle, first.cycle_id)
    assert cycle is not None and cycle.title.endswith("năm 2027")
    assert _count(session, FundingSource) == 4 and _count(session, ApplicationField) == 7

    again = open_cycle_records(session=session, spec=spec, as_of=date(2026, 8, 4), actor="test")
    session.commit()
    assert not again.created and again.new_submission_ids == []
    assert again.submission_ids == first.submission_ids
    assert _count(session, Submission) == 21 and _count(session, PlanningCycle) == 1


def test_open_cycle_for_listed_units_with_own_sources(session: Session) -> None:
    import_registry(session=session, paths=[DEMO / "units.csv"])
    spec = CycleSpec(
        year=2020,
        submission_deadline=date(2019, 10, 15),
        units="list",
        unit_codes=["STTTT", "SYT"],
        funding_sources=[
            {"code": "NSDP", "name": "Ngân sách địa phương"},
            {"code": "NSTW", "name": "Ngân sách Trung ương", "group": "central"},
        ],
    )
    opened = open_cycle_records(session=session, spec=spec, as_of=date(2019, 8, 1), actor="test")
    assert len(opened.new_submission_ids) == 2
    assert [s.code for s in session.exec(select(FundingSource))] == ["NSDP", "NSTW"]
