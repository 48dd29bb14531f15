"""The call for submissions: one prefilled workbook and one message per unit contact, idempotently."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from models import PlanningCycle, Submission, Unit
from models.base import SubmissionStatus
from models.registry import list_unit_recipients
from plancycle.settings import Settings
from tasks.notify.delivery import Message
from tasks.notify.unit_messages import contact_messages, unit_context
from tasks.submissions.workbook import generate_unit_workbook


def ensure_unit_workbook(*, session: Session, cycle: PlanningCycle, unit: Unit, settings: Settings) -> Path:
    """The unit's workbook file, generated once: a re-run attaches the same file it sent before."""
    folder = settings.resolved_data_dir / "workbooks" / str(cycle.year) / unit.code
    existing = sorted(folder.glob("*.xlsx")) if folder.exists() else []
    if existing:
        return existing[0]
    filename, content = generate_unit_workbook(session=session, cycle=cycle, unit=unit)
    path = folder / filename
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(content)
    partial.replace(path)  # never a half-written attachment
    return path


def call_messages(*, session: Session, cycle: PlanningCycle, settings: Settings) -> list[Message]:
    """A call-for-submissions message for each officer (or, lacking one, the head) of every unit still
    asked to submit. Keys are ``call:<year>:<unit code>`` so a re-run sends nothing twice."""
    submissions = session.exec(
        select(Submission)
        .where(Submission.cycle_id == cycle.id, col(Submission.status) == SubmissionStatus.requested)
        .order_by(col(Submission.id))
    ).all()
    messages: list[Message] = []
    for submission in submissions:
        unit = session.get(Unit, submission.unit_id)
        assert unit is not None and unit.id is not None
        contacts = list_unit_recipients(session=session, unit_id=unit.id)
        if not contacts:
            continue
        workbook = ensure_unit_workbook(session=session, cycle=cycle, unit=unit, settings=settings)
        context = unit_context(session=session, unit=unit, cycle=cycle, settings=settings) | {
            "deadline": submission.deadline or cycle.submission_deadline,
            "guidance_reference": cycle.guidance_reference,
        }
        messages += contact_messages(
            contacts=contacts,
            template="call_for_submissions",
            key=f"call:{cycle.year}:{unit.code}",
            cycle=cycle,
            unit=unit,
            context=context,
            attachments=[workbook],
        )
    return messages
