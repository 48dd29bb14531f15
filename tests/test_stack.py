"""`plancycle up` for real: deploys prefect.yaml to a real Prefect API, starts a worker that runs a
deployment triggered through the API, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prefect.deployments import run_deployment
from sqlmodel import Session, create_engine, select

from models import Unit
from plancycle.settings import PROJECT_ROOT

pytestmark = pytest.mark.prefect


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(process: subprocess.Popen[str], marker: str, log: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            log.append(line)
            if marker in line:
                return
        elif process.poll() is not None:
            break
    raise AssertionError(f"no {marker!r} in output:\n{''.join(log)}")


def test_up_deploys_runs_a_deployment_and_stops_on_ctrl_c(prefect_api: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = dict(os.environ)
    env.update(
        {
            "PLANCYCLE_DATA_DIR": str(data_dir),
            "PLANCYCLE_PREFECT_API_URL": prefect_api,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PLANCYCLE_PORTAL_PORT": str(_free_port()),
        }
    )
    env.pop("PLANCYCLE_DATABASE_URL", None)  # the stack's own SQLite file in its data folder
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
        _wait_for(process, "READY", log, timeout=240)
        output = "".join(log)
        assert "Đã tạo dữ liệu mẫu" in output
        assert "import-units" in output
        portal = next(line for line in log if "Cổng tiếp nhận" in line).split(": ", 1)[1].strip()
        assert httpx.get(f"{portal}/healthz", timeout=5).json() == {"status": "ok"}

        new_units = tmp_path / "them-don-vi.csv"
        new_units.write_text("ma_dinh_danh,ten,loai\nSDL,Sở Du lịch,so_ban_nganh\n", encoding="utf-8")
        flow_run = run_deployment(
            "import-units/import-units", parameters={"files": [str(new_units)]}, timeout=180
        )
        assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state

        engine = create_engine(f"sqlite:///{data_dir / 'plancycle.db'}")
        with Session(engine) as session:
            codes = {u.code for u in session.exec(select(Unit))}
        engine.dispose()
        assert "SDL" in codes and "SKHCN" in codes  # the flow ran in the worker against the stack's database
    finally:
        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=60)
        log.append(remaining or "")
    assert process.returncode == 0, "".join(log)
    assert "Đã dừng." in "".join(log)


def test_prefect_yaml_lists_every_flow_module() -> None:
    """Each flow module in flows/ has its deployment in prefect.yaml (one source of truth)."""
    import yaml

    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    entry_files = {d["entrypoint"].split(":")[0] for d in config["deployments"]}
    modules = {f"flows/{p.name}" for p in (PROJECT_ROOT / "flows").glob("*.py") if p.name != "__init__.py"}
    assert modules <= entry_files, modules - entry_files
