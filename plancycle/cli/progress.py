"""`plancycle progress …`: progress reports received outside the portal."""

from __future__ import annotations

from pathlib import Path

import typer

from plancycle.cli.output import ReceivedOn, received_day, received_state, say

progress_app = typer.Typer(help="Báo cáo tiến độ thực hiện kế hoạch trong năm.", no_args_is_help=True)


@progress_app.command("import")
def progress_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Tệp báo cáo tiến độ .xlsx của đơn vị"
    ),
    as_of: ReceivedOn = None,
) -> None:
    """Nhập tệp báo cáo tiến độ nhận qua đường khác: biểu mẫu tự xác định đơn vị và kỳ báo cáo."""
    from models.db import session_scope, upgrade_database
    from tasks.progress.intake import ingest_progress_or_record

    upgrade_database()
    received_on = received_day(as_of)
    with session_scope() as session:
        # A fault (full disk, database) is recorded as a refused attempt and answered like a refusal.
        result = ingest_progress_or_record(
            session=session,
            filename=file.name,
            content=file.read_bytes(),
            channel="cli",
            as_of=received_on,
            actor="cli",
            log_traceback=False,
        )
    state = received_state(result, "report_on_time" if result.on_time else "report_late")
    typer.echo(
        say(
            "report_received",
            period_label=result.period_label,
            unit_code=result.unit_code,
            state=state,
            entry_count=result.entry_count,
            indicator_count=result.indicator_count,
        )
    )
