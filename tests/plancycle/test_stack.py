"""`plancycle up` for real, as a new user starts it: its own Prefect server process (not the test harness),
prefect.yaml deployed, a process worker. The server's scheduler must put runs on every scheduled
deployment, a deployment due within the minute must be run by the worker with nobody triggering it, a
triggered deployment runs against the stack's database, the server log holds no traceback, and Ctrl-C
stops everything.

This is the test that an install with an incompatible library (SQLAlchemy 2.1 under Prefect 3.8/3.9: the
scheduler fails every minute, silently) cannot pass: `plancycle up` prints NOT READY and no run is ever
scheduled."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
import yaml
from sqlmodel import Session, create_engine, select

from models import Unit
from plancycle.settings import PROJECT_ROOT

pytestmark = pytest.mark.stack

READY = "SẴN SÀNG / READY"
NOT_READY = "NOT READY"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(process: subprocess.Popen[str], log: list[str], timeout: float) -> None:
    """Read the command's output until READY; fail at NOT READY, at exit or after ``timeout``."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            log.append(line)
            if NOT_READY in line:
                break
            if READY in line:
                return
        elif process.poll() is not None:
            break
    raise AssertionError(f"no {READY!r} in output:\n{''.join(log)}")


def _api(method: str, url: str, **kwargs: object) -> httpx.Response:
    """A call to the stack's Prefect API; a busy SQLite server may answer 503 for a moment (Prefect's own
    client retries those too), so 5xx and dropped connections are tried again a few times."""
    for attempt in range(1, 6):
        try:
            response = httpx.request(method, url, timeout=10, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            if attempt == 5:
                raise
        else:
            if response.status_code < 500 or attempt == 5:
                response.raise_for_status()
                return response
        time.sleep(attempt)
    raise AssertionError("unreachable")


def _server_errors(log: str) -> list[str]:
    """Each ERROR record or traceback of a Prefect server log, with the lines that follow it, except
    SQLite's "database is locked": two writers met on the server's SQLite file under load, and Prefect's
    client and worker retried (a fault of the machine's load, not of the stack)."""
    records = re.split(r"\n(?=\d{2}:\d{2}:\d{2}\.\d+ \|)", log)
    failing = [r for r in records if "| ERROR" in r or "Traceback (most recent call last)" in r]
    return [r[:3000] for r in failing if "database is locked" not in r]


def _scheduled_deployment_names() -> set[str]:
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {
        deployment["name"]
        for deployment in config["deployments"]
        if any(schedule.get("active", True) for schedule in deployment.get("schedules") or [])
    }


def _deployment(api: str, name: str) -> dict:
    response = _api("POST", f"{api}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}})
    (deployment,) = response.json()
    return deployment


def _flow_runs(api: str, deployment_id: str, state: str | None = None) -> list[dict]:
    body: dict = {"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    if state:
        body["flow_runs"] = {"state": {"type": {"any_": [state]}}}
    return _api("POST", f"{api}/flow_runs/filter", json=body).json()


def _wait_until(what: str, probe, timeout: float, every: float = 1.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _deploy_every_minute(api: str, tmp_path: Path, env: dict[str, str]) -> str:
    """prefect.yaml's send-reminders, deployed under another name with a cron firing every minute."""
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    (reminders,) = [d for d in config["deployments"] if d["name"] == "send-reminders"]
    reminders = {**reminders, "name": "send-reminders-every-minute"}
    reminders["schedules"] = [{"cron": "* * * * *", "timezone": "Asia/Ho_Chi_Minh", "active": True}]
    config["deployments"] = [reminders]
    prefect_file = tmp_path / "prefect-every-minute.yaml"
    prefect_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    deployed = subprocess.run(
        [
            str(Path(sys.executable).with_name("prefect")),
            "--no-prompt",
            "deploy",
            "--prefect-file",
            str(prefect_file),
            "--all",
        ],
        cwd=PROJECT_ROOT,
        env={**env, "PREFECT_API_URL": api, "PLANCYCLE_PROJECT_DIR": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    return _deployment(api, "send-reminders-every-minute")["id"]


def _run_deployment(api: str, name: str, parameters: dict) -> dict:
    """Trigger a deployment through the API, as the UI's Run button does; the finished run."""
    deployment = _deployment(api, name)["id"]
    created = _api("POST", f"{api}/deployments/{deployment}/create_flow_run", json={"parameters": parameters})
    run_id = created.json()["id"]

    def finished() -> dict | None:
        run = _api("GET", f"{api}/flow_runs/{run_id}").json()
        return run if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    return _wait_until(f"{name} finishing", finished, timeout=180)


def test_up_schedules_runs_that_the_worker_runs_unattended(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    prefect_port = _free_port()
    # Nothing of the test session's own Prefect or database settings: the stack starts its own.
    inherited = ("PLANCYCLE_DATABASE_URL", "PLANCYCLE_PREFECT_API_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k not in inherited}
    env.update(
        {
            "PLANCYCLE_DATA_DIR": str(data_dir),
            "PLANCYCLE_PREFECT_PORT": str(prefect_port),
            "PLANCYCLE_PORTAL_PORT": str(_free_port()),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
        }
    )
    api = f"http://127.0.0.1:{prefect_port}/api"
    process = subprocess.Popen(
        [sys.executable, "-m", "plancycle.cli", "up"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    try:
        _wait_for(process, log, timeout=300)
        output = "".join(log)
        assert "Đã tạo dữ liệu mẫu" in output
        assert f"Prefect API: {api}" in output  # its own server, not one found elsewhere
        assert str(data_dir / "outbox" / "email") in output  # where messages land
        portal = next(line for line in log if "Cổng tiếp nhận" in line).split(": ", 1)[1].strip()
        assert portal == f"http://127.0.0.1:{env['PLANCYCLE_PORTAL_PORT']}"
        assert httpx.get(f"{portal}/healthz", timeout=5).json() == {"status": "ok"}

        # Every deployment prefect.yaml schedules has runs waiting on the server, in the future.
        now = datetime.now(UTC)
        for name in sorted(_scheduled_deployment_names()):
            runs = _flow_runs(api, _deployment(api, name)["id"], state="SCHEDULED")
            assert runs, f"{name}: no scheduled run on the server"
            first = datetime.fromisoformat(runs[0]["expected_start_time"])
            assert first > now, (name, first)
            assert all(run["auto_scheduled"] for run in runs), name

        # A deployment due within the minute: the scheduler creates its run, the worker runs it.
        every_minute = _deploy_every_minute(api, tmp_path, env)
        completed = _wait_until(
            "a run of send-reminders-every-minute reaching Completed",
            lambda: _flow_runs(api, every_minute, state="COMPLETED"),
            timeout=150,
            every=2,
        )
        assert completed[0]["auto_scheduled"] is True  # put there by the scheduler, not by anyone
        assert completed[0]["name"].startswith("nhắc hạn ngày")

        # Deployments triggered through the API run in the worker against the stack's database.
        new_units = tmp_path / "them-don-vi.csv"
        new_units.write_text("ma_dinh_danh,ten,loai\nSDL,Sở Du lịch,so_ban_nganh\n", encoding="utf-8")
        run = _run_deployment(api, "import-units", {"files": [str(new_units)]})
        assert run["state"]["type"] == "COMPLETED", run["state"]
        engine = create_engine(f"sqlite:///{data_dir / 'plancycle.db'}")
        with Session(engine) as session:
            codes = {u.code for u in session.exec(select(Unit))}
        engine.dispose()
        assert "SDL" in codes and "SKHCN" in codes

        # The call's link follows the portal's port (PLANCYCLE_PUBLIC_BASE_URL unset) and opens its page.
        year = datetime.now().year + 1
        call = {
            "year": year,
            "submission_deadline": f"{year - 1}-12-28",
            "units": "Theo danh sách mã đơn vị",  # the words the run form offers: the schema Prefect checks
            "unit_codes": ["VPUBND"],
        }
        run = _run_deployment(api, "open-cycle", call)
        assert run["state"]["type"] == "COMPLETED", run["state"]
        (email,) = (data_dir / "outbox" / "email").glob("*.eml")
        message = BytesParser(policy=policy.default).parsebytes(email.read_bytes())
        body = message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"http://\S+/u/[\w.-]+", body)
        assert link is not None and link.group(0).startswith(f"{portal}/u/"), body
        page = httpx.get(link.group(0), timeout=10)
        assert page.status_code == 200 and "Văn phòng Ủy ban nhân dân tỉnh" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=60)
        log.append(remaining or "")
    assert process.returncode == 0, "".join(log)
    assert "Đã dừng." in "".join(log)
    server_log = (data_dir / "logs" / "prefect-server.log").read_text(encoding="utf-8", errors="replace")
    assert not _server_errors(server_log), _server_errors(server_log)[0]


def test_prefect_yaml_lists_every_flow_module() -> None:
    """Each flow module in flows/ has its deployment in prefect.yaml (one source of truth)."""
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    entry_files = {d["entrypoint"].split(":")[0] for d in config["deployments"]}
    modules = {f"flows/{p.name}" for p in (PROJECT_ROOT / "flows").glob("*.py") if p.name != "__init__.py"}
    assert modules <= entry_files, modules - entry_files


def test_prefect_yaml_schedules_the_unattended_work() -> None:
    """The inbox, the reminders and the progress requests run on their own: their schedules are set."""
    expected = {"collect-submissions", "send-reminders", "request-progress-reports"}
    assert _scheduled_deployment_names() == expected


def test_every_run_form_field_has_a_vietnamese_label() -> None:
    """The schema `prefect deploy` stores for each deployment (built from the flow's signature, as the
    Prefect UI's run form reads it): no field is labelled with its Python name, and limits travel with it."""
    from prefect.utilities.callables import parameter_schema_from_entrypoint

    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    for deployment in config["deployments"]:
        schema = parameter_schema_from_entrypoint(deployment["entrypoint"])
        untitled = [name for name, field in schema.properties.items() if field.get("title") == name]
        assert not untitled, (deployment["name"], untitled)
    year = parameter_schema_from_entrypoint("flows/open_cycle.py:open_cycle").properties["year"]
    assert (year["title"], year["minimum"], year["maximum"]) == ("Năm kế hoạch", 2000, 2100)
