"""The one intake routine for a unit's workbook, shared by the portal, the inbox flow and the CLI.

Every file received is archived and recorded as an `IntakeAttempt`, valid or not. A valid file becomes
the next `SubmissionVersion` with its items and amounts, in one transaction with the submission's new
status and an audit entry. An invalid file stores nothing but the attempt and its errors.

Decisions on the submission's status when a valid file arrives:
- requested / returned / submitted → submitted (a new version);
- accepted → submitted: the unit changed its mind after acceptance, so the coordinator must look again;
- exempted → submitted: a unit that was told it need not submit but did is heard; the exemption
  reason is kept and the audit entry records the previous status.
- no_proposal → submitted: a workbook sent up to the deadline withdraws the unit's "nothing to propose"
  declaration (kept in the audit entry); after the deadline the declaration stands and the file is refused.
Re-uploading exactly the file of the latest version (same SHA-256) creates no version and changes no
status; the attempt is still recorded (accepted, pointing at that version) and the result says
``duplicate``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import insert, update
from sqlmodel import Session, col, func, select

from models.audit import record_audit
from models.base import CycleStatus, IntakeChannel, ItemStatus, SubmissionStatus, utcnow
from models.cycle import PlanningCycle
from models.items import ItemStatusReport, SubmissionItem, SubmissionItemAmount
from models.registry import Unit
from models.submissions import IntakeAttempt, Submission, SubmissionVersion
from tasks.excel.issues import cap_issues, make_issue
from tasks.submissions.lead_units import ItemUnits, resolve_item_units
from tasks.submissions.validation import ValidationIssue, ValidationResult, validate_workbook
from tasks.submissions.workbook import WorkbookContext, load_workbook_context

logger = logging.getLogger(__name__)

MAX_SAFE_NAME = 120
# Once the plan is approved a unit's proposal no longer changes by upload: amendments go through amend-plan.
CLOSED_FOR_UPLOADS = {CycleStatus.approved.value, CycleStatus.implementing.value, CycleStatus.closed.value}
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


class ReceivedFile(BaseModel):
    """A received file as every intake records it (``archive_received``)."""

    original_filename: str
    safe_filename: str
    archive_path: str
    sha256: str
    size_bytes: int


class IntakeResult(ReceivedFile):
    """What happened to one received file; enough for the portal page and the unit's notification."""

    accepted: bool
    duplicate: bool = False  # identical to the latest stored version: nothing new was stored
    attempt_id: int
    submission_id: int | None
    version_number: int | None = None
    on_time: bool | None = None
    submission_status: str | None = None
    item_count: int = 0
    totals: dict[str, int] = {}  # đồng per funding source code
    grand_total: int = 0
    money_unit: str
    errors: list[ValidationIssue] = []  # at most the first 50 and a "… and N more" line (`cap_issues`)
    error_count: int | None = None  # every error found, when more than the list shows


def sanitise_filename(filename: str | None, *, default: str = "tep-tai-len.xlsx") -> str:
    """A file name safe to use as the last part of a path: no folders (``../``, ``C:\\``, absolute
    paths), no NUL or control characters, no leading dots, no reserved Windows names, bounded length."""
    text = unicodedata.normalize("NFC", filename or "")
    text = text.replace("\x00", "")
    text = re.split(r"[\\/]", text)[-1]  # the last segment, whatever the client's separator
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.sub(r"[^\w.\- ()]+", "_", text).strip(" ._")
    text = re.sub(r"\s+", " ", text)
    if not text or set(text) <= {"."}:
        text = default
    if _WINDOWS_RESERVED.match(text):
        text = f"_{text}"
    if len(text) > MAX_SAFE_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and len(ext) <= 10:
            text = stem[: MAX_SAFE_NAME - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_SAFE_NAME]
    return text


def _original_for_record(filename: str | None) -> str:
    """The client's file name as recorded (NFC, no NUL or control characters, at most 255 characters)."""
    text = unicodedata.normalize("NFC", filename or "").replace("\x00", "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return text[:255]


def archive_original(
    *,
    archive_dir: Path,
    cycle_year: int,
    unit_code: str,
    safe_name: str,
    content: bytes,
    sha256: str,
    at: datetime,
) -> Path:
    """Write the bytes to ``archive_dir/<year>/<unit code>/<timestamp>-<sha256[:12]>-<name>`` atomically."""
    folder = archive_dir / str(cycle_year) / sanitise_filename(unit_code, default="unit")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{stamp}-{sha256[:12]}-{safe_name}"
    resolved = target.resolve()
    if archive_dir.resolve() not in resolved.parents:
        raise ValueError(f"archive path escapes the archive folder: {resolved}")
    temporary = target.with_name(target.name + ".part")
    try:
        with temporary.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:  # disk full, quota, interrupted: no partial file stays in the archive
        temporary.unlink(missing_ok=True)
        raise
    return target


def archive_received(
    *, archive_dir: Path, cycle_year: int, unit_code: str, filename: str, content: bytes, at: datetime
) -> dict[str, Any]:
    """Archive a received file (``archive_original``) and describe it as every intake records it: the
    fields of ``ReceivedFile``, as a dict to merge into a result."""
    sha256 = hashlib.sha256(content).hexdigest()
    safe_name = sanitise_filename(filename)
    archive_path = archive_original(
        archive_dir=archive_dir,
        cycle_year=cycle_year,
        unit_code=unit_code,
        safe_name=safe_name,
        content=content,
        sha256=sha256,
        at=at,
    )
    return {
        "original_filename": _original_for_record(filename),
        "safe_filename": safe_name,
        "archive_path": str(archive_path),
        "sha256": sha256,
        "size_bytes": len(content),
    }


def record_intake_attempt(
    *,
    session: Session,
    submission_id: int | None,
    channel: str,
    received: dict[str, Any],
    received_at: datetime,
    accepted: bool,
    errors: list[dict] | None = None,
) -> IntakeAttempt:
    """Record one received file, valid or not (``received`` as ``archive_received`` describes it)."""
    attempt = IntakeAttempt(
        submission_id=submission_id,
        channel=channel,
        original_filename=received["original_filename"],
        archive_path=received["archive_path"],
        sha256=received["sha256"],
        size_bytes=received["size_bytes"],
        accepted=accepted,
        errors=errors,
        received_at=received_at,
    )
    session.add(attempt)
    session.flush()
    return attempt


def _deadline(submission: Submission | None, cycle: PlanningCycle) -> date | None:
    if submission is not None and submission.deadline is not None:
        return submission.deadline
    return cycle.submission_deadline


def _declaration_closed(submission: Submission, cycle: PlanningCycle, as_of: date) -> bool:
    """A "nothing to propose" declaration stands once the deadline has passed."""
    deadline = _deadline(submission, cycle)
    return submission.status == SubmissionStatus.no_proposal and deadline is not None and as_of > deadline


def declaration_stands_issue(deadline: date | None) -> ValidationIssue:
    """The refusal of a workbook sent after the deadline by a unit that declared nothing to propose."""
    from templates import error_text, format_date

    values = {"deadline": format_date(deadline)}
    return ValidationIssue(
        key="no_proposal_stands",
        message_vi=error_text("no_proposal", "declaration_stands", "vi", **values),
        message_en=error_text("no_proposal", "declaration_stands", "en", **values),
    )


def _latest_version(session: Session, submission_id: int) -> SubmissionVersion | None:
    return session.exec(
        select(SubmissionVersion)
        .where(SubmissionVersion.submission_id == submission_id)
        .order_by(col(SubmissionVersion.number).desc())
    ).first()


def ingest_submission(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    filename: str,
    content: bytes,
    channel: str,
    as_of: date,
    actor: str,
    context: WorkbookContext | None = None,
    archive_dir: Path | None = None,
    on_behalf_of: bool = False,
) -> IntakeResult:
    """Archive, validate and (if valid) store one uploaded workbook; commits its own transaction.

    ``as_of`` is the business date the file counts as received on (for ``on_time``). ``context`` may be
    passed by callers that already loaded it (bulk intake); by default it is read from the database.
    ``on_behalf_of``: the coordinator (``actor``) entered the unit's workbook for it; the audit says so.
    """
    from plancycle.settings import get_settings

    assert cycle.id is not None and unit.id is not None
    channel = IntakeChannel(channel).value  # refuse a channel nobody handles before touching anything
    received_at = utcnow()
    common = archive_received(
        archive_dir=archive_dir or get_settings().archive_dir,
        cycle_year=cycle.year,
        unit_code=unit.code,
        filename=filename,
        content=content,
        at=received_at,
    ) | {"money_unit": cycle.money_unit}
    sha256 = common["sha256"]
    try:
        # The slow part, validation, runs before any lock: uploads of different units go side by side.
        submission = _find_submission(session, cycle, unit)
        refusal = _closed_for_uploads(cycle.status, cycle.year)
        result: ValidationResult | None = None
        if refusal is None and not _same_as_latest(session, submission, sha256):
            context = context or load_workbook_context(session=session, cycle=cycle, unit=unit)
            result = validate_workbook(content, context=context)

        # Then one upload of a unit at a time: the first write takes SQLite's write lock (PostgreSQL's row
        # lock) and everything is read again under it, so the same file sent twice at the same instant is
        # stored once and found a duplicate the second time, and a plan approved meanwhile is seen.
        session.execute(
            update(Submission)
            .where(col(Submission.cycle_id) == cycle.id, col(Submission.unit_id) == unit.id)
            .values(updated_at=Submission.updated_at)
        )
        submission = _find_submission(session, cycle, unit, lock=True)
        status = session.exec(select(PlanningCycle.status).where(PlanningCycle.id == cycle.id)).one()
        refusal = _closed_for_uploads(status, cycle.year)

        def record_attempt(accepted: bool, errors: list[dict] | None = None) -> IntakeAttempt:
            return record_intake_attempt(
                session=session,
                submission_id=submission.id if submission else None,  # the submission as it is by then
                channel=channel,
                received=common,
                received_at=received_at,
                accepted=accepted,
                errors=errors,
            )

        def refuse(errors: list[ValidationIssue], error_count: int | None = None) -> IntakeResult:
            """The refused attempt, recorded and committed; ``error_count``: every error found."""
            return _record_refusal(
                session=session,
                submission=submission,  # the submission as it is by then
                channel=channel,
                received=common,
                received_at=received_at,
                errors=errors,
                error_count=error_count,
            )

        if refusal is not None:
            return refuse([refusal])
        latest = _latest_version(session, submission.id) if submission and submission.id else None
        if latest is not None and _attempt_sha(session, latest.attempt_id) == sha256:
            attempt = record_attempt(accepted=True)
            session.commit()
            return IntakeResult(
                accepted=True,
                duplicate=True,
                attempt_id=attempt.id,  # type: ignore[arg-type]
                submission_id=submission.id if submission else None,
                version_number=latest.number,
                on_time=latest.on_time,
                submission_status=submission.status if submission else None,
                item_count=_item_count(session, latest.id),  # type: ignore[arg-type]
                totals=dict(latest.totals or {}),
                grand_total=sum((latest.totals or {}).values()),
                **common,
            )
        if result is None:  # the latest version changed since it was read: this file is new after all
            context = context or load_workbook_context(session=session, cycle=cycle, unit=unit)
            result = validate_workbook(content, context=context)
        if result.ok and submission is not None and _declaration_closed(submission, cycle, as_of):
            # "Nothing to propose" was declared; a workbook withdraws it only before the deadline.
            result = ValidationResult(errors=[declaration_stands_issue(_deadline(submission, cycle))])
        item_units: list[ItemUnits] = []
        if result.ok:
            assert result.submission is not None
            item_units, unit_issues = resolve_item_units(
                session=session,
                cycle=cycle,
                unit=unit,
                context=context,
                items=result.submission.items,
                on=as_of,
            )
            if unit_issues:
                result = ValidationResult(errors=unit_issues)
        if not result.ok:
            return refuse(cap_issues(result.errors), error_count=len(result.errors))

        parsed = result.submission
        assert parsed is not None
        if submission is None:
            submission = Submission(cycle_id=cycle.id, unit_id=unit.id)
            session.add(submission)
            session.flush()
        assert submission.id is not None
        previous_status = submission.status
        attempt = record_attempt(accepted=True)
        number = (
            session.exec(
                select(func.max(SubmissionVersion.number)).where(
                    SubmissionVersion.submission_id == submission.id
                )
            ).one()
            or 0
        ) + 1
        deadline = _deadline(submission, cycle)
        on_time = deadline is None or as_of <= deadline
        totals = parsed.totals
        version = SubmissionVersion(
            submission_id=submission.id,
            number=number,
            attempt_id=attempt.id,  # type: ignore[arg-type]
            received_at=received_at,
            received_on=as_of,
            on_time=on_time,
            totals=totals,
        )
        session.add(version)
        session.flush()
        source_ids = {s.code: s.id for s in context.funding_sources}
        # Bulk inserts (one statement per table, ids returned in order): a version holds hundreds of rows.
        item_ids = list(
            session.scalars(
                insert(SubmissionItem).returning(col(SubmissionItem.id), sort_by_parameter_order=True),
                [
                    {
                        "submission_version_id": version.id,
                        "sheet_row": item.sheet_row,
                        "row_ref": item.row_ref,
                        "name": item.name,
                        "lead_unit_id": units.lead_unit_id,
                        "co_lead_unit_ids": None,
                        "coordinating_units": units.partners,
                        "field_code": item.field_code,
                        "class_code": item.class_code,
                        "subfield_code": item.subfield_code,
                        "origin": item.origin,
                        "procurement_mode": None,
                        "objective": item.objective,
                        "scope": item.scope,
                        "start_year": item.start_year,
                        "end_year": item.end_year,
                        "basis": item.basis,
                        "status": ItemStatus.proposed.value,
                        "status_note": None,
                        "carry_over_from_id": item.carry_over_from_id,
                    }
                    for item, units in zip(parsed.items, item_units, strict=True)
                ],
            )
        )
        amount_rows = [
            {"item_id": item_id, "funding_source_id": source_ids[code], "amount": amount}
            for item_id, item in zip(item_ids, parsed.items, strict=True)
            for code, amount in item.amounts.items()
            if amount is not None
        ]
        if amount_rows:
            # RETURNING makes SQLAlchemy batch the rows ("insertmanyvalues"); a plain executemany sends one
            # statement per amount on PostgreSQL.
            session.execute(insert(SubmissionItemAmount).returning(col(SubmissionItemAmount.id)), amount_rows)
        if parsed.statuses:
            session.execute(
                insert(ItemStatusReport),
                [
                    {
                        "submission_version_id": version.id,
                        "plan_item_id": status.plan_item_id,
                        "status": status.status,
                        "percent_complete": status.percent_complete,
                        "note": status.note,
                        "sheet_row": status.sheet_row,
                    }
                    for status in parsed.statuses
                ],
            )
        submission.status = SubmissionStatus.submitted
        submission.updated_at = received_at
        submission.answered_on = as_of
        withdrawn = {"by": submission.no_proposal_by, "reason": submission.no_proposal_reason}
        submission.no_proposal_by = submission.no_proposal_reason = None
        session.add(submission)
        record_audit(
            session=session,
            actor=actor,
            action="submission.version_stored",
            subject=submission,
            cycle=cycle,
            details={
                "unit_code": unit.code,
                "version": number,
                "attempt_id": attempt.id,
                "sha256": sha256,
                "channel": channel,
                "as_of": as_of.isoformat(),
                "on_time": on_time,
                "items": len(item_ids),
                "totals": totals,
                "previous_status": previous_status,
                "last_year_statuses": len(parsed.statuses),
            }
            | (
                {"no_proposal_withdrawn": withdrawn}
                if previous_status == SubmissionStatus.no_proposal
                else {}
            )
            | ({"on_behalf_of": unit.code} if on_behalf_of else {}),
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return IntakeResult(
        accepted=True,
        attempt_id=attempt.id,  # type: ignore[arg-type]
        submission_id=submission.id,
        version_number=number,
        on_time=on_time,
        submission_status=submission.status,
        item_count=len(item_ids),
        totals=totals,
        grand_total=sum(totals.values()),
        **common,
    )


def _attempt_sha(session: Session, attempt_id: int) -> str | None:
    attempt = session.get(IntakeAttempt, attempt_id)
    return attempt.sha256 if attempt else None


def _item_count(session: Session, version_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(SubmissionItem)
        .where(SubmissionItem.submission_version_id == version_id)
    ).one()


def _closed_for_uploads(status: str, year: int) -> ValidationIssue | None:
    """Why a new file cannot change the unit's proposal any more (None while it can): the cycle's plan is
    approved (or being implemented, or closed)."""
    if status in CLOSED_FOR_UPLOADS:
        return make_issue("plan_approved", year=year)
    return None


def _find_submission(
    session: Session, cycle: PlanningCycle, unit: Unit, lock: bool = False
) -> Submission | None:
    query = select(Submission).where(Submission.cycle_id == cycle.id, Submission.unit_id == unit.id)
    return session.exec(query.with_for_update() if lock else query).first()


def _same_as_latest(session: Session, submission: Submission | None, sha256: str) -> bool:
    """Whether ``sha256`` is the file of the submission's latest version (read without a lock: a hint)."""
    latest = _latest_version(session, submission.id) if submission and submission.id else None
    return latest is not None and _attempt_sha(session, latest.attempt_id) == sha256


def ingest_or_record(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    filename: str,
    content: bytes,
    channel: str,
    as_of: date,
    actor: str,
    on_behalf_of: bool = False,
    log_traceback: bool = True,
) -> IntakeResult:
    """:func:`ingest_submission`, and when it fails on anything but the file's content (a full disk, the
    database refusing a value, a bug) the file recorded as a refused attempt instead (:func:`
    record_failed_intake`): every intake channel (portal, inbox, CLI) answers every file and leaves an
    attempt row. The fault itself is logged for the administrators, with its traceback unless
    ``log_traceback`` is False (the command line, where the person reads one line). Raises only when
    even the attempt cannot be written."""
    try:
        return ingest_submission(
            session=session,
            cycle=cycle,
            unit=unit,
            filename=filename,
            content=content,
            channel=channel,
            as_of=as_of,
            actor=actor,
            on_behalf_of=on_behalf_of,
        )
    except Exception as fault:
        log_intake_fault(f"intake of {channel} from {unit.code}", fault, traceback=log_traceback)
        session.rollback()
        return record_failed_intake(
            session=session, cycle=cycle, unit=unit, filename=filename, content=content, channel=channel
        )


def record_failed_intake(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    filename: str,
    content: bytes,
    channel: str,
    archive_dir: Path | None = None,
) -> IntakeResult:
    """Record a file whose intake failed on something other than its content (a fault, not a refusal): a
    refused attempt with a generic message, so the unit reads an answer and the coordinators see the file.
    The original is archived when the disk allows; nothing else is stored."""
    from plancycle.settings import get_settings

    assert cycle.id is not None and unit.id is not None
    received_at = utcnow()
    received = archive_if_possible(
        archive_dir=archive_dir or get_settings().archive_dir,
        cycle_year=cycle.year,
        unit_code=unit.code,
        filename=filename,
        content=content,
        at=received_at,
    )
    submission = session.exec(
        select(Submission).where(Submission.cycle_id == cycle.id, Submission.unit_id == unit.id)
    ).first()
    return _record_refusal(
        session=session,
        submission=submission,
        channel=IntakeChannel(channel).value,
        received=received | {"money_unit": cycle.money_unit},
        received_at=received_at,
        errors=[make_issue("intake_failed")],
    )


def archive_if_possible(
    *, archive_dir: Path, cycle_year: int, unit_code: str, filename: str, content: bytes, at: datetime
) -> dict[str, Any]:
    """``archive_received`` for a file whose intake already failed: when the archive cannot be written
    either (disk full), the file described without an archive path, so its attempt row says what came."""
    try:
        return archive_received(
            archive_dir=archive_dir,
            cycle_year=cycle_year,
            unit_code=unit_code,
            filename=filename,
            content=content,
            at=at,
        )
    except OSError:
        return {
            "original_filename": _original_for_record(filename),
            "safe_filename": sanitise_filename(filename),
            "archive_path": "",
            "sha256": hashlib.sha256(content).hexdigest(),
            "size_bytes": len(content),
        }


def log_intake_fault(what: str, fault: Exception, *, traceback: bool) -> None:
    """A fault of an intake (not the file's), for the administrators: one line, with the traceback
    unless ``traceback`` is False (the command line, where a person reads it)."""
    logger.error("%s failed: %s: %s", what, type(fault).__name__, fault, exc_info=traceback)


def _record_refusal(
    *,
    session: Session,
    submission: Submission | None,
    channel: str,
    received: dict[str, Any],
    received_at: datetime,
    errors: list[ValidationIssue],
    error_count: int | None = None,
) -> IntakeResult:
    """A refused file: its attempt recorded and committed, and the answer (``received``: the file as
    ``archive_received`` describes it, and the cycle's ``money_unit``; ``error_count``: every error found
    when ``errors`` holds only the first ones)."""
    attempt = record_intake_attempt(
        session=session,
        submission_id=submission.id if submission else None,
        channel=channel,
        received=received,
        received_at=received_at,
        accepted=False,
        errors=[issue.model_dump() for issue in errors],
    )
    session.commit()
    return IntakeResult(
        accepted=False,
        attempt_id=attempt.id,  # type: ignore[arg-type]
        submission_id=submission.id if submission else None,
        submission_status=submission.status if submission else None,
        errors=errors,
        error_count=error_count,
        **received,
    )
