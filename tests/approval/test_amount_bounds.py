"""An approver's adjustment is bounded like a unit's proposal: a figure typed in đồng into the triệu
field, or one beyond any BIGINT, is refused with a message instead of a database overflow (issue 16.2)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tasks.approval.chain import configure_chain, get_stage
from tasks.approval.decisions import DecisionData, parse_adjustment, validate_decision
from tasks.approval.versions import freeze_version
from tests.approval.world import build_world, chain


@pytest.mark.parametrize("amount", ["922183000", "1.000.000.000.000.000.000.000"])
def test_absurd_adjustment_is_refused(session: Session, amount: str) -> None:
    world = build_world(session)
    configure_chain(session=session, cycle=world.cycle, stages=chain(world), actor="test")
    version = freeze_version(session=session, cycle=world.cycle, reason="circulation", actor="test")
    ref = version.content["items"][0]["ref"]
    problems = validate_decision(
        session=session,
        cycle=world.cycle,
        version=version,
        stage=get_stage(session=session, cycle=world.cycle, code="GD"),
        data=DecisionData(
            approver="giamdoc@example.org",
            decision="adjust",
            adjustments=[parse_adjustment(f"{ref}:NSDP={amount}:cắt giảm")],
        ),
    )
    assert any("quá lớn" in p and "đồng" in p for p in problems), problems
