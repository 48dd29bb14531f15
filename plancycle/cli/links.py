"""`plancycle links …`: the units' signed links; revoking a leaked one."""

from __future__ import annotations

import typer

from plancycle.cli.output import say

links_app = typer.Typer(help="Đường dẫn riêng của các đơn vị.", no_args_is_help=True)


@links_app.command("revoke")
def links_revoke(
    unit_code: str = typer.Argument(..., help="Mã đơn vị"),
    year: int = typer.Option(..., "--year", help="Năm kế hoạch"),
) -> None:
    """Thu hồi ngay mọi đường dẫn của đơn vị cho năm kế hoạch (ví dụ đường dẫn bị lộ); lần gửi sau kèm
    đường dẫn mới."""
    from models.audit import record_audit
    from models.cycle import get_cycle_by_year
    from models.db import session_scope, upgrade_database
    from models.registry import get_unit_by_code
    from tasks.common.links import revoke_links

    upgrade_database()
    with session_scope() as session:
        cycle = get_cycle_by_year(session=session, year=year)
        unit = get_unit_by_code(session=session, code=unit_code)
        if cycle is None or unit is None or cycle.id is None or unit.id is None:
            typer.echo(say("unknown_unit", year=year, unit_code=unit_code), err=True)
            raise typer.Exit(2)
        count = revoke_links(session=session, unit_id=unit.id, cycle_id=cycle.id)
        record_audit(
            session=session,
            actor="cli",
            action="links.revoked",
            subject=unit,
            cycle=cycle,
            details={"unit_code": unit.code, "year": year, "links": count},
        )
    typer.echo(say("links_revoked", unit_code=unit.code, year=year, count=count))
