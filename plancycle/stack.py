"""The local stack behind `plancycle up`: migrations, demo seed, Prefect server, deployments, worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from plancycle.settings import PROJECT_ROOT, Settings


class StackError(RuntimeError):
    pass


@dataclass
class Stack:
    settings: Settings
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    api_url: str = ""
    # The log of the Prefect server this stack started, and where this start's lines begin in it.
    server_log: Path | None = None
    server_log_offset: int = 0

    @property
    def env(self) -> dict[str, str]:
        """Environment for every child: absolute data paths so flow runs see the same database and outbox."""
        env = dict(os.environ)
        env.update(
            {
                "PLANCYCLE_DATA_DIR": str(self.settings.resolved_data_dir),
                "PLANCYCLE_DATABASE_URL": self.settings.resolved_database_url,
                "PLANCYCLE_PROJECT_DIR": str(PROJECT_ROOT),
                "PREFECT_API_URL": self.api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_HOME": str(self.settings.resolved_data_dir / "prefect"),
            }
        )
        env.setdefault("PREFECT_WORKER_QUERY_SECONDS", "5")
        return env

    def _spawn(self, name: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = log.open("ab")
        process = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))
        return process

    def start_prefect(self) -> str:
        """Use the configured Prefect API when it answers; otherwise start a local server (SQLite)."""
        configured = self.settings.prefect_api_url or os.environ.get("PREFECT_API_URL")
        if configured and _healthy(configured):
            self.api_url = configured.rstrip("/")
            return self.api_url
        self.api_url = f"http://127.0.0.1:{self.settings.prefect_port}/api"
        if _healthy(self.api_url):
            return self.api_url
        logs = self.settings.resolved_data_dir / "logs"
        self.server_log = logs / "prefect-server.log"
        self.server_log_offset = log_size(self.server_log)
        server = self._spawn(
            "prefect-server",
            [_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(self.settings.prefect_port)],
            logs / "prefect-server.log",
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise StackError(f"Prefect server exited; see {logs / 'prefect-server.log'}")
            if _healthy(self.api_url):
                return self.api_url
            time.sleep(0.5)
        raise StackError("Prefect server did not become healthy within 180 s")

    def deploy(self) -> None:
        """Create the work pool if needed and deploy every flow in prefect.yaml (one source of truth)."""
        pool = self.settings.work_pool
        inspect = subprocess.run(
            [_prefect(), "work-pool", "inspect", pool], cwd=PROJECT_ROOT, env=self.env, capture_output=True
        )
        if inspect.returncode != 0:
            _run([_prefect(), "work-pool", "create", pool, "--type", "process"], self.env)
        _run([_prefect(), "--no-prompt", "deploy", "--all"], self.env)

    def start_worker(self) -> None:
        self._spawn(
            "prefect-worker",
            [_prefect(), "worker", "start", "--pool", self.settings.work_pool, "--type", "process"],
            self.settings.resolved_data_dir / "logs" / "prefect-worker.log",
        )

    def start_portal(self) -> str:
        """The submission portal (uvicorn) on the configured host and port; returns its address."""
        host, port = self.settings.portal_host, self.settings.portal_port
        portal = self._spawn(
            "portal",
            [sys.executable, "-m", "uvicorn", "portal.app:app", "--host", host, "--port", str(port)],
            self.settings.resolved_data_dir / "logs" / "portal.log",
        )
        address = self.settings.local_portal_url
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if portal.poll() is not None:
                raise StackError(
                    f"portal exited; see {self.settings.resolved_data_dir / 'logs' / 'portal.log'}"
                )
            try:
                if httpx.get(f"{address}/healthz", timeout=1).status_code == 200:
                    return address
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise StackError("portal did not start within 30 s")

    def stop(self) -> None:
        """Stop children in reverse order: SIGINT, then SIGTERM, then SIGKILL."""
        for _name, process in reversed(self.processes):
            for sig, wait in ((signal.SIGINT, 5), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                if process.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(wait)
        self.processes.clear()

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise StackError(f"{name} exited with code {process.returncode}")


def log_size(path: Path | None) -> int:
    """Bytes in a log file so far (0 when there is none yet): where the next reading starts."""
    return path.stat().st_size if path is not None and path.exists() else 0


def _prefect() -> str:
    candidate = Path(sys.executable).with_name("prefect")
    return str(candidate) if candidate.exists() else "prefect"


def _run(args: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise StackError(
            f"{' '.join(args[1:])} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def list_deployment_names(api_url: str) -> list[str]:
    from plancycle.doctor import api_request

    response = api_request("POST", f"{api_url.rstrip('/')}/deployments/filter", json={})
    response.raise_for_status()
    return sorted(d["name"] for d in response.json())


@contextlib.contextmanager
def running_stack(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings)
    try:
        yield stack
    finally:
        stack.stop()
