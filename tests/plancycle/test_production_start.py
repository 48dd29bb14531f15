"""Production settings are checked when a process starts (issue 16, finding 6): the portal and `plancycle
up` refuse the built-in signing secret and a short previous secret, say why, and show no secret."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from plancycle.settings import PROJECT_ROOT, UNSAFE_DEV_SECRET
from tests.notify.servers import free_port

STRONG = "s" * 20 + "-production-key-0123456789"
SHORT_PREVIOUS = "zq9"


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANCYCLE_")}
    return (
        env
        | {
            "PLANCYCLE_ENV": "production",
            "PLANCYCLE_DATA_DIR": str(tmp_path / "data"),
            "PLANCYCLE_DATABASE_URL": f"sqlite:///{tmp_path / 'plancycle.db'}",
        }
        | values
    )


def _portal(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({}, "PLANCYCLE_SIGNING_SECRET"),
        ({"PLANCYCLE_SIGNING_SECRET": UNSAFE_DEV_SECRET}, "PLANCYCLE_SIGNING_SECRET"),
        (
            {
                "PLANCYCLE_SIGNING_SECRET": STRONG,
                "PLANCYCLE_SIGNING_SECRET_PREVIOUS": f"{STRONG}x,{SHORT_PREVIOUS}",
            },
            "PLANCYCLE_SIGNING_SECRET_PREVIOUS",
        ),
    ],
    ids=["no secret", "built-in secret", "short previous secret"],
)
def test_portal_refuses_to_start_on_unsafe_production_settings(
    tmp_path: Path, values: dict[str, str], said: str
) -> None:
    portal = _portal(_env(tmp_path, **values), free_port())
    try:
        output, _ = portal.communicate(timeout=60)
    finally:
        portal.kill()
    assert portal.returncode != 0
    assert said in output and "32" in output
    assert SHORT_PREVIOUS not in output and STRONG not in output


def test_portal_starts_on_safe_production_settings(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, PLANCYCLE_SIGNING_SECRET=STRONG, PLANCYCLE_SIGNING_SECRET_PREVIOUS="p" * 32)
    portal = _portal(env, port)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and portal.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert portal.poll() is None, portal.communicate()[0]
    finally:
        portal.terminate()
        portal.wait(10)


def test_up_refuses_to_start_on_a_short_previous_secret(tmp_path: Path) -> None:
    env = _env(tmp_path, PLANCYCLE_SIGNING_SECRET=STRONG, PLANCYCLE_SIGNING_SECRET_PREVIOUS=SHORT_PREVIOUS)
    done = subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "up", "--exit-after-ready"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        "PLANCYCLE_SIGNING_SECRET_PREVIOUS" in done.stderr and SHORT_PREVIOUS not in done.stderr + done.stdout
    )
    assert not (tmp_path / "plancycle.db").exists(), "nothing was started or created"
