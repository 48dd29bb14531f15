"""A small province ready for approval: a coordinator, two proposing units, four approvers, a cycle whose
plan was consolidated from accepted submissions (so items carry their printed numbers, "I.1", "II.1"…)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from models import Contact, PlanningCycle, Unit
from tasks.consolidation.plan import materialize_plan
from tests.consolidation.plan_world import Item, add_submission, new_cycle
from tests.factories import make_contact, make_unit

YEAR = 2027
TRIEU = 1_000_000


@dataclass
class World:
    cycle: PlanningCycle
    coordinator: Unit
    health: Unit
    finance: Unit
    leadership: Unit
    approvers: dict[str, Contact]  # stage code → contact
    officers: dict[str, Contact]  # unit code → contact


def chain(world: World) -> list[dict[str, object]]:
    """Director, then Finance and Investment in parallel, then the People's Committee."""
    return [
        {
            "code": "GD",
            "name": "Giám đốc Sở KH&CN",
            "sequence": 1,
            "approvers": [world.approvers["GD"].email],
        },
        {
            "code": "STC",
            "name": "Sở Tài chính (sự nghiệp)",
            "sequence": 2,
            "approvers": [world.approvers["STC"].email],
        },
        {
            "code": "DT",
            "name": "Bộ phận đầu tư",
            "sequence": 2,
            "approvers": [world.approvers["DT"].id],
            "allowed_decisions": ["approve", "adjust", "return_for_revision"],
        },
        {
            "code": "UBND",
            "name": "Lãnh đạo UBND tỉnh",
            "sequence": 3,
            "approvers": [world.approvers["UBND"].email],
        },
    ]


def build_world(session: Session, year: int = YEAR) -> World:
    coordinator = make_unit(session, code="SKHCN", name="Sở Khoa học và Công nghệ", kind="department")
    health = make_unit(session, code="SYT", name="Sở Y tế", kind="department")
    finance = make_unit(session, code="STC", name="Sở Tài chính", kind="department")
    leadership = make_unit(session, code="UBND", name="Văn phòng UBND tỉnh", kind="provincial_leadership")
    cycle = new_cycle(session, year, coordinating_unit_id=coordinator.id)
    officers = {
        u.code: make_contact(session, u, email=f"vanthu.{u.code.lower()}@example.org")
        for u in (coordinator, health, finance)
    }
    approvers = {
        "GD": make_contact(
            session, coordinator, full_name="Giám đốc", role="head", email="giamdoc@example.org"
        ),
        "STC": make_contact(
            session, finance, full_name="Giám đốc STC", role="head", email="gd.stc@example.org"
        ),
        "DT": make_contact(
            session, finance, full_name="Phó Giám đốc STC", role="approver", email="pgd.stc@example.org"
        ),
        "UBND": make_contact(
            session, leadership, full_name="Chủ tịch", role="head", email="chutich@example.org"
        ),
    }
    session.commit()
    add_submission(
        session,
        cycle,
        coordinator,
        [
            Item(
                "Trung tâm giám sát an toàn thông tin",
                {"NSDP": 800 * TRIEU, "NSTW": 200 * TRIEU},
                field="SEC",
            )
        ],
    )
    add_submission(
        session,
        cycle,
        health,
        [
            Item("Bệnh án điện tử", {"NSDP": 2_500 * TRIEU}),
            Item("Phần mềm thống kê y tế", {"NSDP": 320 * TRIEU}),
        ],
    )
    materialize_plan(session=session, cycle=cycle, actor="test")
    session.commit()
    return World(cycle, coordinator, health, finance, leadership, approvers, officers)
