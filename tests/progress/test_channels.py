"""The same progress intake from the portal (the upload route dispatches on the workbook's kind), the
inbox folder and the command line."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from models.progress import ProgressEntry, ProgressReport
from plancycle.cli import app as cli
from plancycle.settings import get_settings
from portal.app import create_app
from tasks.common.links import issue_link_token
from tasks.submissions.inbox import collect_inbox
from tests.progress.conftest import ProgressWorld, filled_report

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_portal_shows_the_report_and_takes_the_upload(progress_world: ProgressWorld) -> None:
    world = progress_world
    reports = world.request_q1()
    token = issue_link_token(session=world.session, unit=world.health, cycle=world.cycle)
    world.session.commit()
    client = TestClient(create_app())
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "Quý I/2027" in page.text and "17/03/2027" in page.text
    download = client.get(f"/u/{token}/progress/{reports['SYT'].id}/workbook")
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert (
        client.get(f"/u/{token}/progress/{reports['STC'].id}/workbook").status_code == 403
    )  # not its report

    bad = filled_report(
        world,
        reports["SYT"],
        rows=[{"status": "Đã hoàn thành", "percent": 50}, {"status": "Chưa triển khai"}],
    )
    refused = client.post(f"/u/{token}/upload", files={"file": ("bc.xlsx", bad, XLSX)})
    assert refused.status_code == 422 and "Báo cáo tiến độ chưa hợp lệ" in refused.text
    good = filled_report(world, reports["SYT"])
    accepted = client.post(f"/u/{token}/upload", files={"file": ("bc.xlsx", good, XLSX)})
    assert accepted.status_code == 200 and "Đã tiếp nhận báo cáo tiến độ Quý I/2027" in accepted.text
    world.session.expire_all()
    assert world.session.get(ProgressReport, reports["SYT"].id).status == "submitted"  # type: ignore[union-attr]


def test_inbox_dispatches_progress_workbooks(progress_world: ProgressWorld, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = progress_world
    reports = world.request_q1()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "stc.xlsx").write_bytes(
        filled_report(world, reports["STC"], rows=[{"status": "Đang triển khai", "percent": 5}])
    )
    # The inbox runs for the cycle collecting submissions (2028); the progress report names its own (2027).
    collecting = world.cycle.model_copy(update={"year": 2028})
    outcomes = collect_inbox(
        session=world.session,
        cycle=collecting,
        inbox_url=str(inbox),
        as_of=date(2027, 3, 15),
        settings=get_settings(),
    )
    assert [(o.unit_code, o.accepted) for o in outcomes] == [("STC", True)]
    assert len(list((inbox / "processed").iterdir())) == 1
    assert world.session.exec(select(ProgressEntry)).one().percent_complete == 5


def test_cli_import(progress_world: ProgressWorld, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = progress_world
    reports = world.request_q1()
    path = tmp_path / "syt.xlsx"
    path.write_bytes(filled_report(world, reports["SYT"]))
    result = CliRunner().invoke(cli, ["progress", "import", str(path), "--as-of", "2027-03-19"])
    assert result.exit_code == 0, result.output
    assert "Quý I/2027" in result.output and "SYT" in result.output and "quá hạn" in result.output
    again = CliRunner().invoke(cli, ["progress", "import", str(path)])
    assert again.exit_code == 0 and "giống lần gửi trước" in again.output


def test_a_fault_in_the_progress_intake_is_an_answer_on_the_command_line_and_in_the_inbox(
    progress_world: ProgressWorld,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """Not the file's fault: the archive cannot be written (its folder is a file). The command line
    answers like a refusal, with the generic message and no traceback, exit code 1, as a process; the
    inbox records the file the same way and moves it out of the way. Each leaves one refused attempt."""
    import os
    import subprocess
    import sys

    from models.submissions import IntakeAttempt
    from plancycle.settings import PROJECT_ROOT

    world = progress_world
    reports = world.request_q1()
    get_settings().archive_dir.parent.mkdir(parents=True, exist_ok=True)
    get_settings().archive_dir.write_text("not a folder")
    path = tmp_path / "syt.xlsx"
    path.write_bytes(filled_report(world, reports["SYT"]))
    done = subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "progress", "import", str(path), "--as-of", "2027-03-19"],
        env=os.environ | {"PYTHONIOENCODING": "utf-8"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output
    assert "Hệ thống không xử lý được tệp này" in done.stderr, output

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bao-cao.xlsx").write_bytes(filled_report(world, reports["SYT"]))
    outcomes = collect_inbox(
        session=world.session,
        cycle=None,
        inbox_url=str(inbox),
        as_of=date(2027, 3, 19),
        settings=get_settings(),
    )
    assert [(o.filename, o.accepted) for o in outcomes] == [("bao-cao.xlsx", False)]
    assert len(list((inbox / "processed").iterdir())) == 1
    world.session.expire_all()
    attempts = world.session.exec(select(IntakeAttempt)).all()
    assert [(a.accepted, a.errors[0]["key"]) for a in attempts] == [(False, "intake_failed")] * 2  # type: ignore[index]
    assert world.session.exec(select(ProgressEntry)).first() is None


def test_inbox_takes_progress_reports_when_no_cycle_is_collecting(
    progress_world: ProgressWorld, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """January to June no cycle collects submissions: progress reports are still taken, a stray
    submission workbook waits in the folder for the next cycle."""
    world = progress_world
    reports = world.request_q1()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "stc.xlsx").write_bytes(
        filled_report(world, reports["STC"], rows=[{"status": "Đang triển khai", "percent": 5}])
    )
    (inbox / "other.xlsx").write_bytes(b"not a progress workbook")
    outcomes = collect_inbox(
        session=world.session,
        cycle=None,
        inbox_url=str(inbox),
        as_of=date(2027, 3, 15),
        settings=get_settings(),
    )
    assert [(o.unit_code, o.accepted) for o in outcomes] == [("STC", True)]
    assert (inbox / "other.xlsx").exists()
    assert world.session.exec(select(ProgressEntry)).one().percent_complete == 5
