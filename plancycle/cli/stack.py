"""`plancycle up` and `plancycle doctor`: the local stack, its demo data and its health checks."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import typer

from plancycle.cli.output import say
from plancycle.settings import PROJECT_ROOT, SettingsError, checked_settings, get_settings

DEMO_DIR = PROJECT_ROOT / "plancycle" / "demo"


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
    chain = get_settings().approval_chain_file or get_settings().resolved_data_dir / "approval_chain.yaml"
    if not chain.exists():  # the demo chain: appraisal by Finance, then the People's Committee's decision
        chain.parent.mkdir(parents=True, exist_ok=True)
        chain.write_text((DEMO_DIR / "approval_chain.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return True


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
    from plancycle.stack import StackError, list_deployment_names, log_size, running_stack

    try:
        settings = checked_settings()
    except SettingsError as error:
        typer.echo(say("settings_invalid", error=error), err=True)
        raise typer.Exit(2) from None
    upgrade_database()
    typer.echo(say("database", url=doctor.hide_password(settings.resolved_database_url)))
    if seed and seed_demo_if_empty():
        typer.echo(say("demo_seeded"))
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    with running_stack(settings) as stack:
        try:
            api = stack.start_prefect()
            typer.echo(say("prefect_api", api=api))
            stack.deploy()
            stack.start_worker()
            portal = stack.start_portal() if start_portal else None
            names = list_deployment_names(api)
        except StackError as error:
            typer.echo(say("start_failed", error=error), err=True)
            raise typer.Exit(1) from None
        typer.echo(say("deployments", count=len(names), names=", ".join(names)))
        typer.echo(say("prefect_ui", url=api.removesuffix("/api")))
        if portal:
            typer.echo(say("portal", url=portal))
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
            typer.echo(say("ready", ready=doctor.both("ready")), color=False)
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
        log_seen, next_log_check = log_size(stack.server_log), time.monotonic() + 30
        while not stopping:
            try:
                stack.check_alive()
            except StackError as error:
                typer.echo(say("stopped_because", error=error), err=True)
                raise typer.Exit(1) from None
            if stack.server_log is not None and time.monotonic() >= next_log_check:
                # A scheduler that starts failing later is as silent as one that never worked: say so.
                found = doctor.log_errors(stack.server_log, log_seen)
                log_seen, next_log_check = found.end, time.monotonic() + 30
                if found.faults:
                    check = doctor.server_log_check(stack.server_log, found)
                    doctor.report([check], lambda line: typer.echo(line, err=True))
            time.sleep(0.5)
        typer.echo(say("stopping"))
    typer.echo(say("stopped"))


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
