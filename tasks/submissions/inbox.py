"""Submissions that arrive as files in a folder (any fsspec URL: local, SFTP, S3, SMB…).

Each workbook says in its signed metadata which unit and year it was issued for, so the folder needs no
naming convention. A processed file moves to ``processed/``; a file that cannot be attributed to a unit
moves to ``rejected/`` with a note beside it saying why. The intake itself is the one shared routine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import fsspec
from pydantic import BaseModel
from sqlmodel import Session

from models import PlanningCycle
from models.base import utcnow
from models.registry import get_unit_by_code
from plancycle.settings import Settings
from tasks.progress.intake import ingest_progress_or_record
from tasks.progress.validation import is_progress_workbook
from tasks.submissions.intake import IntakeResult, ingest_or_record, sanitise_filename
from tasks.submissions.notices import notify_intake_result
from tasks.submissions.validation import identify_workbook
from templates import error_text


class InboxOutcome(BaseModel):
    filename: str
    unit_code: str | None = None
    accepted: bool = False
    duplicate: bool = False
    rejected_reason: str | None = None
    errors: int = 0


def collect_inbox(
    *, session: Session, cycle: PlanningCycle | None, inbox_url: str, as_of: date, settings: Settings
) -> list[InboxOutcome]:
    """Ingest every file at the top of the inbox folder, then move it out of the way. With no cycle
    collecting submissions (``cycle`` None), only progress reports are taken; other files wait."""
    fs, root = fsspec.core.url_to_fs(inbox_url)
    fs.makedirs(root, exist_ok=True)
    outcomes = []
    for entry in sorted(fs.ls(root, detail=True), key=lambda e: e["name"]):
        if entry["type"] != "file":
            continue
        path = entry["name"]
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith(".") or name.endswith(".part"):
            continue  # hidden files and uploads still being written
        content = fs.cat_file(path)
        if is_progress_workbook(content):  # a progress report names its own cycle, unit and period
            progress = ingest_progress_or_record(  # a fault is recorded as a refused attempt
                session=session, filename=name, content=content, channel="inbox", as_of=as_of, actor="inbox"
            )
            _move(fs, path, f"{root}/processed/{utcnow():%Y%m%dT%H%M%S}-{sanitise_filename(name)}")
            outcomes.append(_processed(name, progress.unit_code, progress))
            continue
        if cycle is None:
            continue  # a submission workbook waits for the next cycle to open
        identity = identify_workbook(content)
        unit = get_unit_by_code(session=session, code=identity.unit_code) if identity else None
        if identity is None or unit is None:
            reason = error_text("inbox", "unidentified", file=name)
        elif identity.year != cycle.year:
            reason = error_text("inbox", "other_year", file=name, year=identity.year, expected=cycle.year)
        else:
            reason = None
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        if reason:
            _move(fs, path, f"{root}/rejected/{stamp}-{sanitise_filename(name)}")
            fs.pipe_file(f"{root}/rejected/{stamp}-{sanitise_filename(name)}.txt", reason.encode())
            outcomes.append(InboxOutcome(filename=name, rejected_reason=reason))
            continue
        assert unit is not None
        result: IntakeResult = ingest_or_record(  # a fault is recorded as a refused attempt
            session=session,
            cycle=cycle,
            unit=unit,
            filename=name,
            content=content,
            channel="inbox",
            as_of=as_of,
            actor="inbox",
        )
        notify_intake_result(
            session=session, cycle=cycle, unit=unit, result=result, received_on=as_of, settings=settings
        )
        _move(fs, path, f"{root}/processed/{stamp}-{sanitise_filename(name)}")
        outcomes.append(_processed(name, unit.code, result))
    return outcomes


class Intake(Protocol):
    """What either intake (a submission's, a progress report's) answers about one file."""

    @property
    def accepted(self) -> bool: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def errors(self) -> Sequence[object]: ...


def _processed(filename: str, unit_code: str | None, result: Intake) -> InboxOutcome:
    """What the inbox did with a file the intake (of a submission or a progress report) took in."""
    return InboxOutcome(
        filename=filename,
        unit_code=unit_code,
        accepted=result.accepted,
        duplicate=result.duplicate,
        errors=len(result.errors),
    )


def _move(fs: fsspec.AbstractFileSystem, source: str, target: str) -> None:
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    fs.mv(source, target)
