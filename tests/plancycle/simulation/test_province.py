"""The simulated province is a registry a real import accepts, at the sizes the benchmark uses."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, func, select

from models import Contact, Unit
from plancycle.simulation.province import COORDINATOR, build_province, write_registry
from tasks.registry.directory import import_registry


def test_six_hundred_units_import_cleanly(session: Session, tmp_path: Path) -> None:
    province = build_province(600, seed=2025)
    assert len(province.codes) == 600 and COORDINATOR not in province.codes
    result = import_registry(session=session, paths=write_registry(province, tmp_path), actor="test")
    session.commit()
    assert result.units_created == 600 + 1 + len(province.leadership)
    assert session.exec(select(func.count()).select_from(Unit)).one() == result.units_created
    # an officer and a head per unit, a coordinator, two approvers
    assert session.exec(select(func.count()).select_from(Contact)).one() == 2 * 601 + 1 + 2


def test_the_same_seed_gives_the_same_province() -> None:
    assert build_province(50, seed=7) == build_province(50, seed=7)
    assert build_province(50, seed=7) != build_province(50, seed=8)
