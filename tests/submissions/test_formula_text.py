"""Text that came from a user is written as a value, never a formula, in every workbook we generate
(issue 16, finding 4): an item named ``=HYPERLINK(…)`` stays a string in next year's carry-over rows and
in the status export, and next year's workbook validates without edits."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook

from models import Submission
from tasks.submissions.status import status_rows, status_workbook
from tasks.submissions.validation import validate_workbook
from tests.submissions.conftest import (
    ITEMS_DATA_START_ROW,
    STATUS_DATA_START_ROW,
    World,
    filled_workbook,
    item_letter,
    items_sheet,
    open_book,
    status_letter,
    status_sheet,
)

HOSTILE = '=HYPERLINK("http://x.invalid/","y")'


def test_carried_over_formula_name_is_a_string_and_validates_unchanged(world: World) -> None:
    world.in_progress.name = HOSTILE
    world.in_progress.objective = "=1+1"
    world.session.add(world.in_progress)
    world.session.commit()
    context = world.context()

    book = open_book(world.blank())
    name_cell = items_sheet(book)[f"{item_letter(context, 'name')}{ITEMS_DATA_START_ROW}"]
    assert (name_cell.value, name_cell.data_type) == (HOSTILE, "s")
    objective = items_sheet(book)[f"{item_letter(context, 'objective')}{ITEMS_DATA_START_ROW}"]
    assert (objective.value, objective.data_type) == ("=1+1", "s")
    status_name = status_sheet(book)[f"{status_letter(context, 'name')}{STATUS_DATA_START_ROW}"]
    assert (status_name.value, status_name.data_type) == (HOSTILE, "s")

    # The unit fills only amounts and its status: the carried-over row validates as it was issued.
    result = validate_workbook(filled_workbook(world), context=context)
    assert result.errors == [], [e.message_en for e in result.errors]
    assert result.submission is not None
    carried = next(i for i in result.submission.items if i.carry_over_from_id == world.in_progress.id)
    assert carried.name == HOSTILE


def test_status_export_keeps_unit_codes_and_names_as_text(world: World) -> None:
    world.unit.code = "=cmd|'/c calc'!A1"
    world.session.add(world.unit)
    world.session.add(Submission(cycle_id=world.cycle.id, unit_id=world.unit.id))  # type: ignore[arg-type]
    world.session.commit()
    rows = status_rows(session=world.session, cycle=world.cycle, as_of=date(2026, 9, 1))
    content = status_workbook(session=world.session, cycle=world.cycle, rows=rows)
    ws = load_workbook(io.BytesIO(content)).active
    cells = [c for row in ws.iter_rows() for c in row if str(c.value).startswith("=cmd|'/c calc'!A1")]
    assert cells and all(c.data_type == "s" for c in cells)
