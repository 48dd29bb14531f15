"""`plancycle doctor` as an administrator runs it: a process, its exit code and what it prints, against a
real database, a real Prefect API, a real SMTP server on loopback and a dead one. (The scheduler check on
a real scheduler is exercised by tests/plancycle/test_stack.py, where `plancycle up` runs the same checks.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from plancycle.settings import PROJECT_ROOT
from tests.notify.servers import SmtpServer, free_port

pytestmark = pytest.mark.prefect


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "doctor", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _env(db_url: str, prefect_api: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANCYCLE_")}
    env.update(
        {
            "PLANCYCLE_ENV": "test",
            "PLANCYCLE_DATABASE_URL": db_url,
            "PLANCYCLE_DATA_DIR": str(tmp_path / "data"),
            "PLANCYCLE_PREFECT_API_URL": prefect_api,
            "PLANCYCLE_WORK_POOL": f"doctor-{free_port()}",
        }
    )
    env.update(extra)
    return env


def _line(output: str, label: str) -> str:
    return next(line for line in output.splitlines() if label in line)


def test_doctor_names_each_problem_and_what_to_do(db_url: str, prefect_api: str, tmp_path: Path) -> None:
    smtp = SmtpServer().start()
    try:
        env = _env(
            db_url,
            prefect_api,
            tmp_path,
            PLANCYCLE_SMTP_URL=smtp.url,
            PLANCYCLE_PUBLIC_BASE_URL=f"http://127.0.0.1:{free_port()}",
        )
        pool = env["PLANCYCLE_WORK_POOL"]
        result = _doctor(env)
        out = result.stdout
        assert result.returncode == 1, out + result.stderr
        assert _line(out, "Cơ sở dữ liệu").startswith("[OK ]")
        assert _line(out, "Prefect API:").startswith("[OK ]")
        assert "Prefect 3." in _line(out, "Prefect API:")
        email = _line(out, "Gửi thư")
        assert email.startswith("[OK ]") and f"127.0.0.1:{smtp.port}" in email
        assert smtp.received == []  # the check logs in and leaves: nothing is sent
        links = _line(out, "Đường dẫn gửi đơn vị")
        assert links.startswith("[LỖI]") and "PLANCYCLE_PUBLIC_BASE_URL" in links
        pool_line = _line(out, "Nhóm worker")
        assert pool_line.startswith("[LỖI]") and pool in pool_line
        assert f"prefect work-pool create {pool} --type process" in out
        assert "kiểm tra không đạt" in result.stderr

        # The pool exists but nobody polls it: every run would wait forever.
        created = httpx.post(f"{prefect_api}/work_pools/", json={"name": pool, "type": "process"})
        assert created.status_code == 201, created.text
        out = _doctor(env).stdout
        assert "không có worker nào đang chạy" in _line(out, "Nhóm worker")
        assert f"prefect worker start --pool {pool}" in out
    finally:
        smtp.stop()


def test_doctor_hides_the_smtp_password_and_sees_a_stale_schema(prefect_api: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    env = _env(
        f"sqlite:///{empty}",
        prefect_api,
        tmp_path,
        PLANCYCLE_SMTP_URL=f"mailto://officer:S3cret-pass@127.0.0.1:{free_port()}?mode=insecure",
    )
    result = _doctor(env)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    database = _line(out, "Cơ sở dữ liệu")
    assert database.startswith("[LỖI]") and "plancycle db upgrade" in out
    email = _line(out, "Gửi thư")
    assert email.startswith("[LỖI]") and "127.0.0.1" in email
    assert "S3cret-pass" not in out


LOCKED = """18:47:05.530 | ERROR   | prefect.server.api.server - Encountered exception in request:
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/aiosqlite/core.py", line 63, in _connection_worker_thread
    result = function()
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked
[SQL: INSERT INTO worker (work_pool_id, name) VALUES (:work_pool_id, :name)]
18:47:06.100 | INFO    | prefect.server.services.scheduler - Scheduled 3 runs.
"""
SCHEDULER_BROKEN = """17:25:08.769 | ERROR   | docket.dependencies - schedule_recent_deployments()
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/prefect/server/models/deployments.py", line 900, in _insert
    raise exc.InvalidRequestError(
sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement; please supply a bulk_dml decorated \
function
17:25:09.001 | INFO    | uvicorn.access - 127.0.0.1 "GET /api/health HTTP/1.1" 200
"""


def test_doctor_reads_the_server_log(db_url: str, prefect_api: str, tmp_path: Path) -> None:
    """A scheduler that fails is a failed check with the exception that says why; SQLite's transient
    "database is locked" (retried by Prefect) is counted, not failed."""
    env = _env(db_url, prefect_api, tmp_path)
    busy, broken = tmp_path / "busy.log", tmp_path / "broken.log"
    busy.write_text(LOCKED, encoding="utf-8")
    broken.write_text(LOCKED + SCHEDULER_BROKEN, encoding="utf-8")
    line = _line(_doctor(env, "--server-log", str(busy)).stdout, "Nhật ký Prefect server")
    assert line.startswith("[OK ]") and "1 lần SQLite bận" in line
    out = _doctor(env, "--server-log", str(broken)).stdout
    line = _line(out, "Nhật ký Prefect server")
    assert line.startswith("[LỖI]") and "có 1 lỗi" in line
    assert "InvalidRequestError: Can't evaluate bulk DML statement" in line
