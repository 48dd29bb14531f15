"""Back-dated imports are judged on the date they were received (issue 19, finding 4): ``--as-of`` sets
the received date, and lateness is measured against the request's deadline on that date."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from typer.testing import CliRunner

from models import SubmissionVersion
from models.submissions import Submission
from plancycle.cli import app as cli
from plancycle.settings import get_settings
from tasks.submissions.status import status_rows
from tests.submissions.conftest import World, filled_workbook


def test_cli_import_as_of_before_the_deadline_is_on_time(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world.session.add(Submission(cycle_id=world.cycle.id, unit_id=world.unit.id, deadline=date(2026, 9, 30)))  # type: ignore[arg-type]
    world.session.commit()
    path = tmp_path / "syt.xlsx"
    path.write_bytes(filled_workbook(world))
    result = CliRunner().invoke(
        cli, ["submissions", "import", str(path), "--unit", "SYT", "--year", "2027", "--as-of", "2026-09-20"]
    )
    assert result.exit_code == 0, result.output
    world.session.expire_all()
    version = world.session.exec(select(SubmissionVersion)).one()
    assert version.received_on == date(2026, 9, 20) and version.on_time is True
    row = status_rows(session=world.session, cycle=world.cycle, as_of=get_settings().today())[0]
    assert row.received_on == date(2026, 9, 20)
    assert row.on_time is True and row.days_late is None  # not late by the wall clock's count of days

    status = CliRunner().invoke(cli, ["submissions", "status", "2027"])
    assert status.exit_code == 0 and "20/09/2026" in status.output and "Trễ" not in status.output


def test_cli_import_as_of_after_an_extended_deadline_counts_from_that_deadline(
    world: World, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    world.session.add(Submission(cycle_id=world.cycle.id, unit_id=world.unit.id, deadline=date(2026, 10, 5)))  # type: ignore[arg-type]
    world.session.commit()
    path = tmp_path / "syt.xlsx"
    path.write_bytes(filled_workbook(world))
    result = CliRunner().invoke(
        cli, ["submissions", "import", str(path), "--unit", "SYT", "--year", "2027", "--as-of", "2026-10-08"]
    )
    assert result.exit_code == 0, result.output
    world.session.expire_all()
    row = status_rows(session=world.session, cycle=world.cycle, as_of=get_settings().today())[0]
    assert row.received_on == date(2026, 10, 8) and row.on_time is False and row.days_late == 3
