"""Totals are exact or refused, never wrapped: amounts whose sum does not fit int64 stop consolidation with
the largest items named, instead of writing −4,47·10¹⁷ into the summary (issue 16, finding 2)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from tasks.common.amounts import INT64_MAX
from tasks.consolidation.consolidated import ConsolidationError
from tasks.consolidation.plan import build_plan, materialize_plan
from tests.consolidation.plan_world import Item, add_submission, make_unit, new_cycle

AS_OF = date(2026, 11, 20)
HUGE = 9_000_000_000_000 * 1_000_000  # 9.000.000.000.000 triệu, as accepted before the bounds


def test_totals_beyond_int64_are_refused_not_wrapped(session: Session) -> None:
    syt = make_unit(session, code="SYT", name="Sở Y tế")
    cycle = new_cycle(session, 2027)
    add_submission(
        session, cycle, syt, [Item("Hệ thống A", {"NSDP": HUGE}), Item("Hệ thống B", {"NSDP": HUGE})]
    )
    materialize_plan(session=session, cycle=cycle, actor="tester")
    with pytest.raises(ConsolidationError) as caught:
        build_plan(session=session, cycle=cycle, as_of=AS_OF)
    error = caught.value
    assert error.key == "total_too_large"
    assert "Hệ thống A" in error.message_vi and "Hệ thống B" in error.message_vi
    assert "18.000.000.000.000.000.000" in error.message_vi  # the exact total, not a wrapped one


def test_large_totals_that_fit_stay_exact(session: Session) -> None:
    syt = make_unit(session, code="SYT", name="Sở Y tế")
    cycle = new_cycle(session, 2027)
    half = INT64_MAX // 2
    add_submission(session, cycle, syt, [Item("A", {"NSDP": half}), Item("B", {"NSDP": half, "NSTW": 1})])
    materialize_plan(session=session, cycle=cycle, actor="tester")
    plan = build_plan(session=session, cycle=cycle, as_of=AS_OF)
    assert plan.grand_totals["total"] == 2 * half + 1
