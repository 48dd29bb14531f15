"""The units' officers in the simulation: each opens the email it received in the outbox, takes the
attached workbook, fills it as an officer does (Vietnamese number formats, drop-down labels) and drops it
in the inbox folder, where the `collect-submissions` flow finds it. What they write is decided by a
seeded random generator, so a run is reproducible."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from enum import StrEnum
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session, col, select

from models.notifications import NotificationLog
from plancycle.settings import Settings
from plancycle.simulation.texts import simulation_texts
from tasks.notify.channels import outbox_email_path
from tasks.progress.workbook import ITEMS_DATA_START_ROW as PROGRESS_START_ROW
from tasks.progress.workbook import ProgressContext, progress_texts
from tasks.progress.workbook import item_columns as progress_columns
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, WorkbookContext, item_columns, workbook_texts


class Behaviour(StrEnum):
    """How a unit answers the call for proposals."""

    early = "early"  # well before the deadline
    on_time = "on_time"  # in the last days before the deadline
    errors = "errors"  # a file with mistakes first, corrected a few days later
    returned = "returned"  # on time, returned by the coordinator, sent again
    late = "late"  # a few days after the deadline, after the first overdue reminder
    very_late = "very_late"  # only after its head has been told (escalation)
    silent = "silent"  # never answers
    no_proposal = "no_proposal"  # declares on the portal that it has nothing to propose this year


def assign_behaviours(codes: list[str], rng: random.Random) -> dict[str, Behaviour]:
    """A realistic mix: about 8 % silent, 10 % with errors, 10 % late, 5 % very late, one returned, one
    with nothing to propose (from five units on), the rest early or on time; at least one unit of each
    kind."""
    shuffled = list(codes)
    rng.shuffle(shuffled)
    n = len(codes)
    quotas = [
        (Behaviour.silent, max(1, round(0.08 * n))),
        (Behaviour.errors, max(1, round(0.10 * n))),
        (Behaviour.late, max(1, round(0.10 * n))),
        (Behaviour.very_late, max(1, round(0.05 * n))),
        (Behaviour.returned, 1),
        (Behaviour.no_proposal, 1 if n >= 5 else 0),
    ]
    behaviours: dict[str, Behaviour] = {}
    position = 0
    for behaviour, count in quotas:
        for code in shuffled[position : position + count]:
            behaviours[code] = behaviour
        position += count
    for index, code in enumerate(shuffled[position:]):
        behaviours[code] = Behaviour.early if index % 2 == 0 else Behaviour.on_time
    return behaviours


@dataclass
class ProposedItem:
    name: str
    field_name: str
    start_year: int
    end_year: int
    amounts: dict[str, int]  # funding source code → triệu


@dataclass
class Officer:
    """One unit's officer: what it proposes, its files so far."""

    unit_code: str
    short_name: str
    behaviour: Behaviour
    items: list[ProposedItem] = field(default_factory=list)
    last_file: bytes | None = None


def propose_items(
    officer: Officer, context: WorkbookContext, rng: random.Random, year: int
) -> list[ProposedItem]:
    """One to three items with one or two funding sources each, amounts from 50 to 3.000 triệu."""
    texts = simulation_texts()
    names = rng.sample(texts["items"], k=rng.randint(1, 3))
    sources = [s.code for s in context.funding_sources]
    fields = [f.name for f in context.fields]
    items = []
    for name in names:
        chosen = rng.sample(sources, k=min(len(sources), rng.choice((1, 1, 2))))
        items.append(
            ProposedItem(
                name=f"{name} của {officer.short_name}",
                field_name=rng.choice(fields),
                start_year=year,
                end_year=year + rng.choice((0, 0, 1)),
                amounts={code: rng.randrange(50, 3_000, 5) for code in chosen},
            )
        )
    return items


def _money_text(triệu: int, rng: random.Random) -> int | str:
    """An amount as officers type it: a number, or Vietnamese text with dot grouping."""
    if rng.random() < 0.5:
        return triệu
    return f"{triệu:,}".replace(",", ".")


def fill_submission(
    blank: bytes, context: WorkbookContext, items: list[ProposedItem], rng: random.Random, *, broken: bool
) -> bytes:
    """The call's workbook with ``items`` typed in. ``broken``: the first item's first amount is typed as
    words and the second year precedes the first, as a hurried officer might."""
    wb = load_workbook(io.BytesIO(blank))
    ws = wb[workbook_texts()["sheets"]["items"]]
    letters = {
        c.key if c.source_code is None else f"amount:{c.source_code}": c.letter for c in item_columns(context)
    }
    origin = workbook_texts()["origins"]["new"]
    texts = simulation_texts()
    row = ITEMS_DATA_START_ROW + len(context.carry_over_candidates)
    for number, item in enumerate(items, start=1):
        values: dict[str, object] = {
            "stt": number,
            "name": item.name,
            "field": item.field_name,
            "origin": origin,
            "objective": texts["objective"],
            "scope": texts["scope"],
            "start_year": item.start_year,
            "end_year": item.end_year,
            "basis": texts["basis"],
        }
        for code, amount in item.amounts.items():
            values[f"amount:{code}"] = _money_text(amount, rng)
        if broken and number == 1:
            first = next(iter(item.amounts))
            values[f"amount:{first}"] = f"khoảng {item.amounts[first]} triệu"
            values["end_year"] = item.start_year - 1
        for key, value in values.items():
            if key in letters:
                ws[f"{letters[key]}{row}"] = value
        row += 1
    return _save(wb)


@dataclass(frozen=True)
class ProgressEntryPlan:
    status: str  # a status code: in_progress, completed, …
    percent: int
    disbursed: int  # triệu, cumulative


def fill_progress(blank: bytes, context: ProgressContext, entries: list[ProgressEntryPlan]) -> bytes:
    """The progress workbook with one entry per item row, in the workbook's order."""
    wb = load_workbook(io.BytesIO(blank))
    ws = wb[progress_texts()["sheets"]["items"]]
    letters = {c.key: c.letter for c in progress_columns(context)}
    labels = workbook_texts()["statuses"]
    texts = simulation_texts()["progress"]
    for offset, entry in enumerate(entries):
        row = PROGRESS_START_ROW + offset
        ws[f"{letters['status']}{row}"] = labels[entry.status]
        ws[f"{letters['percent']}{row}"] = entry.percent
        ws[f"{letters['disbursed']}{row}"] = entry.disbursed
        if entry.status in ("in_progress", "partly_done") and entry.percent < 50:
            ws[f"{letters['problems']}{row}"] = texts["problem"]
            ws[f"{letters['proposals']}{row}"] = texts["proposal"]
    return _save(wb)


def _save(wb) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def received_attachment(
    *, session: Session, settings: Settings, unit_id: int, template: str, key_prefix: str | None = None
) -> bytes:
    """The workbook attached to the newest email of ``template`` the unit's officer received, read from the
    outbox file (exactly what SMTP would have carried)."""
    query = (
        select(NotificationLog)
        .where(
            NotificationLog.unit_id == unit_id,
            NotificationLog.template == template,
            NotificationLog.channel == "email",
            NotificationLog.status == "sent",
        )
        .order_by(col(NotificationLog.id).desc())
    )
    if key_prefix:
        query = query.where(col(NotificationLog.idempotency_key).startswith(key_prefix))
    for log in session.exec(query):
        path = outbox_email_path(settings, log.idempotency_key)
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in mail.iter_attachments():  # type: ignore[attr-defined]
            if str(part.get_filename() or "").endswith(".xlsx"):
                return part.get_content()
    raise LookupError(f"no {template} email with a workbook for unit {unit_id}")


def drop_in_inbox(inbox: Path, filename: str, content: bytes) -> Path:
    """Write the file the way a mail gateway or a shared folder does: under a temporary name first."""
    inbox.mkdir(parents=True, exist_ok=True)
    partial = inbox / f"{filename}.part"
    partial.write_bytes(content)
    target = inbox / filename
    partial.rename(target)
    return target
