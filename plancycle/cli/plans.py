"""`plancycle plans …`: plans issued outside plancycle (the first year starts from last year's plan)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from plancycle.cli.output import say

plans_app = typer.Typer(help="Kế hoạch đã ban hành ngoài plancycle.", no_args_is_help=True)


@plans_app.command("import")
def plans_import(
    file: Path = typer.Argument(..., help="Phụ lục danh mục của kế hoạch đã ban hành: .xlsx hoặc .csv"),
    year: int = typer.Option(..., "--year", min=2000, max=2100, help="Năm của kế hoạch (plan year)"),
    statuses: Path | None = typer.Option(
        None, "--statuses", help="Tệp tình hình thực hiện cuối năm (dạng Phụ lục 01: STT, tên, trạng thái)"
    ),
    replace: bool = typer.Option(False, "--replace", help="Thay kế hoạch đã nhập trước cho năm này"),
    sheet: str | None = typer.Option(None, "--sheet", help="Trang có bảng danh mục (mặc định: tự tìm)"),
    unit: str | None = typer.Option(None, "--unit", help="dong | trieu | ty, khi tệp không ghi đơn vị tính"),
) -> None:
    """Nhập kế hoạch năm trước đã ban hành (xem docs/plan-import.md): đơn vị chủ trì đối chiếu với danh
    bạ; có vấn đề thì không ghi gì. Mã thoát: 0 đã nhập hoặc không đổi, 1 bị từ chối."""
    from models.db import session_scope, upgrade_database
    from tasks.approval.plan_import import PlanImportError, PlanImportRefused, import_issued_plan
    from templates import load_yaml

    upgrade_database()
    try:
        with session_scope() as session:
            result = import_issued_plan(
                session=session,
                path=file,
                year=year,
                statuses=statuses,
                replace=replace,
                actor="cli",
                sheet=sheet,
                unit=unit,
            )
    except PlanImportRefused as error:
        typer.echo(error.message_vi, err=True)
        for issue in error.issues:
            typer.echo(say("plan_import_issue", message=issue.message("vi")), err=True)
        raise typer.Exit(1) from None
    except PlanImportError as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(1) from None
    outcome = load_yaml("reports/plan_import.vi.yaml")["outcomes"][result.outcome]
    values = result.model_dump(exclude={"outcome", "sources"})
    typer.echo(say("plan_imported", outcome=outcome, sources=", ".join(result.sources), **values))
    for source, amount in result.totals.items():
        typer.echo(say("plan_imported_total", source=source, amount=f"{amount:,}".replace(",", ".")))
    for line in result.differences:
        typer.echo(say("plan_import_issue", message=line))


@plans_app.command("budget")
def plans_budget(
    amount: str = typer.Argument(..., help="Tổng chi ngân sách của tỉnh trong năm, vd. 25.000"),
    year: int = typer.Option(..., "--year", min=2000, max=2100, help="Năm kế hoạch"),
    unit: str = typer.Option("ty", "--unit", help="dong | trieu | ty (mặc định: tỷ đồng)"),
) -> None:
    """Nhập tổng chi ngân sách của tỉnh trong năm: mẫu số của tỷ lệ kinh phí KH&CN, ĐMST, CĐS."""
    from models.db import session_scope, upgrade_database
    from tasks.consolidation.budget import set_budget_total
    from tasks.errors import PlancycleError

    upgrade_database()
    try:
        with session_scope() as session:
            value, changed = set_budget_total(
                session=session, year=year, amount=amount, unit=unit, actor="cli"
            )
    except PlancycleError as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(1) from None
    typer.echo(
        say("budget_set" if changed else "budget_same", year=year, amount=f"{value:,}".replace(",", "."))
    )


@plans_app.command("check-bases")
def plans_check_bases(
    draft: Path = typer.Argument(..., help="Dự thảo kế hoạch (.docx)"),
    issued_on: datetime = typer.Option(..., "--date", formats=["%Y-%m-%d"], help="Ngày ban hành dự kiến"),
) -> None:
    """Kiểm tra căn cứ pháp lý của dự thảo: văn bản không còn hiệu lực vào ngày ban hành được nêu kèm văn
    bản thay thế. Mã thoát: 0 không có, 1 có căn cứ hết hiệu lực."""
    from tasks.consolidation.legal_frame import check_draft_bases
    from tasks.errors import PlancycleError

    try:
        findings = check_draft_bases(draft, issued_on.date())
    except PlancycleError as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(2) from None
    for finding in findings:
        typer.echo(say("plan_import_issue", message=finding.message_vi))
    typer.echo(say("bases_stale" if findings else "bases_ok", count=len(findings)))
    if findings:
        raise typer.Exit(1)


@plans_app.command("open-data")
def plans_open_data(
    year: int = typer.Option(..., "--year", min=2000, max=2100, help="Năm của kế hoạch đã ban hành"),
    out: Path = typer.Option(..., "--out", help="Thư mục ghi gói dữ liệu (CSV + datapackage.json)"),
) -> None:
    """Ghi gói dữ liệu mở của kế hoạch đã ban hành (xem docs/open-data.md)."""
    from models.db import session_scope, upgrade_database
    from tasks.approval.open_data import OpenDataError, write_data_package

    upgrade_database()
    try:
        with session_scope() as session:
            path = write_data_package(session=session, year=year, folder=out)
    except OpenDataError as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(1) from None
    typer.echo(say("open_data_written", path=path))
