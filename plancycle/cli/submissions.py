"""`plancycle submissions …`: the units' proposals received outside the portal, their review, the status."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from plancycle.cli.output import ReceivedOn, received_day, received_state, say
from plancycle.settings import get_settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from models import PlanningCycle, Unit

submissions_app = typer.Typer(
    help="Đề xuất của các đơn vị: tiếp nhận, xem xét, gia hạn, tình hình.", no_args_is_help=True
)


def _cycle_or_exit(session: Session, year: int) -> PlanningCycle:
    """The cycle of ``year``; without one, its message and exit code 2."""
    from tasks.errors import NoCycleError
    from tasks.submissions.cycles import require_cycle

    try:
        return require_cycle(session=session, year=year)
    except NoCycleError as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(2) from None


def _cycle_and_unit_or_exit(session: Session, year: int, unit_code: str) -> tuple[PlanningCycle, Unit]:
    from models.registry import get_unit_by_code

    cycle = _cycle_or_exit(session, year)
    unit = get_unit_by_code(session=session, code=unit_code)
    if unit is None:
        typer.echo(say("unknown_unit", year=year, unit_code=unit_code), err=True)
        raise typer.Exit(2)
    return cycle, unit


@submissions_app.command("import")
def submissions_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Tệp .xlsx của đơn vị"),
    unit: str = typer.Option(..., "--unit", help="Mã đơn vị gửi"),
    year: int = typer.Option(..., "--year", help="Năm kế hoạch"),
    as_of: ReceivedOn = None,
    on_behalf_of: str | None = typer.Option(
        None,
        "--on-behalf-of",
        help="Họ tên cán bộ cơ quan chủ trì nhập thay cho đơn vị (ghi vào nhật ký)",
    ),
) -> None:
    """Nhập tệp đề xuất nhận qua đường khác (thư, USB…): cùng kiểm tra và ghi nhận như trên cổng.
    Với --on-behalf-of, cơ quan chủ trì nhập mẫu biểu thay cho đơn vị; nhật ký ghi rõ ai nhập thay."""
    from models.db import session_scope, upgrade_database
    from tasks.submissions.intake import ingest_or_record
    from tasks.submissions.notices import notify_intake_result

    upgrade_database()
    received_on = received_day(as_of)
    with session_scope() as session:
        cycle, unit_row = _cycle_and_unit_or_exit(session, year, unit)
        # A fault (full disk, database) is recorded as a refused attempt and answered like a refusal.
        result = ingest_or_record(
            session=session,
            cycle=cycle,
            unit=unit_row,
            filename=file.name,
            content=file.read_bytes(),
            channel="cli",
            as_of=received_on,
            actor=f"coordinator:{on_behalf_of.strip()}" if on_behalf_of else "cli",
            on_behalf_of=bool(on_behalf_of),
            log_traceback=False,
        )
        notify_intake_result(
            session=session,
            cycle=cycle,
            unit=unit_row,
            result=result,
            received_on=received_on,
            settings=get_settings(),
        )
    state = received_state(result, "submission_version", version_number=result.version_number)
    typer.echo(say("submission_received", state=state, item_count=result.item_count))


@submissions_app.command("review")
def submissions_review(
    year: int = typer.Argument(...),
    unit: str = typer.Argument(..., help="Mã đơn vị"),
    action: str = typer.Option(..., "--action", help="accept | return | extend | exempt"),
    comment: str | None = typer.Option(None, "--comment", help="Ý kiến chung hoặc lý do"),
    item: list[str] = typer.Option([], "--item", help="Ý kiến theo nhiệm vụ: 'STT=ý kiến' (lặp lại được)"),
    new_deadline: datetime | None = typer.Option(None, "--new-deadline", formats=["%Y-%m-%d"]),
    reviewer: str = typer.Option("coordinator", "--reviewer"),
) -> None:
    """Xem xét đề xuất của một đơn vị (cùng quy trình với deployment review-submission)."""
    from flows.review import review_submission
    from tasks.errors import NoCycleError
    from tasks.submissions.review import ItemComment, ReviewError

    if action not in {"accept", "return", "extend", "exempt"}:
        typer.echo(say("review_bad_action"), err=True)
        raise typer.Exit(2)
    comments = [
        ItemComment(row_ref=i.split("=", 1)[0].strip(), comment=i.split("=", 1)[1].strip())
        for i in item
        if "=" in i
    ]
    try:
        outcome = review_submission(
            year=year,
            unit_code=unit,
            action=action,
            comment=comment,  # type: ignore[arg-type]
            item_comments=comments,
            reviewer=reviewer,
            new_deadline=new_deadline.date() if new_deadline else None,
        )
    except (ReviewError, NoCycleError) as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(1) from None
    typer.echo(say("review_recorded", outcome=outcome))


@submissions_app.command("status")
def submissions_status(
    year: int = typer.Argument(...),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Ghi bảng tình hình ra tệp Excel"),
) -> None:
    """Tình hình gửi đề xuất của các đơn vị."""
    from models.db import session_scope
    from tasks.submissions.status import answered_share, status_rows, status_table, status_workbook

    with session_scope() as session:
        cycle = _cycle_or_exit(session, year)
        rows = status_rows(session=session, cycle=cycle, as_of=get_settings().today())
        for entry in status_table(session=session, cycle=cycle, rows=rows):
            typer.echo(" | ".join(entry.values()))
        typer.echo(say("status_answered", share=answered_share(rows)))
        if xlsx:
            xlsx.write_bytes(status_workbook(session=session, cycle=cycle, rows=rows))
            typer.echo(say("status_written", path=xlsx))
