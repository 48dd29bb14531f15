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
