"""Production, exercised as docs/production.md describes it: a real Prefect server on PostgreSQL (its own
database, basic auth), the project database on PostgreSQL, the commands of the compose `migrate` and
`deploy` services (read from deploy/compose.yaml), two process workers started with the compose `worker`
command like workers on other machines (own folder, own PREFECT_HOME, configured only through their
environment), deployments triggered through the Prefect API, a worker lost half-way, the results checked
in the project database, the outbox and the server's records; then `deploy/backup.sh` and a restore drill
with `deploy/restore.sh` into fresh databases.

The cheap test at the end (no database, no server) keeps deploy/ and the settings from drifting apart.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import yaml
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from models import Contact, NotificationLog, Submission, Unit
from models.db import make_engine
from models.notifications import ZaloCredential
from plancycle.settings import PROJECT_ROOT, Settings
from portal.app import MAX_UPLOAD_BYTES
from tasks.common.links import LinkError, issue_link_token, verify_link_token
from templates import error_text
from tests.factories import make_cycle, make_unit

TEST_DATABASE_URL = os.environ.get("PLANCYCLE_TEST_DATABASE_URL", "")
DEPLOY = PROJECT_ROOT / "deploy"
DEMO = PROJECT_ROOT / "plancycle" / "demo"
POOL = "plancycle"
PUBLIC_BASE_URL = "https://kehoach.example.gov.vn"
SIGNING_SECRET = "production-test-" + secrets.token_urlsafe(32)
T = TypeVar("T")

on_postgresql = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="needs PLANCYCLE_TEST_DATABASE_URL=postgresql+psycopg://… (CI's PostgreSQL stage sets it)",
)


def _wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
    """Poll ``check`` until it returns something truthy; the machine may be loaded, so be patient."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _libpq(url: str, database: str | None = None) -> str:
    """A SQLAlchemy URL as libpq (psql, pg_dump, psycopg) takes it, optionally for another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    with psycopg.connect(_libpq(TEST_DATABASE_URL, "postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _machine_environment() -> dict[str, str]:
    """What a bare machine has: no Prefect or plancycle setting from this test process leaks through."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PLANCYCLE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # prefect, plancycle
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class Machines:
    """Long-running processes, each as if on a machine of its own: its own folder (working directory,
    PREFECT_HOME, log) and only the environment it is given. Each runs in its own process group."""

    root: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        folder = self.root / name
        folder.mkdir(parents=True)
        with (folder / "output.log").open("ab") as log:
            process = subprocess.Popen(
                args,
                cwd=folder,
                env=env | {"PREFECT_HOME": str(folder / "prefect-home")},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.root / name / "output.log").read_text(encoding="utf-8", errors="replace")

    def stop(self, name: str) -> None:
        """Ctrl-C, then SIGTERM, then SIGKILL, to the whole group (a worker's flow-run children too)."""
        process = self.processes.pop(name)
        for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # anything left behind in the group

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)


@dataclass
class PrefectServer:
    api_url: str
    auth_string: str
    database_url: str  # postgresql+asyncpg://…, as PREFECT_API_DATABASE_CONNECTION_URL
    machines: Machines


@pytest.fixture
def prefect_on_postgresql(tmp_path: Path) -> Iterator[PrefectServer]:
    """`prefect server start` on a PostgreSQL database of its own, with basic auth, on a free port."""
    database = f"prefect_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{database}"')
    machines = Machines(tmp_path / "machines")
    port = _free_port()
    server = PrefectServer(
        api_url=f"http://127.0.0.1:{port}/api",
        auth_string=f"dieuphoi:{secrets.token_urlsafe(16)}",
        database_url=make_url(TEST_DATABASE_URL)
        .set(drivername="postgresql+asyncpg", database=database)
        .render_as_string(hide_password=False),
        machines=machines,
    )
    env = _machine_environment() | {
        "PREFECT_API_DATABASE_CONNECTION_URL": server.database_url,
        "PREFECT_SERVER_API_AUTH_STRING": server.auth_string,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The only departure from production: no scheduled runs (collect-submissions is hourly) may
        # reach the workers while the test runs.
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    }
    try:
        process = machines.start(
            "prefect-server",
            ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env,
        )

        def healthy() -> bool:
            assert process.poll() is None, f"server exited:\n{machines.log('prefect-server')[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{server.api_url}/health", timeout=3).status_code == 200
            return False

        _wait_for("the Prefect server's /api/health", healthy, timeout=240)
        yield server
    finally:
        machines.stop_all()
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.contextmanager
def _prefect_client(server: PrefectServer) -> Iterator[Any]:
    """A Prefect client in this process that talks to this test's server only."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: server.api_url, PREFECT_API_AUTH_STRING: server.auth_string}),
        get_client(sync_client=True) as client,
    ):
        yield client


def _run_deployment(server: PrefectServer, name: str, parameters: dict[str, Any]) -> Any:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url, PREFECT_API_AUTH_STRING: server.auth_string}):
        flow_run = run_deployment(name, parameters=parameters, timeout=600, poll_interval=1)
    assert flow_run.state is not None and flow_run.state.is_completed(), (name, flow_run.state)
    return flow_run


def _compose_command(service: str) -> list[str]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return shlex.split(compose["services"][service]["command"])


def _deployment_names() -> list[str]:
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return [d["name"] for d in config["deployments"]]


@pytest.mark.db
@on_postgresql
def test_workers_on_postgresql_run_the_deployments(
    db_url: str, tmp_path: Path, prefect_on_postgresql: PrefectServer
) -> None:
    server, machines = prefect_on_postgresql, prefect_on_postgresql.machines
    data_dir = tmp_path / "shared-data"  # the shared mount every worker and the portal have
    # What deploy/.env gives every plancycle machine (the compose file adds the two URLs).
    production = _machine_environment() | {
        "PREFECT_API_URL": server.api_url,
        "PREFECT_API_AUTH_STRING": server.auth_string,
        "PREFECT_UI_URL": "https://prefect.kehoach.example.gov.vn",
        "PLANCYCLE_ENV": "production",
        "PLANCYCLE_SIGNING_SECRET": SIGNING_SECRET,
        "PLANCYCLE_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "PLANCYCLE_DATABASE_URL": db_url,
        "PLANCYCLE_DATA_DIR": str(data_dir),
        "PLANCYCLE_PROJECT_DIR": str(PROJECT_ROOT),
    }

    # The server refuses anyone without the credentials (the UI asks for them too).
    unauthenticated = httpx.post(f"{server.api_url}/deployments/filter", json={}, timeout=10)
    assert unauthenticated.status_code == 401

    # The compose `migrate` and `deploy` services' commands, run from the checkout as in the image.
    admin_env = production | {"PREFECT_HOME": str(tmp_path / "admin-machine" / "prefect-home")}
    _run(_compose_command("migrate"), admin_env, PROJECT_ROOT)
    _run(_compose_command("deploy"), admin_env, PROJECT_ROOT)

    with _prefect_client(server) as client:
        deployments = {d.name: d for d in client.read_deployments()}
    assert sorted(deployments) == sorted(_deployment_names())
    for deployment in deployments.values():
        assert deployment.work_pool_name == POOL
        # prefect deploy resolves {{ $PLANCYCLE_PROJECT_DIR }} on the deploying machine: workers need
        # their checkout at this same path (docs/production.md).
        step = deployment.pull_steps[0]["prefect.deployments.steps.set_working_directory"]
        assert step["directory"] == str(PROJECT_ROOT)
    for scheduled in ("collect-submissions", "send-reminders", "request-progress-reports"):
        assert deployments[scheduled].schedules, scheduled

    # Two workers started with the compose `worker` command, each like a machine of its own.
    workers = ["worker-may-1", "worker-may-2"]
    for name in workers:
        machines.start(
            name,
            [*_compose_command("worker"), "--name", name],
            production | {"PREFECT_WORKER_QUERY_SECONDS": "2"},
        )

    def online() -> bool:
        for name in workers:
            process = machines.processes[name]
            assert process.poll() is None, f"{name} exited:\n{machines.log(name)[-3000:]}"
        with _prefect_client(server) as client:
            seen = {w.name for w in client.read_workers_for_work_pool(work_pool_name=POOL)}
        return set(workers) <= seen

    _wait_for("both workers to report to the server", online, timeout=180)

    def executed_by(flow_run_id: object) -> str:
        """The worker whose flow-run process ran it (its output goes to the worker's log). Both workers may
        try to take a run; the server lets one have it and tells the other to abort."""
        logs = {name: machines.log(name) for name in workers}

        def saying(text: str) -> list[str]:
            return sorted(name for name, log in logs.items() if text.format(flow_run_id) in log)

        ran, tried = saying("/runs/flow-run/{}"), saying("submitting flow run '{}'")
        assert len(ran) == 1 and ran[0] in tried, (flow_run_id, ran, tried)
        return ran[0]

    # 1. The unit registry, from the demo files.
    imported = _run_deployment(
        server,
        "import-units/import-units",
        {"files": [str(DEMO / "units.csv"), str(DEMO / "contacts.csv")]},
    )
    first_worker = executed_by(imported.id)
    demo_units = len((DEMO / "units.csv").read_text(encoding="utf-8").strip().splitlines()) - 1
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(Unit)).one() == demo_units

        # 2. That worker's machine goes down; the other one carries on.
        machines.stop(first_worker)
        opened = _run_deployment(
            server,
            "open-cycle/open-cycle",
            {
                "year": 2027,
                "submission_deadline": "2026-09-30",
                "coordinating_unit_code": "SKHCN",
                "as_of": "2026-08-03",
            },
        )
        second_worker = executed_by(opened.id)
        assert second_worker != first_worker

        with _prefect_client(server) as client:
            for flow_run, worker in ((imported, first_worker), (opened, second_worker)):
                record = client.read_flow_run(flow_run.id)
                assert record.work_pool_name == POOL and record.infrastructure_pid
                # The server's own record of who ran it, as the UI shows it in the run's logs.
                wanted = f"Worker '{worker}' submitting flow run '{flow_run.id}'"
                log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id]))
                _wait_for(
                    f"the server to hold {wanted!r}",
                    lambda f=log_filter, w=wanted: any(w in log.message for log in client.read_logs(f)),
                    timeout=60,
                )

        # 3. The cycle is in the project database on PostgreSQL, and every call in the outbox.
        with Session(engine) as session:
            requests = session.exec(select(func.count()).select_from(Submission)).one()
            sent = session.exec(
                select(func.count()).select_from(NotificationLog).where(NotificationLog.status == "sent")
            ).one()
            emails = sorted((data_dir / "outbox" / "email").glob("*.eml"))
            # 20 units and the coordinating department, which proposes too
            assert requests == 21 and sent == 21 and len(emails) == 21

            mail = message_from_bytes(emails[0].read_bytes(), policy=policy.default)
            text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            token = re.search(re.escape(PUBLIC_BASE_URL) + r"/u/([\w-]+\.[\w-]+)", text)
            assert token, text
            # The link was signed on the worker with the production secret from its environment.
            grant = verify_link_token(
                session=session,
                token=token.group(1),
                settings=Settings(env="production", signing_secret=SIGNING_SECRET),  # type: ignore[arg-type]
            )
            contact = session.exec(select(Contact).where(Contact.email == mail["To"].addresses[0].addr_spec))
            assert grant.unit_id == contact.one().unit_id
            other_secret = Settings(signing_secret="another-secret-" + "x" * 32)  # type: ignore[arg-type]
            with pytest.raises(LinkError):
                verify_link_token(session=session, token=token.group(1), settings=other_secret)
    finally:
        engine.dispose()

    # 4. Backup, then the restore drill into fresh databases and a fresh data folder.
    _backup_and_restore_drill(server, db_url, data_dir, tmp_path)


def _count(url: str, table: str) -> int:
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _backup_and_restore_drill(server: PrefectServer, db_url: str, data_dir: Path, tmp_path: Path) -> None:
    backup_env = _machine_environment() | {
        "PLANCYCLE_DATABASE_URL": db_url,
        "PREFECT_API_DATABASE_CONNECTION_URL": server.database_url,
        "PLANCYCLE_DATA_DIR": str(data_dir),
    }
    printed = _run(["bash", str(DEPLOY / "backup.sh"), str(tmp_path / "backups")], backup_env, tmp_path)
    folder = Path(printed.strip().splitlines()[-1])  # the script prints the folder it wrote
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS",
        "data.tar.gz",
        "plancycle.dump",
        "prefect.dump",
    ]

    suffix = f"restore_{os.getpid()}"
    project_copy = make_url(db_url).set(database=f"plancycle_{suffix}").render_as_string(hide_password=False)
    prefect_copy = (
        make_url(server.database_url).set(database=f"prefect_{suffix}").render_as_string(hide_password=False)
    )
    restored_data = tmp_path / "restored-data"
    try:
        for url in (project_copy, prefect_copy):
            _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
            _admin(f'CREATE DATABASE "{make_url(url).database}"')
        restore_env = backup_env | {
            "PLANCYCLE_DATABASE_URL": project_copy,
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_copy,
            "PLANCYCLE_DATA_DIR": str(restored_data),
        }
        _run(["bash", str(DEPLOY / "restore.sh"), str(folder)], restore_env, tmp_path)

        for table in ("unit", "contact", "submission", "notificationlog", "accesslink", "alembic_version"):
            assert _count(project_copy, table) == _count(db_url, table) > 0, table
        for table in ("deployment", "work_pool"):
            assert _count(prefect_copy, table) == _count(server.database_url, table) > 0, table
        # The server keeps running after the backup: it may have written more logs and scheduled more runs
        # since. The snapshot holds what existed when it was taken, never more than there is now.
        for table in ("flow_run", "log"):
            assert 0 < _count(prefect_copy, table) <= _count(server.database_url, table), table
        assert _files(restored_data) == _files(data_dir)
    finally:
        for url in (project_copy, prefect_copy):
            _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.mark.db
@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_portal_behind_the_proxy(db_url: str, session: Session, tmp_path: Path) -> None:
    """deploy/Caddyfile in front of the portal started with the compose command: a unit's link opens its
    page through the proxy, and a workbook over the portal's limit gets the portal's own answer."""
    settings = Settings(env="production", signing_secret=SIGNING_SECRET)  # type: ignore[arg-type]
    unit, cycle = make_unit(session), make_cycle(session)
    token = issue_link_token(session=session, unit=unit, cycle=cycle, settings=settings)
    session.commit()

    machines = Machines(tmp_path / "machines")
    portal_port, proxy_port, ui_port = _free_port(), _free_port(), _free_port()
    portal_command = [
        {"0.0.0.0": "127.0.0.1", "8080": str(portal_port)}.get(arg, arg) for arg in _compose_command("portal")
    ]
    # The compose service names become loopback addresses; everything else is the file as shipped.
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(
        (DEPLOY / "Caddyfile")
        .read_text(encoding="utf-8")
        .replace("portal:8080", f"127.0.0.1:{portal_port}")
        .replace("prefect-server:4200", f"127.0.0.1:{_free_port()}"),
        encoding="utf-8",
    )
    env = _machine_environment() | {
        "PLANCYCLE_ENV": "production",
        "PLANCYCLE_SIGNING_SECRET": SIGNING_SECRET,
        "PLANCYCLE_DATABASE_URL": db_url,
        "PLANCYCLE_DATA_DIR": str(tmp_path / "data"),
        "PORTAL_DOMAIN": f"http://127.0.0.1:{proxy_port}",
        "PREFECT_DOMAIN": f"http://127.0.0.1:{ui_port}",
        "HOME": str(tmp_path / "caddy-home"),
    }
    proxy = f"http://127.0.0.1:{proxy_port}"
    try:
        machines.start("portal", portal_command, env)
        machines.start("proxy", ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"], env)

        def through_proxy() -> bool:
            for name, process in machines.processes.items():
                assert process.poll() is None, f"{name} exited:\n{machines.log(name)[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{proxy}/healthz", timeout=3).status_code == 200
            return False

        _wait_for("the portal through the proxy", through_proxy, timeout=120)
        page = httpx.get(f"{proxy}/u/{token}", timeout=30)
        assert page.status_code == 200 and unit.name in page.text
        too_large = httpx.post(
            f"{proxy}/u/{token}/upload",
            files={"file": ("de-xuat.xlsx", b"x" * (MAX_UPLOAD_BYTES + 2 * 1024 * 1024))},
            timeout=60,
        )
        # the portal's own answer (the proxy's limit is higher), in the unit's language
        assert too_large.status_code == 413 and error_text("portal", "too_large") in too_large.text
    finally:
        machines.stop_all()


def test_save_zalo_tokens_stores_the_refresh_token_unprinted(db_url: str, tmp_path: Path) -> None:
    token = "zalo-refresh-" + secrets.token_urlsafe(24)
    env = _machine_environment() | {
        "PLANCYCLE_DATABASE_URL": db_url,
        "PLANCYCLE_DATA_DIR": str(tmp_path / "data"),
        "PLANCYCLE_ZALO_APP_ID": "4321",
    }
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "save-zalo-tokens.py")],
        input=token + "\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "4321" in done.stdout and token not in done.stdout + done.stderr
    engine = make_engine(db_url)
    with Session(engine) as session:
        row = session.exec(select(ZaloCredential)).one()
    engine.dispose()
    assert (row.app_id, row.refresh_token, row.access_token) == ("4321", token, None)


# --- Always on: deploy/ agrees with the settings, prefect.yaml and the portal ---------------------------

PLANCYCLE_NAME = re.compile(r"\bPLANCYCLE_[A-Z0-9_]+\b")


def test_deploy_files_agree_with_settings_and_prefect_yaml() -> None:
    compose_text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    compose = yaml.safe_load(compose_text)
    services = compose["services"]
    for name in ("postgres", "prefect-server", "migrate", "deploy", "worker", "portal", "proxy"):
        assert name in services, name

    # Every PLANCYCLE_* variable named anywhere in deploy/ is a setting (or prefect.yaml's project dir).
    fields = {f"PLANCYCLE_{name.upper()}" for name in Settings.model_fields}
    prefect_yaml = (PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\{\{\s*\$(PLANCYCLE_[A-Z0-9_]+)\s*\}\}", prefect_yaml))
    env_example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        unknown = set(PLANCYCLE_NAME.findall(path.read_text(encoding="utf-8"))) - fields - placeholders
        assert not unknown, f"{path.relative_to(PROJECT_ROOT)} names unknown variables: {unknown}"

    # .env.example names every secret a production install must set, and the guide explains each line.
    assigned = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", env_example, flags=re.MULTILINE))
    for required in (
        "PLANCYCLE_SIGNING_SECRET",
        "PLANCYCLE_SIGNING_SECRET_PREVIOUS",
        "PLANCYCLE_PUBLIC_BASE_URL",
        "PLANCYCLE_SMTP_URL",
        "PLANCYCLE_ZALO_SECRET_KEY",
        "PLANCYCLE_TEAM_NOTIFY_URLS",
        "POSTGRES_PASSWORD",
        "PREFECT_API_AUTH_STRING",
    ):
        assert required in assigned, required
    guide = (PROJECT_ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    assert not [name for name in assigned if name not in guide]

    # The deploy service deploys every deployment of prefect.yaml: `deploy --all`, no list to forget.
    assert "deploy-flows.sh" in str(services["deploy"]["command"])
    script = (DEPLOY / "deploy-flows.sh").read_text(encoding="utf-8")
    assert "prefect --no-prompt deploy --all" in script and f"pool={POOL}" in script
    config = yaml.safe_load(prefect_yaml)
    for deployment in config["deployments"]:
        assert deployment["work_pool"]["name"] == POOL, deployment["name"]
        assert (PROJECT_ROOT / deployment["entrypoint"].split(":")[0]).is_file(), deployment["name"]
        assert deployment["name"] not in script  # deployed by --all, not by name

    # Workers and the portal reach the server and the database the same way; the portal trusts the proxy.
    for name in ("migrate", "deploy", "worker", "portal"):
        env = services[name]["environment"]
        assert "PLANCYCLE_DATABASE_URL" in env and "PREFECT_API_URL" in env, name
    assert "worker" in str(services["worker"]["command"]) and "container_name" not in services["worker"]
    assert "--proxy-headers" in services["portal"]["command"]
    assert "portal.app:app" in services["portal"]["command"]

    # The proxy lets oversize workbooks through to the portal, which answers them with its own page.
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    max_size = re.search(r"max_size\s+(\d+)MB", caddyfile)
    assert max_size and int(max_size.group(1)) * 1000 * 1000 > 2 * MAX_UPLOAD_BYTES
    assert "reverse_proxy portal:8080" in caddyfile and "reverse_proxy prefect-server:4200" in caddyfile
