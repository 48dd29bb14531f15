"""`plancycle simulate`, `check-plan` and `decide`: a rehearsal of the year, the plan's totals, an
approver's decision entered on their behalf."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from plancycle.cli.output import say
from plancycle.settings import get_settings


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
        typer.echo(say("simulation_stopped", error=error), err=True)
        raise typer.Exit(1) from None
    typer.echo(render_summary(result))
    if json_out:
        write_json(result, json_out)


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
            channel="cli",
        )
        run_name = send_decision(year=year, stage_code=stage, data=data).name
    except ApprovalError as error:
        typer.echo(error.message_vi, err=True)
        raise typer.Exit(1) from None
    except ValueError as error:  # pydantic: an unknown decision kind and the like
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(say("decision_sent", stage=stage, run_name=run_name))
