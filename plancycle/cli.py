"""The `plancycle` command: the local stack and the coordinator's command-line tools."""

from __future__ import annotations

import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import typer

from plancycle.settings import PROJECT_ROOT, get_settings

app = typer.Typer(help="Chu trình kế hoạch CNTT / chuyển đổi số của tỉnh trên Prefect.", no_args_is_help=True)
units_app = typer.Typer(help="Danh bạ đơn vị và người liên hệ.", no_args_is_help=True)
db_app = typer.Typer(help="Cơ sở dữ liệu.", no_args_is_help=True)
app.add_typer(units_app, name="units")
app.add_typer(db_app, name="db")
submissions_app = typer.Typer(
    help="Đề xuất của các đơn vị: tiếp nhận, xem xét, gia hạn, tình hình.", no_args_is_help=True
)
app.add_typer(submissions_app, name="submissions")
progress_app = typer.Typer(help="Báo cáo tiến độ thực hiện kế hoạch trong năm.", no_args_is_help=True)
app.add_typer(progress_app, name="progress")


@progress_app.command("import")
def progress_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Tệp báo cáo tiến độ .xlsx của đơn vị"
    ),
    as_of: datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="Ngày nhận (mặc định hôm nay)"
    ),
) -> None:
    """Nhập tệp báo cáo tiến độ nhận qua đường khác: biểu mẫu tự xác định đơn vị và kỳ báo cáo."""
    from models.db import session_scope, upgrade_database
    from tasks.progress.intake import ingest_progress_report

    upgrade_database()
    received_on = as_of.date() if as_of else get_settings().today()
    with session_scope() as session:
        result = ingest_progress_report(
            session=session,
            filename=file.name,
            content=file.read_bytes(),
            channel="cli",
            as_of=received_on,
            actor="cli",
        )
    if result.accepted:
        state = (
            "giống lần gửi trước, không ghi thêm"
            if result.duplicate
            else ("đúng hạn" if result.on_time else "quá hạn")
        )
        typer.echo(
            f"Đã tiếp nhận báo cáo {result.period_label} của {result.unit_code} ({state}): "
            f"{result.entry_count} nhiệm vụ, {result.indicator_count} chỉ tiêu."
        )
        return
    typer.echo(f"Tệp chưa hợp lệ ({len(result.errors)} lỗi); chỉ lưu bản gốc để đối chiếu:", err=True)
    for error in result.errors:
        where = ", ".join(str(p) for p in (error.sheet, error.cell or error.row) if p)
        typer.echo(f"  - {where}: {error.message_vi}", err=True)
    raise typer.Exit(1)


DEMO_DIR = PROJECT_ROOT / "plancycle" / "demo"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    from models.db import upgrade_database

    upgrade_database()
    typer.echo("Đã cập nhật cấu trúc cơ sở dữ liệu.")


@units_app.command("import")
def units_import(files: list[Path] = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Nhập đơn vị và người liên hệ từ tệp .xlsx hoặc .csv (cột: xem docs/unit-registry.md)."""
    from models.db import session_scope, upgrade_database
    from tasks.registry.directory import RegistryImportError, import_registry

    upgrade_database()
    try:
        with session_scope() as session:
            result = import_registry(session=session, paths=files, actor="cli")
    except RegistryImportError as error:
        typer.echo("Không nhập được: không có dữ liệu nào được ghi.", err=True)
        for issue in error.issues:
            typer.echo(f"  - {issue.file}: {issue.message('vi')}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"Đơn vị: thêm {result.units_created}, cập nhật {result.units_updated}, "
        f"không đổi {result.units_unchanged}. Liên hệ: thêm {result.contacts_created}, "
        f"cập nhật {result.contacts_updated}, không đổi {result.contacts_unchanged}."
    )


def _load_cycle_unit(session, year: int, unit_code: str):  # type: ignore[no-untyped-def]
    from models.cycle import get_cycle_by_year
    from models.registry import get_unit_by_code

    cycle = get_cycle_by_year(session=session, year=year)
    unit = get_unit_by_code(session=session, code=unit_code)
    if cycle is None or unit is None:
        typer.echo(f"Không có kỳ kế hoạch năm {year} hoặc đơn vị mã {unit_code}.", err=True)
        raise typer.Exit(2)
    return cycle, unit


@submissions_app.command("import")
def submissions_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Tệp .xlsx của đơn vị"),
    unit: str = typer.Option(..., "--unit", help="Mã đơn vị gửi"),
    year: int = typer.Option(..., "--year", help="Năm kế hoạch"),
    as_of: datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="Ngày nhận (mặc định hôm nay)"
    ),
) -> None:
    """Nhập tệp đề xuất nhận qua đường khác (thư, USB…): cùng kiểm tra và ghi nhận như trên cổng."""
    from models.db import session_scope, upgrade_database
    from tasks.submissions.intake import ingest_submission
    from tasks.submissions.notices import notify_intake_result

    upgrade_database()
    received_on = as_of.date() if as_of else get_settings().today()
    with session_scope() as session:
        cycle, unit_row = _load_cycle_unit(session, year, unit)
        result = ingest_submission(
            session=session,
            cycle=cycle,
            unit=unit_row,
            filename=file.name,
            content=file.read_bytes(),
            channel="cli",
            as_of=received_on,
            actor="cli",
        )
        notify_intake_result(
            session=session,
            cycle=cycle,
            unit=unit_row,
            result=result,
            received_on=received_on,
            settings=get_settings(),
        )
    if result.accepted:
        state = (
            "giống lần gửi trước, không ghi thêm" if result.duplicate else f"lần gửi {result.version_number}"
        )
        typer.echo(f"Đã tiếp nhận ({state}): {result.item_count} nhiệm vụ, dự án.")
        return
    typer.echo(f"Tệp chưa hợp lệ ({len(result.errors)} lỗi); chỉ lưu bản gốc để đối chiếu:", err=True)
    for error in result.errors:
        where = ", ".join(str(p) for p in (error.sheet, error.cell or error.row) if p)
        typer.echo(f"  - {where}: {error.message_vi}", err=True)
    raise typer.Exit(1)


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
        typer.echo("--action phải là accept, return, extend hoặc exempt.", err=True)
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
    typer.echo(f"Đã ghi: {outcome}")


@submissions_app.command("status")
def submissions_status(
    year: int = typer.Argument(...),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Ghi bảng tình hình ra tệp Excel"),
) -> None:
    """Tình hình gửi đề xuất của các đơn vị."""
    from models.cycle import get_cycle_by_year
    from models.db import session_scope
    from tasks.submissions.status import answered_share, status_rows, status_table, status_workbook

    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year)
        if cycle is None:
            typer.echo(f"Không có kỳ kế hoạch năm {year}.", err=True)
            raise typer.Exit(2)
        rows = status_rows(session=session, cycle=cycle, as_of=get_settings().today())
        for entry in status_table(session=session, cycle=cycle, rows=rows):
            typer.echo(" | ".join(entry.values()))
        typer.echo(f"Đã trả lời: {answered_share(rows):.0f}%")
        if xlsx:
            xlsx.write_bytes(status_workbook(session=session, cycle=cycle, rows=rows))
            typer.echo(f"Đã ghi {xlsx}")


def seed_demo_if_empty() -> bool:
    """Seed the demo province (Gia Lai's units from the 2020 plan; contacts at example.org) on first run."""
    from sqlmodel import select

    from models import Unit
    from models.db import session_scope
    from tasks.registry.directory import import_registry

    with session_scope() as session:
        if session.exec(select(Unit)).first() is not None:
            return False
        import_registry(
            session=session, paths=[DEMO_DIR / "units.csv", DEMO_DIR / "contacts.csv"], actor="seed"
        )
    return True


@app.command()
def up(
    exit_after_ready: bool = typer.Option(False, help="Start, verify, then stop (for CI and smoke tests)."),
    seed: bool = typer.Option(True, help="Seed the demo province when the database is empty."),
    start_portal: bool = typer.Option(
        True, "--portal/--no-portal", help="Start the units' submission portal."
    ),
) -> None:
    """Chạy toàn bộ hệ thống tại máy: CSDL, Prefect server, các deployment, worker. Ctrl-C để dừng."""
    from models.db import upgrade_database
    from plancycle import doctor
    from plancycle.stack import StackError, list_deployment_names, running_stack

    settings = get_settings()
    upgrade_database()
    typer.echo(f"Cơ sở dữ liệu: {_redact(settings.resolved_database_url)}")
    if seed and seed_demo_if_empty():
        typer.echo("Đã tạo dữ liệu mẫu: danh bạ đơn vị tỉnh Gia Lai (liên hệ @example.org).")
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    with running_stack(settings) as stack:
        try:
            api = stack.start_prefect()
            typer.echo(f"Prefect API: {api}")
            stack.deploy()
            stack.start_worker()
            portal = stack.start_portal() if start_portal else None
            names = list_deployment_names(api)
        except StackError as error:
            typer.echo(f"Lỗi khởi động: {error}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"Deployments ({len(names)}): {', '.join(names)}")
        typer.echo(f"Giao diện Prefect: {api.removesuffix('/api')}")
        if portal:
            typer.echo(f"Cổng tiếp nhận của đơn vị: {portal}")
        # READY only once the parts that work unattended are proven: a worker polls the pool and the
        # server's scheduler has put runs on the scheduled deployments, with no error in its log.
        checks = doctor.run_checks(
            settings,
            api,
            server_log=stack.server_log,
            server_log_offset=stack.server_log_offset,
            wait_seconds=90,
            check_links=portal is not None,
        )
        healthy = doctor.report(checks, typer.echo)
        if healthy:
            typer.echo(f"{doctor.both('ready')}. Nhấn Ctrl-C để dừng.", color=False)
        else:
            typer.echo(doctor.both("not_ready"), err=True)
        sys.stdout.flush()
        if exit_after_ready and not healthy:
            raise typer.Exit(1)
        if exit_after_ready:
            time.sleep(2)
            stack.check_alive()
            return
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        log_seen, next_log_check = _log_size(stack.server_log), time.monotonic() + 30
        while not stopping:
            try:
                stack.check_alive()
            except StackError as error:
                typer.echo(f"Dừng vì: {error}", err=True)
                raise typer.Exit(1) from None
            if stack.server_log is not None and time.monotonic() >= next_log_check:
                # A scheduler that starts failing later is as silent as one that never worked: say so.
                check = doctor.check_server_log(stack.server_log, log_seen)
                log_seen, next_log_check = _log_size(stack.server_log), time.monotonic() + 30
                if not check.ok:
                    doctor.report([check], lambda line: typer.echo(line, err=True))
            time.sleep(0.5)
        typer.echo("Đang dừng…")
    typer.echo("Đã dừng.")


def _log_size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.exists() else 0


@app.command("doctor")
def doctor_command(
    api: str = typer.Option(
        None, "--api", help="Prefect API (mặc định: PLANCYCLE_PREFECT_API_URL, PREFECT_API_URL, máy này)."
    ),
    server_log: Path = typer.Option(
        None, "--server-log", help="Nhật ký Prefect server cần đọc lỗi (Prefect server log to scan)."
    ),
    wait: int = typer.Option(0, "--wait", min=0, help="Chờ tối đa bấy nhiêu giây cho worker và lịch chạy."),
) -> None:
    """Kiểm tra hệ thống: CSDL, Prefect API, worker, lịch chạy tự động, gửi thư, đường dẫn. Lỗi: mã 1."""
    import os

    from plancycle import doctor

    settings = get_settings()
    api_url = (
        api
        or settings.prefect_api_url
        or os.environ.get("PREFECT_API_URL")
        or f"http://127.0.0.1:{settings.prefect_port}/api"
    )
    checks = doctor.run_checks(settings, api_url, server_log=server_log, wait_seconds=wait)
    if doctor.report(checks, typer.echo):
        typer.echo(doctor.both("doctor_ok"))
        return
    typer.echo(doctor.both("doctor_failed", count=sum(not c.ok for c in checks)), err=True)
    raise typer.Exit(1)


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("simulate")
def simulate_command(
    year: int = typer.Option(..., "--year", help="Năm kế hoạch được mô phỏng (plan year)"),
    units: int = typer.Option(40, "--units", min=6, max=5000, help="Số đơn vị được đề nghị (units asked)"),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Thư mục trống cho dữ liệu mô phỏng (mặc định data/simulation/<năm>-<số đơn vị>-<thời điểm>)",
    ),
    seed: int = typer.Option(2025, help="Hạt giống ngẫu nhiên: cùng hạt giống, cùng diễn biến"),
    prefect_api: str | None = typer.Option(
        None, "--prefect-api", help="Dùng Prefect API này thay vì khởi động máy chủ Prefect cục bộ"
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Ghi kết quả từng giai đoạn ra tệp JSON"),
) -> None:
    """Chạy thử cả một năm kế hoạch, tua nhanh theo as_of: mở kỳ, đơn vị gửi (đúng hạn, trễ, lỗi, không
    gửi), nhắc hạn, xem xét, tổng hợp, phê duyệt, bốn kỳ báo cáo tiến độ, khóa sổ, chuyển tiếp năm sau."""
    from plancycle.simulation.run import SimulationError, render_summary, simulate, write_json

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = data_dir or get_settings().resolved_data_dir / "simulation" / f"{year}-{units}-{stamp}"
    try:
        result = simulate(
            year=year,
            units=units,
            data_dir=folder,
            seed=seed,
            prefect_api=prefect_api,
            echo=lambda line: typer.echo(line, err=True),
        )
    except SimulationError as error:
        typer.echo(f"Mô phỏng dừng ở giai đoạn / simulation stopped at: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(render_summary(result))
    if json_out:
        write_json(result, json_out)


@app.command("check-plan")
def check_plan(
    file: Path = typer.Argument(..., help="Phụ lục kế hoạch: tệp .xlsx hoặc .csv"),
    sheet: str | None = typer.Option(None, "--sheet", help="Chỉ kiểm tra trang này (mặc định: mọi trang)"),
    amount_columns: str | None = typer.Option(
        None, "--amount-columns", help='Các cột kinh phí, ví dụ "NSĐP,NSTW" (mặc định: tự nhận ra)'
    ),
    unit: str | None = typer.Option(None, "--unit", help="dong | trieu | ty, khi tệp không ghi đơn vị tính"),
    as_json: bool = typer.Option(False, "--json", help="In báo cáo dạng JSON"),
    lang: str = typer.Option("vi", "--lang", help="vi | en"),
) -> None:
    """Kiểm tra các dòng tổng của phụ lục kế hoạch (xem docs/check-plan.md). Mã thoát: 0 khớp, 1 có chỗ
    không khớp, 2 không đọc được tệp hoặc không thấy bảng."""
    import json

    from tasks.consolidation.totals_check import check_plan_file
    from tasks.consolidation.totals_report import PlanCheckError
    from templates import error_text

    if lang not in ("vi", "en"):
        typer.echo(error_text("plan_check", "bad_lang", "vi", lang=lang), err=True)
        raise typer.Exit(2)
    try:
        report = check_plan_file(file, sheet=sheet, amount_columns=amount_columns, unit=unit)
    except PlanCheckError as error:
        if as_json:
            failure = {"ok": False, "exit_code": 2, "error": error.message(lang)}
            typer.echo(json.dumps(failure, ensure_ascii=False))
        typer.echo(error.message(lang), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(lang), ensure_ascii=False, indent=2))
    else:
        for line in report.lines(lang):
            typer.echo(line)
    raise typer.Exit(report.exit_code)


@app.command("decide")
def decide(
    year: int = typer.Option(..., "--year", help="Năm kế hoạch"),
    stage: str = typer.Option(..., "--stage", help="Mã bước phê duyệt đang chờ ý kiến, vd. STC"),
    decision: str = typer.Option(
        ..., "--decision", help="approve | return_for_revision | adjust | reject_items"
    ),
    approver: str = typer.Option(..., "--approver", help="Email (hoặc mã liên hệ) của người phê duyệt"),
    entered_by: str = typer.Option(
        ...,
        "--on-behalf-of",
        "--entered-by",
        help="Người nhập hộ (ghi vào nhật ký: nhập thay người phê duyệt)",
    ),
    adjust: list[str] = typer.Option([], "--adjust", help='"STT:MÃ_NGUỒN=số tiền:lý do", lặp lại được'),
    reject: list[str] = typer.Option([], "--reject", help="STT nhiệm vụ bị loại, lặp lại được"),
    unit: list[str] = typer.Option([], "--unit", help="Mã đơn vị được trả lại, lặp lại được"),
    comment: str | None = typer.Option(None, "--comment", help="Ý kiến"),
    decision_number: str | None = typer.Option(None, "--decision-number", help="Số quyết định (bước cuối)"),
    decision_date: datetime | None = typer.Option(None, "--decision-date", formats=["%Y-%m-%d"]),
    signer: str | None = typer.Option(None, "--signer", help="Người ký (bước cuối)"),
) -> None:
    """Nhập ý kiến của người phê duyệt cho bước đang chờ (thay cho biểu mẫu trên Prefect UI); được ghi
    nhận là nhập hộ. Xem docs/approval.md."""
    from plancycle.decisions import send_decision
    from tasks.approval.chain import ApprovalError
    from tasks.approval.decisions import DecisionData, parse_adjustment

    try:
        data = DecisionData(
            approver=approver,
            decision=decision,  # type: ignore[arg-type]
            comment=comment,
            return_to="units" if unit else "coordinator",
            unit_codes=unit,
            adjustments=[parse_adjustment(a) for a in adjust],
            rejected_items=reject,
            decision_number=decision_number,
            decision_date=decision_date.date() if decision_date else None,
            signer=signer,
            entered_by=entered_by,
        )
        run_name = send_decision(year=year, stage_code=stage, data=data)
    except ApprovalError as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(1) from None
    except ValueError as error:  # pydantic: an unknown decision kind and the like
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Đã gửi ý kiến cho bước {stage} tới lượt chạy «{run_name}»; xem kết quả trên Prefect UI.")


if __name__ == "__main__":
    app()
