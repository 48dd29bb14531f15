"""Small factory helpers that build real rows for tests."""

from __future__ import annotations

from datetime import date
from itertools import count

from sqlmodel import Session

from models import Contact, FundingSource, PlanningCycle, Unit
from models.registry import unit_name_key

_seq = count(1)


def make_unit(
    session: Session, *, code: str | None = None, name: str | None = None, **fields: object
) -> Unit:
    n = next(_seq)
    name = name or f"Sở Thử nghiệm {n}"
    unit = Unit(code=code or f"U{n:04d}", name=name, name_key=unit_name_key(name), **fields)
    session.add(unit)
    session.flush()
    return unit


def make_contact(session: Session, unit: Unit, **fields: object) -> Contact:
    n = next(_seq)
    values: dict[str, object] = {
        "full_name": f"Nguyễn Văn {n}",
        "email": f"officer{n}@example.org",
        "role": "officer",
    }
    values.update(fields)
    contact = Contact(unit_id=unit.id, **values)  # type: ignore[arg-type]
    session.add(contact)
    session.flush()
    return contact


def make_cycle(session: Session, *, year: int = 2027, **fields: object) -> PlanningCycle:
    values: dict[str, object] = {
        "title": f"Kế hoạch ứng dụng CNTT, chuyển đổi số năm {year}",
        "submission_deadline": date(year - 1, 9, 30),
    }
    values.update(fields)
    cycle = PlanningCycle(year=year, **values)  # type: ignore[arg-type]
    session.add(cycle)
    session.flush()
    session.add(FundingSource(cycle_id=cycle.id, code="NSDP", name="Ngân sách địa phương", display_order=1))
    session.add(
        FundingSource(
            cycle_id=cycle.id, code="NSTW", name="Ngân sách Trung ương", group="central", display_order=2
        )
    )
    session.flush()
    return cycle
