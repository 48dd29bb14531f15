"""The cycle dashboard from the database: states with one rounded share each, the units to call today (past
their deadline, the longest overdue first), an exempt unit not called, and an Excel copy with the same
figures; its Markdown tables render."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook

from models import Submission
from tasks.submissions.dashboard import build_dashboard, dashboard_markdown, dashboard_workbook
from tests.console.markdown import tables
from tests.submissions.conftest import World
from tests.submissions.conftest import world as world  # noqa: F401 (the fixture, for pytest)


def test_the_dashboard_counts_states_and_lists_whom_to_call(world: World) -> None:  # noqa: F811
    session = world.session
    session.add(Submission(cycle_id=world.cycle.id, unit_id=world.unit.id, deadline=date(2026, 9, 30)))  # type: ignore[arg-type]
    session.add(
        Submission(
            cycle_id=world.cycle.id,
            unit_id=world.other_unit.id,
            status="exempted",
            deadline=date(2026, 9, 30),
        )  # type: ignore[arg-type]
    )
    session.commit()

    board = build_dashboard(session=session, cycle=world.cycle, as_of=date(2026, 10, 5))

    assert [(u.code, u.days_overdue) for u in board.to_call] == [("SYT", 5)]
    markdown = dashboard_markdown(board)
    states, to_call, units = tables(markdown)
    assert ["chưa gửi", "1", "50%"] in states and ["được miễn", "1", "50%"] in states
    assert ["không có đề xuất", "0", "0%"] in states
    assert to_call[1] == ["Sở Y tế (SYT)", "chưa gửi", "30/09/2026", "5 ngày"]
    assert ["Sở Tài chính (STC)", "được miễn", "được miễn", ""] in units
    book = load_workbook(io.BytesIO(dashboard_workbook(board)))
    overview = [[c.value for c in row] for row in book["Tổng quan"].iter_rows(min_row=4)]
    assert ["chưa gửi", 1, "50%"] in overview
