"""The committed lock is what runs: both lock files agree, they satisfy pyproject.toml, every pin carries
hashes, and the environment running these tests holds exactly the locked versions (so CI, which builds its
environment from the lock, tests the packages a new user gets)."""

from __future__ import annotations

import os
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from plancycle.settings import PROJECT_ROOT

REQUIREMENTS = PROJECT_ROOT / "requirements"
# `./dev deps upgrade` runs the suite on a candidate lock before adopting it: that lock is the one to match.
CANDIDATE = os.environ.get("PLANCYCLE_LOCK")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _pins(name: str) -> dict[str, str]:
    path = REQUIREMENTS / name if CANDIDATE is None else Path(CANDIDATE).with_name(name)
    text = path.read_text(encoding="utf-8")
    return {canonicalize_name(m.group(1)): m.group(2) for line in text.splitlines() if (m := PIN.match(line))}


def test_every_pin_has_hashes() -> None:
    for name in ("dev.txt", "prod.txt"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (REQUIREMENTS / name).read_text(encoding="utf-8"))
        pinned = [block for block in blocks if PIN.match(block)]
        assert pinned, name
        assert all("--hash=sha256:" in block for block in pinned), name


def test_prod_is_dev_without_the_tools() -> None:
    dev, prod = _pins("dev.txt"), _pins("prod.txt")
    assert set(prod) < set(dev)
    assert {name: dev[name] for name in prod} == prod
    assert {"pytest", "ruff", "playwright"} <= set(dev) - set(prod)


def test_the_lock_satisfies_pyproject() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = _pins("dev.txt")
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
        pinned = dev.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not in the lock: run ./dev deps lock"
        assert requirement.specifier.contains(pinned, prereleases=True), (str(requirement), pinned)
    assert dev["sqlalchemy"].startswith("2.0.")  # 2.1 broke Prefect 3.8's scheduler (docs/dependencies.md)


def test_this_environment_is_the_lock() -> None:
    differing = {}
    for name, pinned in _pins("dev.txt").items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            differing[name] = (pinned, installed)
    assert not differing, f"installed differs from requirements/dev.txt (locked, installed): {differing}"


def test_the_production_lock_installs_alone_and_runs_every_entry_point(tmp_path: Path) -> None:
    """What deploy/Dockerfile and the systemd guide run: requirements/install.sh with the production lock
    into a fresh environment. Every deployment's flow, the portal and the CLI must import with it alone
    (a runtime import satisfied only by a development tool would break the image), and no development
    tool is installed."""
    import subprocess
    import sys

    import yaml

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        ["bash", str(REQUIREMENTS / "install.sh"), str(python), "prod"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    modules = sorted({d["entrypoint"].split(":")[0][:-3].replace("/", ".") for d in config["deployments"]})
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    imported = subprocess.run(
        [str(python), "-c", script, *modules, "portal.app", "plancycle.cli", "plancycle.doctor"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    cli = subprocess.run(
        [str(venv / "bin" / "plancycle"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0 and "check-plan" in cli.stdout, cli.stderr[-2000:]
    tools = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u; "
            "print([m for m in ('pytest', 'ruff', 'playwright') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tools.stdout.strip() == "[]", tools.stdout
