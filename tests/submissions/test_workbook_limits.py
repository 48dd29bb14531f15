"""Over-large sheets (issue 16, finding 1): a workbook is read in streaming mode and refused, with a message
naming the sheet and the cell, when its used range or its cell count is beyond the limits; cells outside
the checked columns within the limits are simply not read. The attack files are generated at test time
(tests/corpus/portal_attacks.py)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import func, select

from models import IntakeAttempt, SubmissionVersion
from models.submissions import Submission
from portal.app import create_app
from tasks.common.links import issue_link_token
from tasks.excel.stream import MAX_SHEET_COLUMNS, MAX_SHEET_ROWS, MAX_WORKBOOK_CELLS
from tasks.submissions.validation import validate_workbook
from tasks.submissions.workbook import workbook_texts
from tests.corpus.portal_attacks import with_cells, write
from tests.submissions.conftest import World, filled_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _items() -> str:
    return workbook_texts()["sheets"]["items"]


def test_data_beyond_the_row_limit_is_refused_naming_sheet_and_cell(world: World, tmp_path: Path) -> None:
    content = with_cells(
        filled_workbook(world), _items(), first_row=MAX_SHEET_ROWS + 1, rows=1, first_column=3, columns=1
    )
    write(tmp_path, "portal_row_beyond_limit.xlsx", content)
    errors = validate_workbook(content, context=world.context()).errors
    assert [e.key for e in errors] == ["sheet_too_many_rows"]
    assert _items() in errors[0].message_vi and f"C{MAX_SHEET_ROWS + 1}" in errors[0].message_vi


def test_data_beyond_the_column_limit_is_refused(world: World) -> None:
    content = with_cells(
        filled_workbook(world), _items(), first_row=30, rows=1, first_column=MAX_SHEET_COLUMNS + 1, columns=1
    )
    errors = validate_workbook(content, context=world.context()).errors
    assert [e.key for e in errors] == ["sheet_too_many_columns"]
    assert _items() in errors[0].message_vi and "BM30" in errors[0].message_vi


def test_too_many_cells_within_the_range_are_refused(world: World) -> None:
    rows = MAX_WORKBOOK_CELLS // 40 + 10
    content = with_cells(
        filled_workbook(world), _items(), first_row=30, rows=rows, first_column=24, columns=40
    )
    errors = validate_workbook(content, context=world.context()).errors
    assert [e.key for e in errors] == ["sheet_too_many_cells"]
    assert _items() in errors[0].message_vi


def test_cells_outside_the_checked_columns_within_the_limits_are_ignored(world: World) -> None:
    content = with_cells(filled_workbook(world), _items(), first_row=8, rows=200, first_column=40, columns=20)
    result = validate_workbook(content, context=world.context())
    assert result.ok, [e.message_en for e in result.errors]
    assert len(result.submission.items) == 4  # type: ignore[union-attr]


def test_the_reviewed_attack_is_refused_at_once_through_the_portal(world: World, tmp_path: Path) -> None:
    """The review's file: 700,000 filled cells outside the checked columns. It took 156 s and 3.5 GB."""
    world.session.add(Submission(cycle_id=world.cycle.id, unit_id=world.unit.id))  # type: ignore[arg-type]
    token = issue_link_token(session=world.session, unit=world.unit, cycle=world.cycle)
    world.session.commit()
    content = with_cells(
        filled_workbook(world), _items(), first_row=20, rows=5000, first_column=24, columns=140
    )
    write(tmp_path, "portal_700k_cells_outside_checked_columns.xlsx", content)
    client = TestClient(create_app())
    started = time.monotonic()
    response = client.post(f"/u/{token}/upload", files={"file": ("de-xuat.xlsx", content, XLSX)})
    elapsed = time.monotonic() - started
    assert response.status_code == 422
    assert f"Trang tính &#39;{_items()}&#39;" in response.text or f"Trang tính '{_items()}'" in response.text
    assert elapsed < 60  # a refusal, not two and a half minutes of parsing (figures: bench/bench_portal.py)
    count = world.session.exec(select(func.count()).select_from(SubmissionVersion)).one()
    attempts = world.session.exec(select(IntakeAttempt)).all()
    assert count == 0 and len(attempts) == 1 and not attempts[0].accepted
