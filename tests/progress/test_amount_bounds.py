"""Disbursed amounts in a progress report are bounded like proposals: 1e30 or a figure typed in đồng
into the triệu column is a located refusal, nothing is stored (issue 16, finding 2)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import select

from models.progress import ProgressEntry
from tasks.progress.intake import ingest_progress_report
from tests.progress.conftest import HEALTH_ROWS, ProgressWorld, filled_report


@pytest.mark.parametrize("disbursed", [1e30, 922183000, "9.000.000.000.000"])
def test_absurd_disbursement_is_refused_where_it_is(progress_world: ProgressWorld, disbursed: Any) -> None:
    world = progress_world
    report = world.request_q1()["SYT"]
    rows = [HEALTH_ROWS[0] | {"disbursed": disbursed}, HEALTH_ROWS[1]]
    result = ingest_progress_report(
        session=world.session,
        filename="bao-cao.xlsx",
        content=filled_report(world, report, rows=rows),
        channel="cli",
        as_of=date(2027, 3, 10),
        actor="test",
    )
    assert not result.accepted
    [error] = result.errors
    assert error.key == "amount_looks_in_dong" and error.row is not None and error.column
    assert "tỷ đồng" in error.message_vi
    assert world.session.exec(select(ProgressEntry)).all() == []


def test_absurd_indicator_value_is_refused(progress_world: ProgressWorld) -> None:
    world = progress_world
    world.online_dossiers.measure_unit = "hồ sơ"
    world.session.add(world.online_dossiers)
    world.session.commit()
    report = world.request_q1()["SNV"]
    result = ingest_progress_report(
        session=world.session,
        filename="bao-cao.xlsx",
        content=filled_report(world, report, rows=[], indicator_value=1e30),
        channel="cli",
        as_of=date(2027, 3, 10),
        actor="test",
    )
    assert not result.accepted
    assert [e.key for e in result.errors] == ["indicator_value_too_large"]
