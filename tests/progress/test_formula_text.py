"""An item named like a formula is a string in the unit's progress workbook, and the workbook returned
with the unit's figures validates unchanged (issue 16, finding 4)."""

from __future__ import annotations

from datetime import date

from tasks.progress.intake import ingest_progress_report
from tests.progress.conftest import (
    ITEMS_DATA_START_ROW,
    ProgressWorld,
    filled_report,
    item_letter,
    items_sheet,
    open_book,
)

HOSTILE = '=HYPERLINK("http://x.invalid/","y")'


def test_formula_named_item_is_text_in_the_progress_workbook(progress_world: ProgressWorld) -> None:
    world = progress_world
    world.hospital_system.name = HOSTILE
    world.session.add(world.hospital_system)
    world.session.commit()
    report = world.request_q1()["SYT"]
    context = world.context(report)

    ws = items_sheet(open_book(world.blank(report)))
    cells = [ws[f"{item_letter(context, 'name')}{ITEMS_DATA_START_ROW + n}"] for n in range(2)]
    hostile = next(c for c in cells if c.value == HOSTILE)
    assert hostile.data_type == "s"

    result = ingest_progress_report(
        session=world.session,
        filename="bao-cao.xlsx",
        content=filled_report(world, report),
        channel="cli",
        as_of=date(2027, 3, 10),
        actor="test",
    )
    assert result.accepted, [e.message_en for e in result.errors]
