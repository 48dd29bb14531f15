"""The province's budget total for a plan year: the denominator of the KH&CN / ĐMST / CĐS share findings
(``legal_frame.share_findings``). Entered by the coordinator (``plancycle plans budget``), audited."""

from __future__ import annotations

from sqlmodel import Session

from models.audit import record_audit
from tasks.common.money import MoneyFormatError, parse_money
from tasks.errors import PlancycleError
from tasks.submissions.cycles import require_cycle


class BudgetError(PlancycleError):
    catalog = "frame"


def set_budget_total(*, session: Session, year: int, amount: str, unit: str, actor: str) -> tuple[int, bool]:
    """Store the budget total of ``year`` (typed in ``unit``: dong / trieu / ty, Vietnamese format
    accepted) as integer đồng; returns it and whether it changed."""
    cycle = require_cycle(session=session, year=year)
    try:
        value = parse_money(amount, unit)
    except (MoneyFormatError, ValueError) as error:
        raise BudgetError("bad_budget", value=amount, message=str(error)) from None
    if value is None or value <= 0:
        raise BudgetError("bad_budget", value=amount, message="> 0")
    changed = cycle.budget_total != value
    if changed:
        record_audit(
            session=session,
            actor=actor,
            action="cycle.budget_total_set",
            subject=cycle,
            cycle=cycle,
            details={"before": cycle.budget_total, "after": value},
        )
        cycle.budget_total = value
        session.add(cycle)
        session.flush()
    return value, changed
