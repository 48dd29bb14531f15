"""The season's calendar, stage by stage: what the coordinator triggers, what the units do, on which day.

Plan year Y: the call goes out on the first working day of August Y-1 with a deadline on the last working
day of September; reminders follow the default steps (7, 3 and 1 working days before, the day, every 3
working days after, the head told after 5); the plan is consolidated, appraised with one adjustment and
approved; the four quarterly reports come in through Y; the year is closed on 31/12/Y and the call for
Y+1 goes out with the unfinished items prefilled as carry-over."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from plancycle.simulation.officers import Behaviour
from plancycle.simulation.province import APPRAISER, COORDINATOR, LEADERSHIP

if TYPE_CHECKING:
    from plancycle.simulation.run import Season, ServedApproval

TRIEU = 1_000_000
# the deployment plancycle/simulation/serve.py serves
SERVED_DEPLOYMENT_NAME = "circulate-for-approval/simulation"


def run_season(season: Season, served: ServedApproval) -> None:
    year = season.year
    opening = season.calendar.next_working_day(date(year - 1, 8, 1), inclusive=True)
    deadline = season.calendar.previous_working_day(date(year - 1, 9, 30), inclusive=True)
    _call_for_proposals(season, opening, deadline)
    _answers_and_reminders(season, deadline)
    returned_deadline = _review(season, deadline)
    _resubmission(season, deadline, returned_deadline)
    consolidated_on = season.wd(returned_deadline, 2)
    _consolidate(season, consolidated_on)
    _approval(season, served, season.wd(consolidated_on, 2))
    fates = _item_fates(season)
    for quarter in range(1, 5):
        _progress_period(season, quarter, fates)
    _close_year(season)
    _next_year(season)


# ---------------------------------------------------------------------- the call


def _call_for_proposals(season: Season, opening: date, deadline: date) -> None:
    from flows.open_cycle import open_cycle
    from flows.registry import import_units

    with season.stage("registry", [opening]) as record:
        imported = season.flow(import_units, files=[str(p) for p in season.registry_files])
        record["counts"] = f"{imported.units_created} đơn vị, {imported.contacts_created} liên hệ"
    with season.stage("open", [opening]) as record:
        opened = season.flow(
            open_cycle,
            year=season.year,
            submission_deadline=deadline,
            units="list",
            unit_codes=season.province.codes,
            coordinating_unit_code=COORDINATOR,
            coordinator_proposes=False,  # the simulated coordinator runs the cycle and proposes nothing
            as_of=opening,
        )
        record["counts"] = f"{opened['units_requested']} đơn vị được đề nghị; hạn {deadline:%d/%m/%Y}"
        record["details"] = {"deadline": deadline.isoformat(), **opened}


def _answers_and_reminders(season: Season, deadline: date) -> None:
    early_day, broken_day = season.wd(deadline, -15), season.wd(deadline, -12)
    fixed_day = season.wd(deadline, -9)
    with season.stage("answers_early", [early_day, broken_day]) as record:
        season.answer_call(season.codes(Behaviour.early), early_day)
        season.collect(early_day)
        season.declare_no_proposal(season.codes(Behaviour.no_proposal), early_day)
        season.answer_call(season.codes(Behaviour.errors), broken_day, broken=True)
        collected = season.collect(broken_day)
        record["counts"] = season.submission_counts()
        record["details"] = {"invalid_files": collected["invalid"]}
        if collected["invalid"] != len(season.codes(Behaviour.errors)):
            raise AssertionError(f"expected every broken file refused, got {collected}")
    _answers(season, "answers_corrected", fixed_day, Behaviour.errors)
    before = [season.wd(deadline, -7), season.wd(deadline, -3), season.wd(deadline, -1), deadline]
    with season.stage("reminders_before", before) as record:
        sent = [season.remind(day) for day in before]
        record["details"] = {"runs": sent}
        record["counts"] = season.submission_counts()
    last_day = season.wd(deadline, -1)
    with season.stage("answers_due", [last_day, deadline]) as record:
        on_time = season.codes(Behaviour.on_time, Behaviour.returned)
        half = len(on_time) // 2
        season.answer_call(on_time[:half], last_day)
        season.collect(last_day)
        season.answer_call(on_time[half:], deadline)
        season.collect(deadline)
        record["counts"] = season.submission_counts()
    _reminders(season, "reminders_overdue", [season.wd(deadline, 3)])
    _answers(season, "answers_late", season.wd(deadline, 4), Behaviour.late)
    _reminders(season, "escalation", [season.wd(deadline, 5), season.wd(deadline, 6)])
    _answers(season, "answers_very_late", season.wd(deadline, 7), Behaviour.very_late)


def _answers(season: Season, key: str, day: date, behaviour: Behaviour) -> None:
    """The units of one behaviour answer the call on ``day``, and the inbox is collected that day."""
    with season.stage(key, [day]) as record:
        season.answer_call(season.codes(behaviour), day)
        season.collect(day)
        record["counts"] = season.submission_counts()


def _reminders(season: Season, key: str, days: list[date]) -> None:
    """Reminders are sent on each of ``days``."""
    with season.stage(key, days) as record:
        for day in days:
            season.remind(day)
        record["counts"] = season.submission_counts()


# ---------------------------------------------------------------------- review


def _review(season: Season, deadline: date) -> date:
    """One submission goes back with comments and a new deadline; every other one received is accepted in
    one run of `accept-submissions`."""
    from flows.review import accept_submissions_flow, review_submission
    from tasks.submissions.review import ItemComment

    texts = season.texts_all["review"]
    review_day = season.wd(deadline, 8)
    returned_deadline = season.wd(review_day, 5)
    answered = [
        c
        for c, o in season.officers.items()
        if o.behaviour not in (Behaviour.silent, Behaviour.returned, Behaviour.no_proposal)
    ]
    with season.stage("review", [review_day]) as record:
        for code in season.codes(Behaviour.returned):
            season.flow(
                review_submission,
                year=season.year,
                unit_code=code,
                action="return",
                comment=texts["return_comment"],
                item_comments=[ItemComment(row_ref="1", comment=texts["item_comment"])],
                new_deadline=returned_deadline,
                reviewer="simulation:coordinator",
            )
        accepted = season.flow(accept_submissions_flow, year=season.year, reviewer="simulation:coordinator")
        if sorted(accepted["accepted"]) != sorted(answered) or accepted["refused"]:
            raise AssertionError(f"expected {len(answered)} acceptances, got {accepted}")
        record["counts"] = season.submission_counts()
    return returned_deadline


def _resubmission(season: Season, deadline: date, returned_deadline: date) -> None:
    """The returned unit lowers its first item's amounts by a fifth and sends the workbook again."""
    from flows.review import review_submission

    resent_on = season.wd(returned_deadline, -1)
    accepted_on = returned_deadline
    with season.stage("resubmission", [resent_on, accepted_on]) as record:
        for code in season.codes(Behaviour.returned):
            officer = season.officers[code]
            first = officer.items[0]
            first.amounts = {source: amount * 4 // 5 for source, amount in first.amounts.items()}
            season.answer_call([code], resent_on)
        season.collect(resent_on)
        for code in season.codes(Behaviour.returned):
            season.flow(
                review_submission,
                year=season.year,
                unit_code=code,
                action="accept",
                reviewer="simulation:coordinator",
            )
        record["counts"] = season.submission_counts()


# ---------------------------------------------------------------------- the plan


def _consolidate(season: Season, on: date) -> None:
    from flows.consolidate_plan import consolidate_plan

    with season.stage("consolidation", [on]) as record:
        summary = season.flow(consolidate_plan, year=season.year, as_of=on)
        if summary["workbook_mismatches"]:
            raise AssertionError(f"the plan workbook does not add up: {summary}")
        record["total"] = summary["total_dong"]
        record["counts"] = (
            f"{summary['items']} nhiệm vụ, {summary['groups']} nhóm; {summary['warnings']} cảnh báo"
        )
        record["details"] = summary


def _approval(season: Season, served: ServedApproval, on: date) -> None:
    """Appraisal by the Department of Finance (one amount lowered, a new version), then the People's
    Committee: a first answer without the decision's number is refused and asked again, then approved."""
    from prefect.deployments import run_deployment

    from plancycle.decisions import send_decision
    from tasks.approval.decisions import DecisionData

    texts = season.texts_all["approval"]
    emails = season.province.approver_emails
    stages = [
        {
            "code": APPRAISER,
            "name": texts["stages"]["appraisal"],
            "sequence": 1,
            "approvers": [emails[APPRAISER]],
        },
        {
            "code": LEADERSHIP,
            "name": texts["stages"]["decision"],
            "sequence": 2,
            "approvers": [emails[LEADERSHIP]],
        },
    ]
    decided_on = season.wd(on, 10)
    with season.stage("appraisal", [on]) as record:
        _wait_for_deployment(served)
        run = run_deployment(
            SERVED_DEPLOYMENT_NAME,
            parameters={"year": season.year, "as_of": on.isoformat(), "stages": stages},
            timeout=0,
        )
        season.result.flow_runs += 1
        key = _wait_paused(run.id, served)
        item_ref, source, amount = _largest_amount(season)
        lowered = amount * 4 // 5 // TRIEU
        # the appraiser decides from the page their email links to (the portal resumes the run)
        _decide_on_page(
            season,
            emails[APPRAISER],
            {
                "decision": "adjust",
                "comment": texts["appraisal_comment"],
                f"amount_{item_ref}__{source}": f"{lowered:,}".replace(",", "."),
                f"reason_{item_ref}": texts["adjust_reason"].format(year=season.year),
            },
        )
        key = _wait_paused(run.id, served, after=key)
        record["total"] = _version_total(season)
        record["counts"] = f"{item_ref} {source}: {amount // TRIEU:,} → {lowered:,} triệu".replace(",", ".")
        record["details"] = {"flow_run": str(run.id), "adjusted": item_ref}
    with season.stage("approval", [decided_on]) as record:
        send_decision(  # no decision number: refused by the flow, asked again
            year=season.year,
            stage_code=LEADERSHIP,
            data=DecisionData(approver=emails[LEADERSHIP], decision="approve"),
        )
        key = _wait_paused(run.id, served, after=key)
        number = f"{season.rng.randint(1000, 3999)}/QĐ-UBND"
        send_decision(
            year=season.year,
            stage_code=LEADERSHIP,
            data=DecisionData(
                approver=emails[LEADERSHIP],
                decision="approve",
                decision_number=number,
                decision_date=decided_on,
                signer=texts["signer"],
            ),
        )
        final = _wait_final(run.id, served)
        if not final.state or not final.state.is_completed():
            raise AssertionError(f"circulation ended {final.state!r}; see {served.log}")
        record["total"] = _version_total(season)
        record["counts"] = f"Quyết định {number} ngày {decided_on:%d/%m/%Y}; hỏi lại 1 lần"
        record["details"] = {"decision_number": number, "pause_keys": key}


def _decide_on_page(season: Season, approver_email: str, form: dict[str, str]) -> None:
    """Open the approver's page from the newest approval email they received (the outbox file SMTP would
    have carried) and submit ``form``; the page resumes the waiting run and shows the recorded decision."""
    import re
    from email import message_from_bytes, policy

    import httpx
    from sqlmodel import col, select

    from models import Contact, NotificationLog
    from models.db import session_scope
    from tasks.notify.channels import outbox_email_path

    with session_scope() as session:
        contact = session.exec(select(Contact).where(Contact.email == approver_email)).one()
        log = session.exec(
            select(NotificationLog)
            .where(
                NotificationLog.contact_id == contact.id,
                NotificationLog.template == "approval_requested",
                NotificationLog.channel == "email",
            )
            .order_by(col(NotificationLog.id).desc())
        ).first()
        assert log is not None, f"no approval email to {approver_email}"
        path = outbox_email_path(season.settings, log.idempotency_key)
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https?://\S+/a/\S+", body)
    assert link is not None, f"no page link in {path}"
    page = httpx.post(link.group(0), data=form, timeout=300, follow_redirects=True)
    deadline = time.monotonic() + 300
    while page.status_code == 200 and 'id="quyet-dinh"' not in page.text and time.monotonic() < deadline:
        time.sleep(1)  # sent, still being recorded by the resumed run
        page = httpx.get(link.group(0), timeout=60)
    if page.status_code != 200 or 'id="quyet-dinh"' not in page.text:
        raise AssertionError(f"the approver's page did not record the decision ({page.status_code})")


def _wait_for_deployment(served: ServedApproval, timeout: float = 300) -> None:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"the serving process exited; see {served.log}")
        with get_client(sync_client=True) as client:
            try:
                client.read_deployment_by_name(SERVED_DEPLOYMENT_NAME)
                return
            except Exception:  # not registered yet
                time.sleep(1)
    raise TimeoutError(f"deployment {SERVED_DEPLOYMENT_NAME} not served within {timeout} s; see {served.log}")


def _read_run(run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def _wait_paused(
    run_id: Any, served: ServedApproval, *, after: str | None = None, timeout: float = 600
) -> str:
    """Wait until the run waits for a decision under a pause key other than ``after`` (its form saved);
    returns the key."""
    from plancycle.decisions import input_ready

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _read_run(run_id)
        state = run.state
        if state is not None and state.is_paused():
            key = str(state.state_details.pause_key)
            if key != after and input_ready(run):
                return key
        elif state is not None and state.is_final():
            raise RuntimeError(f"the circulation ended: {state.name} {state.message}; see {served.log}")
        time.sleep(0.5)
    raise TimeoutError(f"the circulation did not ask for a decision within {timeout} s; see {served.log}")


def _wait_final(run_id: Any, served: ServedApproval, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _read_run(run_id)
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(0.5)
    raise TimeoutError(f"the circulation did not finish within {timeout} s; see {served.log}")


def _largest_amount(season: Season) -> tuple[str, str, int]:
    """The plan's single largest amount: item reference, funding source code, đồng."""
    from sqlmodel import col, select

    from models import FundingSource, PlanItem, PlanItemAmount
    from models.cycle import get_cycle_by_year
    from models.db import session_scope

    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=season.year)
        assert cycle is not None
        ref, code, amount = session.exec(
            select(PlanItem.row_ref, FundingSource.code, PlanItemAmount.amount)
            .join(PlanItem, PlanItemAmount.item_id == PlanItem.id)  # type: ignore[arg-type]
            .join(FundingSource, PlanItemAmount.funding_source_id == FundingSource.id)  # type: ignore[arg-type]
            .where(PlanItem.cycle_id == cycle.id, col(PlanItemAmount.amount).is_not(None))
            .order_by(col(PlanItemAmount.amount).desc(), col(PlanItem.id))
        ).first()  # type: ignore[misc]
    return str(ref), str(code), int(amount)


def _version_total(season: Season) -> int:
    """The newest plan version's grand total (đồng)."""
    from sqlmodel import col, select

    from models.cycle import get_cycle_by_year
    from models.db import session_scope
    from models.items import PlanVersion
    from tasks.approval.versions import version_totals

    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=season.year)
        assert cycle is not None
        version = session.exec(
            select(PlanVersion)
            .where(PlanVersion.cycle_id == cycle.id)
            .order_by(col(PlanVersion.number).desc())
        ).first()
        assert version is not None
        return int(version_totals(version.content)["total"])


# ---------------------------------------------------------------------- through the year


def _item_fates(season: Season) -> dict[int, str]:
    """What becomes of each approved item by the year's end: mostly completed, some still running
    (carried over), a few partly done, one in twenty cancelled."""
    from sqlmodel import col, select

    from models import PlanItem
    from models.cycle import get_cycle_by_year
    from models.db import session_scope

    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=season.year)
        assert cycle is not None
        ids = session.exec(
            select(PlanItem.id).where(PlanItem.cycle_id == cycle.id).order_by(col(PlanItem.id))
        )
        return {
            int(i): season.rng.choices(
                ["completed", "in_progress", "partly_done", "cancelled"], weights=[60, 28, 7, 5]
            )[0]
            for i in ids
        }


# status and percent reached at the end of each quarter, per fate
_TRAJECTORY = {
    "completed": [("in_progress", 20), ("in_progress", 50), ("in_progress", 80), ("completed", 100)],
    "in_progress": [("in_progress", 10), ("in_progress", 30), ("in_progress", 50), ("in_progress", 70)],
    "partly_done": [("in_progress", 10), ("in_progress", 30), ("in_progress", 60), ("partly_done", 80)],
    "cancelled": [("not_started", 0), ("suspended", 0), ("cancelled", 0), ("cancelled", 0)],
}


def _progress_period(season: Season, quarter: int, fates: dict[int, str]) -> None:
    """Requests five working days before the cut-off; most units report the day before the deadline, one
    three days late in Q2, one not at all in Q3; overdue reminders; the period consolidated."""
    from flows.consolidate_progress import consolidate_progress
    from flows.request_progress_reports import request_progress_reports
    from models.base import PeriodKind
    from tasks.progress.periods import default_periods

    spec = default_periods(season.year, [PeriodKind.quarterly], calendar=season.calendar)[quarter - 1]
    request_day = season.wd(spec.ends_on, -4)
    on_time_day = season.wd(spec.deadline, -1)
    late_day = season.wd(spec.deadline, 3)
    consolidated_on = season.wd(spec.deadline, 5)
    with season.stage("progress", [request_day, consolidated_on], period=spec.label) as record:
        season.flow(request_progress_reports, year=season.year, as_of=request_day)
        reports = _reports_of(season, spec.label)
        units = sorted(reports)
        late = units[len(units) // 2] if quarter == 2 and len(units) > 2 else None
        missing = units[len(units) // 3] if quarter == 3 and len(units) > 2 else None
        season.remind(season.wd(spec.deadline, -3))
        for code in units:
            if code not in (late, missing):
                _report(season, reports[code], quarter, fates, on_time_day)
        season.collect(on_time_day)
        season.remind(late_day)
        if late:
            _report(season, reports[late], quarter, fates, late_day)
            season.collect(late_day)
        summary = season.flow(
            consolidate_progress, year=season.year, period=spec.label, as_of=consolidated_on
        )
        record["total"] = summary["disbursed_dong"]
        record["counts"] = season.texts["counts"]["progress"].format(
            received=len(units) - (1 if missing else 0),
            requested=len(units),
            late=len(summary["late"]),
            missing=len(summary["missing"]),
            percent=summary["percent"],
        )
        record["details"] = {k: v for k, v in summary.items() if k != "workbook"}
        if (late and summary["late"] != [late]) or (missing and summary["missing"] != [missing]):
            raise AssertionError(f"late/missing not as played: {late}, {missing} → {summary}")


def _reports_of(season: Season, label: str) -> dict[str, int]:
    from sqlmodel import select

    from models import Unit
    from models.db import session_scope
    from models.progress import ProgressReport, ReportingPeriod

    with session_scope() as session:
        rows = session.exec(
            select(Unit.code, ProgressReport.id)
            .join(ProgressReport, ProgressReport.unit_id == Unit.id)  # type: ignore[arg-type]
            .join(ReportingPeriod, ProgressReport.period_id == ReportingPeriod.id)  # type: ignore[arg-type]
            .where(ReportingPeriod.label == label)
        ).all()
    return {str(code): int(report_id) for code, report_id in rows}


def _report(season: Season, report_id: int, quarter: int, fates: dict[int, str], on: date) -> None:
    """The officer fills the progress workbook attached to the request and drops it in the inbox."""
    from models.db import session_scope
    from models.progress import ProgressReport
    from plancycle.simulation.officers import ProgressEntryPlan, fill_progress, received_attachment
    from tasks.progress.workbook import load_progress_context

    with session_scope() as session:
        report = session.get(ProgressReport, report_id)
        assert report is not None
        context = load_progress_context(session=session, report=report)
        blank = received_attachment(
            session=session,
            settings=season.settings,
            unit_id=report.unit_id,
            template="progress_report_requested",
            key_prefix=f"progress:{report_id}:",
        )
    entries = []
    for item in context.items:
        status, percent = _TRAJECTORY[fates.get(item.id, "in_progress")][quarter - 1]
        approved = (item.approved_total or 0) // TRIEU
        entries.append(ProgressEntryPlan(status, percent, approved * percent * 9 // 1000))
    content = fill_progress(blank, context, entries)
    season._drop(f"bao-cao_{context.unit_code}_{context.period_id}_{on:%Y%m%d}.xlsx", content)


# ---------------------------------------------------------------------- the year's end


def _close_year(season: Season) -> None:
    from flows.close_year import close_year

    closing = date(season.year, 12, 31)
    with season.stage("close", [closing]) as record:
        summary = season.flow(close_year, year=season.year, as_of=closing)
        record["counts"] = season.texts["counts"]["close"].format(**summary)
        record["details"] = dict(summary)


def _next_year(season: Season) -> None:
    """The call for Y+1 (first working day of January, deadline a month later): each unit's workbook is
    prefilled with its unfinished items."""
    from flows.open_cycle import open_cycle
    from models.cycle import get_cycle_by_year
    from models.db import session_scope
    from models.registry import get_unit_by_code
    from tasks.submissions.workbook import load_workbook_context

    next_year = season.year + 1
    opening = season.calendar.next_working_day(date(season.year + 1, 1, 2), inclusive=True)
    deadline = season.calendar.next_working_day(opening + timedelta(days=28), inclusive=True)
    with season.stage("next_year", [opening]) as record:
        opened = season.flow(
            open_cycle,
            year=next_year,
            submission_deadline=deadline,
            units="list",
            unit_codes=season.province.codes,
            coordinating_unit_code=COORDINATOR,
            coordinator_proposes=False,
            as_of=opening,
        )
        prefilled = 0
        with session_scope() as session:
            cycle = get_cycle_by_year(session=session, year=next_year)
            assert cycle is not None
            for code in season.province.codes:
                unit = get_unit_by_code(session=session, code=code)
                assert unit is not None
                context = load_workbook_context(session=session, cycle=cycle, unit=unit)
                prefilled += len(context.carry_over_candidates)
        record["counts"] = season.texts["counts"]["next_year"].format(
            units=opened["units_requested"], prefilled=prefilled
        )
        record["details"] = {"carry_over_prefilled": prefilled, **opened}
