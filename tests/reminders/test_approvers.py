"""Approvers are reminded about their stage's deadline while the plan waits for them: only the stages now
waiting, once per step, escalation to the coordinators, nothing once the plan is no longer circulating."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from models import ApprovalDecision, NotificationLog
from models.audit import record_audit
from plancycle.settings import get_settings
from tasks.approval.chain import configure_chain, get_stage
from tasks.approval.versions import freeze_version
from tasks.notify.delivery import send_batch
from tasks.reminders.approvers import plan_approval_reminders, waiting_stages
from tests.approval.world import build_world, chain
from tests.factories import make_contact

# Mon 7/12/2026: three working days before Thu 10/12 (the director's deadline)
DEADLINES = {
    "GD": date(2026, 12, 10),
    "STC": date(2026, 12, 17),
    "DT": date(2026, 12, 17),
    "UBND": date(2026, 12, 24),
}


def _circulate(session: Session):  # type: ignore[no-untyped-def]
    world = build_world(session)
    stages = [dict(s, deadline=DEADLINES[s["code"]]) for s in chain(world)]  # type: ignore[arg-type]
    configure_chain(session=session, cycle=world.cycle, stages=stages, actor="test")
    version = freeze_version(session=session, cycle=world.cycle, reason="circulation", actor="test")
    record_audit(
        session=session,
        actor="test",
        action="approval.circulation_started",
        subject=version,
        cycle=world.cycle,
        details={"flow_run_id": "00000000-0000-0000-0000-000000000001", "version": version.number},
    )
    world.cycle.status = "circulating"
    session.add(world.cycle)
    session.commit()
    return world, version


def _recipients(messages) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.key.split(":")[2] + "→" + str(m.contact_id) for m in messages}


def test_only_the_waiting_stage_is_reminded_once_per_step(session: Session) -> None:
    world, version = _circulate(session)
    settings = get_settings()
    gd = get_stage(session=session, cycle=world.cycle, code="GD")

    messages, rows = plan_approval_reminders(session=session, as_of=date(2026, 12, 7), settings=settings)
    assert [(r.stage_code, r.step) for r in rows] == [("GD", "before-3")]
    assert {m.contact_id for m in messages} == {world.approvers["GD"].id}
    assert messages[0].template == "approval_reminder" and messages[0].context["days_left"] == 3
    # the approver is reminded with their own page in the portal, not the Prefect UI
    from tasks.approval.access import verify_approver_token

    link = messages[0].context["link"]
    assert link.startswith(settings.resolved_public_base_url + "/a/")
    grant = verify_approver_token(session=session, token=link.rsplit("/", 1)[1], settings=settings)
    assert (grant.stage.code, grant.version.number, grant.contact.id) == ("GD", 1, world.approvers["GD"].id)
    session.commit()  # the stale before-7 step is logged as skipped in this transaction
    result = send_batch(messages, settings=settings, as_of=date(2026, 12, 7))
    assert result.sent_now == 1

    # the same day again: nothing new
    session.expire_all()
    again, _ = plan_approval_reminders(session=session, as_of=date(2026, 12, 7), settings=settings)
    assert again == []

    # the director decides: now Finance and Investment (parallel) wait, the People's Committee does not
    session.add(
        ApprovalDecision(
            idempotency_key="k1",
            plan_version_id=version.id,
            stage_id=gd.id,
            decision="approve",  # type: ignore[arg-type]
        )
    )
    session.commit()
    _, waiting = waiting_stages(session=session, cycle=world.cycle)
    assert sorted(s.code for s in waiting) == ["DT", "STC"]
    due_day, rows = plan_approval_reminders(session=session, as_of=date(2026, 12, 17), settings=settings)
    assert sorted((r.stage_code, r.step) for r in rows) == [("DT", "due"), ("STC", "due")]
    assert {m.contact_id for m in due_day} == {world.approvers["STC"].id, world.approvers["DT"].id}


def test_overdue_escalates_to_the_coordinators_and_stops_when_not_circulating(session: Session) -> None:
    world, version = _circulate(session)
    coordinator = make_contact(session, world.coordinator, role="coordinator", email="tonghop@example.org")
    session.commit()
    settings = get_settings()
    # Thu 17/12 + 5 working days = Thu 24/12: the director is overdue and the coordinators are told
    messages, rows = plan_approval_reminders(session=session, as_of=date(2026, 12, 17), settings=settings)
    assert [(r.stage_code, r.step, r.working_days_overdue) for r in rows] == [
        ("GD", "overdue-1", 5),
        ("GD", "escalate-1", 5),
    ]
    by_step = {m.key.rsplit(":", 1)[-1]: m.contact_id for m in messages}
    assert by_step == {"overdue-1": world.approvers["GD"].id, "escalate-1": coordinator.id}
    # the steps before the deadline were never sent: logged as skipped, once, so they never go out late
    session.commit()
    skipped = session.exec(select(NotificationLog.idempotency_key, NotificationLog.status)).all()
    assert sorted(k.split(":")[-2] for k, _ in skipped) == ["before-1", "before-3", "before-7", "due"]
    assert {status for _, status in skipped} == {"skipped"}
    plan_approval_reminders(
        session=session, as_of=date(2026, 12, 17), settings=settings
    )  # the same day again
    session.commit()
    assert len(session.exec(select(NotificationLog)).all()) == 4

    world.cycle.status = "approved"
    session.add(world.cycle)
    session.commit()
    assert plan_approval_reminders(session=session, as_of=date(2026, 12, 17), settings=settings) == ([], [])
    assert {log.status for log in session.exec(select(NotificationLog))} == {"skipped"}  # nothing was sent
