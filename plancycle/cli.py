"""The `plancycle` command: the local stack and the coordinator's command-line tools."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import typer

from plancycle.settings import PROJECT_ROOT, get_settings

app = typer.Typer(help="Chu trình kế hoạch CNTT / chuyển đổi số của tỉnh trên Prefect.", no_args_is_help=True)
units_app = typer.Typer(help="Danh bạ đơn vị và người liên hệ.", no_args_is_help=True)
db_app = typer.Typer(help="Cơ sở dữ liệu.", no_args_is_help=True)
app.add_typer(units_app, name="units")
app.add_typer(db_app, name="db")

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
    from tasks.registry import RegistryImportError, import_registry

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


def seed_demo_if_empty() -> bool:
    """Seed the demo province (Gia Lai's units from the 2020 plan; contacts at example.org) on first run."""
    from sqlmodel import select

    from models import Unit
    from models.db import session_scope
    from tasks.registry import import_registry

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
) -> None:
    """Chạy toàn bộ hệ thống tại máy: CSDL, Prefect server, các deployment, worker. Ctrl-C để dừng."""
    from models.db import upgrade_database
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
            names = list_deployment_names(api)
        except StackError as error:
            typer.echo(f"Lỗi khởi động: {error}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"Deployments ({len(names)}): {', '.join(names)}")
        typer.echo(f"Giao diện Prefect: {api.removesuffix('/api')}")
        typer.echo("SẴN SÀNG / READY. Nhấn Ctrl-C để dừng.", color=False)
        sys.stdout.flush()
        if exit_after_ready:
            time.sleep(2)
            stack.check_alive()
            return
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        while not stopping:
            try:
                stack.check_alive()
            except StackError as error:
                typer.echo(f"Dừng vì: {error}", err=True)
                raise typer.Exit(1) from None
            time.sleep(0.5)
        typer.echo("Đang dừng…")
    typer.echo("Đã dừng.")


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
