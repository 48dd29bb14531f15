"""Shared fixtures: a real migrated database per test (SQLite by default, PostgreSQL when
``PLANCYCLE_TEST_DATABASE_URL`` is set) and one Prefect test harness for the whole session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

import models  # noqa: F401
from models.db import get_engine, make_engine, upgrade_database
from plancycle.settings import get_settings

TEST_DATABASE_URL = os.environ.get("PLANCYCLE_TEST_DATABASE_URL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def _migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Run the real Alembic migrations once: into a template SQLite file, or the PostgreSQL test database."""
    if TEST_DATABASE_URL:
        upgrade_database(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    template = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    upgrade_database(f"sqlite:///{template}")
    return str(template)


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def db_url(_migrated_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated, empty database for one test, wired into the settings the code reads."""
    if TEST_DATABASE_URL:
        _truncate_all(TEST_DATABASE_URL)
        url = TEST_DATABASE_URL
    else:
        target = tmp_path / "plancycle.db"
        shutil.copy(_migrated_database, target)
        url = f"sqlite:///{target}"
    monkeypatch.setenv("PLANCYCLE_DATABASE_URL", url)
    monkeypatch.setenv("PLANCYCLE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield url
    get_engine(url).dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with Session(get_engine(db_url), expire_on_commit=False) as db_session:
        yield db_session


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One real Prefect API (server in a subprocess, temporary database) for every test that needs it."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())
