"""Checks of a running plancycle: database, Prefect API, work pool, scheduler, server log, email, links.

`plancycle up` runs them once its stack is up and prints READY only when they pass; `plancycle doctor`
runs them against any installation (production included). A check never raises: it returns what it found
and, when it failed, what to do. Texts are in ``templates/errors/stack.yaml``; secrets never appear (URLs
are printed with their passwords hidden, SMTP errors without the account).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from plancycle.settings import Settings
from templates import error_text

CATALOG = "stack"
# What a healthy Prefect server never writes: Python tracebacks and ERROR records (the scheduler's
# failures under an incompatible SQLAlchemy were both, every minute, and nothing else showed them).
LOG_ERROR = re.compile(r"Traceback \(most recent call last\)|\|\s*ERROR\s*\||^ERROR[: ]")
# The last line of a traceback: the exception that says what went wrong.
LOG_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(: |$)")


@dataclass(frozen=True)
class Check:
    """One finding: its label, whether it passed, what was seen, and what to do when it did not pass."""

    key: str
    ok: bool
    detail: str
    advice: str = ""

    @property
    def label(self) -> str:
        return both(f"label_{self.key}")


def text(key: str, locale: str, **values: object) -> str:
    return error_text(CATALOG, key, locale, **values)


def both(key: str, **values: object) -> str:
    """The Vietnamese text, then the English one when it differs."""
    vi, en = text(key, "vi", **values), text(key, "en", **values)
    return vi if vi == en else f"{vi} / {en}"


RETRY_STATUS = {429, 502, 503, 504}


def api_request(method: str, url: str, attempts: int = 4, **kwargs: object) -> httpx.Response:
    """One HTTP call to the Prefect API, tried again after a busy answer (429, 502-504) or a dropped
    connection, as Prefect's own client does: a loaded SQLite server answers 503 now and then."""
    kwargs.setdefault("timeout", 10)
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            if attempt == attempts:
                raise
        else:
            if response.status_code not in RETRY_STATUS or attempt == attempts:
                return response
        time.sleep(attempt)
    raise AssertionError("unreachable")


def hide_password(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a database URL: print no part of it that could hold a secret
        return url.split("@")[-1]


def _short_error(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:300]


# -- database -----------------------------------------------------------------------------------------


def check_database(settings: Settings) -> Check:
    """The project's database answers and its schema is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from models.db import alembic_config, make_engine

    url = settings.resolved_database_url
    shown = hide_password(url)
    try:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        finally:
            engine.dispose()
    except Exception as exc:
        return Check(
            "database",
            False,
            both("database_unreachable", url=shown, error=_short_error(exc)),
            both("database_unreachable_fix"),
        )
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if current != head:
        return Check(
            "database",
            False,
            both("database_behind", url=shown, current=current or "∅", head=head),
            both("database_behind_fix"),
        )
    return Check("database", True, both("database_ok", url=shown, revision=head))


# -- Prefect --------------------------------------------------------------------------------------------


def _prefect_unreachable(key: str, url: str, exc: BaseException) -> Check:
    """The failed check ``key`` when the Prefect API at ``url`` did not answer."""
    detail = both("prefect_unreachable", url=url, error=_short_error(exc))
    return Check(key, False, detail, both("prefect_unreachable_fix"))


def check_prefect_api(api_url: str) -> Check:
    api = api_url.rstrip("/")
    try:
        api_request("GET", f"{api}/health", timeout=5).raise_for_status()
        version = api_request("GET", f"{api}/admin/version", timeout=5).json()
    except (httpx.HTTPError, ValueError) as exc:
        return _prefect_unreachable("prefect_api", api, exc)
    return Check("prefect_api", True, both("prefect_ok", url=api, version=version))


def online_workers(api_url: str, pool: str) -> int | None:
    """How many workers of ``pool`` are online; None when the pool does not exist."""
    api = api_url.rstrip("/")
    response = api_request("GET", f"{api}/work_pools/{pool}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    workers = api_request("POST", f"{api}/work_pools/{pool}/workers/filter", json={})
    workers.raise_for_status()
    return sum(1 for worker in workers.json() if worker.get("status") == "ONLINE")


def check_work_pool(api_url: str, pool: str, wait_seconds: float = 0) -> Check:
    """The pool exists and at least one worker polls it (waiting up to ``wait_seconds`` for one)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            count = online_workers(api_url, pool)
        except httpx.HTTPError as exc:
            return _prefect_unreachable("work_pool", api_url, exc)
        if count is None:
            missing = both("pool_missing", pool=pool)
            return Check("work_pool", False, missing, both("pool_missing_fix", pool=pool))
        if count > 0:
            return Check("work_pool", True, both("pool_ok", pool=pool, workers=count))
        if time.monotonic() >= deadline:
            return Check(
                "work_pool", False, both("pool_no_worker", pool=pool), both("pool_no_worker_fix", pool=pool)
            )
        time.sleep(1)


def scheduled_deployments(api_url: str) -> list[dict]:
    """Deployments that the scheduler must serve: not paused, with at least one active schedule."""
    response = api_request("POST", f"{api_url.rstrip('/')}/deployments/filter", json={})
    response.raise_for_status()
    return [
        deployment
        for deployment in response.json()
        if not deployment.get("paused")
        and any(schedule.get("active", True) for schedule in deployment.get("schedules") or [])
    ]


def scheduled_run_count(api_url: str, deployment_id: str) -> int:
    """Flow runs of one deployment in state Scheduled: what the scheduler service has put on the server."""
    response = api_request(
        "POST",
        f"{api_url.rstrip('/')}/flow_runs/count",
        json={
            "deployments": {"id": {"any_": [deployment_id]}},
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
        },
    )
    response.raise_for_status()
    return int(response.json())


def check_scheduler(api_url: str, wait_seconds: float = 0) -> Check:
    """Every scheduled deployment has scheduled runs, waiting up to ``wait_seconds`` for the scheduler.

    The Prefect server schedules a new or changed deployment within seconds (its "recent deployments"
    loop) and every deployment each minute; a deployment without any scheduled run after that means the
    scheduler service is failing, which it does silently as far as the UI is concerned."""
    deadline = time.monotonic() + wait_seconds
    started = time.monotonic()
    while True:
        try:
            deployments = scheduled_deployments(api_url)
            missing = sorted(d["name"] for d in deployments if scheduled_run_count(api_url, d["id"]) == 0)
        except httpx.HTTPError as exc:
            return _prefect_unreachable("scheduler", api_url, exc)
        if not deployments:
            return Check("scheduler", False, both("scheduler_none"), both("scheduler_none_fix"))
        if not missing:
            names = ", ".join(sorted(d["name"] for d in deployments))
            return Check("scheduler", True, both("scheduler_ok", count=len(deployments), names=names))
        if time.monotonic() >= deadline:
            return Check(
                "scheduler",
                False,
                both(
                    "scheduler_missing",
                    seconds=round(time.monotonic() - started),
                    names=", ".join(missing),
                ),
                both("scheduler_missing_fix"),
            )
        time.sleep(2)


# A record of the Prefect server's log starts with its time: "18:47:05.530 | ERROR   | prefect.server - …";
# the lines of a traceback follow their record.
LOG_RECORD = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d+ \|")
# SQLite answers "database is locked" when two writers meet (the Prefect server on SQLite, under load):
# Prefect's client and worker retry the request, nothing is lost. Not a fault, but worth knowing about.
SQLITE_LOCKED = "database is locked"


@dataclass(frozen=True)
class LogErrors:
    """The errors of a Prefect server log: each as its most telling line (the exception a traceback ends
    with, else the record), how many were SQLite's transient lock contention, and the byte offset read up
    to (where the next reading starts)."""

    faults: list[str]
    transient: int
    end: int


def log_errors(path: Path, offset: int = 0) -> LogErrors:
    """The errors in a Prefect server log from byte ``offset``: every record at level ERROR, and every
    traceback, grouped with the lines that follow their record."""
    if not path.exists():
        return LogErrors([], 0, offset)
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    chunks: list[list[str]] = []
    for line in lines:
        if LOG_RECORD.match(line) or not chunks:
            chunks.append([line])
        else:
            chunks[-1].append(line)
    faults, transient = [], 0
    for chunk in chunks:
        if not any(LOG_ERROR.search(line) for line in chunk):
            continue
        if any(SQLITE_LOCKED in line for line in chunk):
            transient += 1
            continue
        exceptions = [line.strip() for line in chunk if LOG_EXCEPTION.match(line)]
        faults.append((exceptions[-1] if exceptions else chunk[0].strip())[:300])
    return LogErrors(faults, transient, offset + len(data))


def check_server_log(path: Path, offset: int = 0) -> Check:
    """No error in the server's log from byte ``offset``; SQLite's transient lock contention is counted,
    not failed."""
    return server_log_check(path, log_errors(path, offset))


def server_log_check(path: Path, found: LogErrors) -> Check:
    """The check for errors already read from ``path``."""
    if found.faults:
        detail = both("log_errors", path=path, count=len(found.faults), first=found.faults[0])
        return Check("server_log", False, detail, both("log_errors_fix"))
    if found.transient:
        return Check("server_log", True, both("log_contention", path=path, count=found.transient))
    return Check("server_log", True, both("log_ok", path=path))


# -- email and links ------------------------------------------------------------------------------------


def check_email(settings: Settings) -> Check:
    """Without an SMTP URL: where the outbox is. With one: connect, STARTTLS and log in, send nothing."""
    if settings.smtp_url is None:
        outbox = settings.resolved_outbox_dir
        return Check("email", True, both("email_outbox", email=outbox / "email", zalo=outbox / "zalo"))
    from tasks.notify.channels import smtp_plugin_arguments
    from tasks.notify.email import email_plugin

    try:
        parsed = smtp_plugin_arguments(settings)
    except ValueError:
        return Check("email", False, both("email_bad_url"), both("email_failed_fix"))
    host, port = parsed.get("host", "?"), parsed.get("port") or "?"
    try:
        plugin = email_plugin(parsed, None)
        host, port = plugin.smtp_host or host, plugin.port or port
        connection = plugin.connect()
        try:
            connection.noop()
        finally:
            connection.close()
    except Exception as exc:
        from tasks.notify.redact import redact, secret_values

        error = redact(_short_error(exc), secret_values(settings.smtp_url))
        return Check(
            "email", False, both("email_failed", host=host, port=port, error=error), both("email_failed_fix")
        )
    return Check("email", True, both("email_ok", host=host, port=port))


def check_public_url(settings: Settings) -> Check:
    """The links units receive reach a portal (its /healthz) from this machine."""
    url = settings.resolved_public_base_url
    portal = settings.local_portal_url
    if not settings.public_base_url:
        return Check("public_url", True, both("public_url_default", url=url))
    try:
        response = httpx.get(f"{url}/healthz", timeout=5, follow_redirects=True)
        response.raise_for_status()
        if response.json().get("status") != "ok":
            raise ValueError(f"/healthz: {response.text[:100]}")
    except (httpx.HTTPError, ValueError) as exc:
        return Check(
            "public_url",
            False,
            both("public_url_unreachable", url=url, error=_short_error(exc)),
            both("public_url_unreachable_fix", portal=portal),
        )
    return Check("public_url", True, both("public_url_ok", url=url))


# -- together -------------------------------------------------------------------------------------------


def run_checks(
    settings: Settings,
    api_url: str,
    *,
    server_log: Path | None = None,
    server_log_offset: int = 0,
    wait_seconds: float = 0,
    check_links: bool = True,
) -> list[Check]:
    """Every check, in the order a problem should be fixed; the Prefect-side ones only if the API answers."""
    checks = [check_database(settings), check_prefect_api(api_url)]
    if checks[-1].ok:
        checks.append(check_work_pool(api_url, settings.work_pool, wait_seconds=min(wait_seconds, 60)))
        checks.append(check_scheduler(api_url, wait_seconds=wait_seconds))
    if server_log is not None:
        checks.append(check_server_log(server_log, server_log_offset))
    checks.append(check_email(settings))
    if check_links:
        checks.append(check_public_url(settings))
    return checks


def report(checks: list[Check], echo: Callable[[str], None]) -> bool:
    """Print one line per check (and what to do under a failed one); True when all passed."""
    for check in checks:
        mark = "OK " if check.ok else "LỖI"
        echo(f"[{mark}] {check.label}: {check.detail}")
        if not check.ok and check.advice:
            echo(f"      {both('what_to_do')}: {check.advice}")
    return all(check.ok for check in checks)
