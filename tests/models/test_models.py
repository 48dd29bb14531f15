"""The schema: migrations apply, the audit log refuses changes, money columns hold exact large integers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from models import AuditEntry, FundingSource, PlanItem, PlanItemAmount, record_audit
from tests.factories import make_cycle, make_unit


def test_audit_log_is_append_only(session: Session) -> None:
    record_audit(session=session, actor="tester", action="create", entity="unit", entity_id=1)
    session.commit()
    entry = session.exec(select(AuditEntry)).one()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        session.execute(sa.update(AuditEntry).where(AuditEntry.id == entry.id).values(actor="someone else"))
        session.flush()
    session.rollback()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        session.execute(sa.delete(AuditEntry))
        session.flush()
    session.rollback()
    assert session.exec(select(AuditEntry)).one().actor == "tester"


def test_money_is_exact_integer_dong_and_not_stated_is_null(session: Session) -> None:
    unit = make_unit(session)
    cycle = make_cycle(session)
    source = session.exec(select(FundingSource).where(FundingSource.code == "NSDP")).one()
    item = PlanItem(cycle_id=cycle.id, name="Nền tảng tích hợp", lead_unit_id=unit.id)
    session.add(item)
    session.flush()
    huge = 261_221_000_000_123  # beyond float's exact range once summed a few times
    session.add(PlanItemAmount(item_id=item.id, funding_source_id=source.id, amount=huge))
    nstw = session.exec(select(FundingSource).where(FundingSource.code == "NSTW")).one()
    session.add(PlanItemAmount(item_id=item.id, funding_source_id=nstw.id, amount=None))
    session.commit()
    amounts = {a.funding_source_id: a.amount for a in session.exec(select(PlanItemAmount))}
    assert amounts == {source.id: huge, nstw.id: None}
    assert isinstance(amounts[source.id], int)


def test_unique_cycle_year(session: Session) -> None:
    make_cycle(session, year=2030)
    session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        make_cycle(session, year=2030)
    session.rollback()
