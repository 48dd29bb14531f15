"""`./dev up` seeds the demo province with its approval chain: appraisal by the Finance department, then
the People's Committee's decision, approvers named by unit code and found in the demo registry."""

from __future__ import annotations

from sqlmodel import Session

from plancycle.cli.stack import seed_demo_if_empty
from tasks.approval.chain import configure_chain, load_chain_file, stage_approvers
from tasks.approval.steps import default_chain_file
from tests.consolidation.plan_world import new_cycle


def test_the_demo_seed_writes_a_chain_the_demo_registry_fills(session: Session) -> None:
    assert not default_chain_file().exists()
    assert seed_demo_if_empty()
    stages = load_chain_file(default_chain_file())
    assert [(s.code, s.sequence) for s in stages] == [("STC", 1), ("UBND", 2)]
    cycle = new_cycle(session, 2027)
    chain = configure_chain(session=session, cycle=cycle, stages=stages, actor="test")
    approvers = {s.code: [c.email for c in stage_approvers(session=session, stage=s)] for s in chain}
    assert approvers == {"STC": ["stc.thamdinh@example.org"], "UBND": ["ubnd.lanhdao@example.org"]}
    assert [s.name for s in chain] == ["Thẩm định – Sở Tài chính", "Phê duyệt – UBND tỉnh"]
