"""`plancycle units …` and `plancycle db …`: the unit directory and the database schema."""

from __future__ import annotations

from pathlib import Path

import typer

from plancycle.cli.output import say

units_app = typer.Typer(help="Danh bạ đơn vị và người liên hệ.", no_args_is_help=True)
db_app = typer.Typer(help="Cơ sở dữ liệu.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    from models.db import upgrade_database

    upgrade_database()
    typer.echo(say("db_upgraded"))


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
        typer.echo(say("units_import_failed"), err=True)
        for issue in error.issues:
            typer.echo(say("units_import_issue", file=issue.file, message=issue.message("vi")), err=True)
        raise typer.Exit(1) from None
    typer.echo(say("units_imported", **result.model_dump()))
