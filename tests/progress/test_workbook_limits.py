"""Progress-report workbooks are read by the same streaming reader, within the same limits (issue 16)."""

from __future__ import annotations

from datetime import date

from tasks.excel.stream import MAX_SHEET_ROWS
from tasks.progress.intake import ingest_progress_report
from tasks.progress.workbook import progress_texts
from tests.corpus.portal_attacks import with_cells
from tests.progress.conftest import ProgressWorld, filled_report


def test_progress_workbooks_go_through_the_same_limits(progress_world: ProgressWorld) -> None:
    reports = progress_world.request_q1()
    sheet = progress_texts()["sheets"]["items"]
    content = with_cells(
        filled_report(progress_world, reports["SYT"]),
        sheet,
        first_row=MAX_SHEET_ROWS + 5,
        rows=1,
        first_column=2,
        columns=1,
    )
    result = ingest_progress_report(
        session=progress_world.session,
        filename="bao-cao.xlsx",
        content=content,
        channel="cli",
        as_of=date(2027, 3, 16),
        actor="test",
    )
    assert not result.accepted
    assert [e.key for e in result.errors] == ["sheet_too_many_rows"]
    assert sheet in result.errors[0].message_vi
