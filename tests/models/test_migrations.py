"""The migrations are the schema: they build exactly what the models declare, and they run both ways."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models  # noqa: F401
from models.db import alembic_config, make_engine


def _drift(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def test_models_and_migrations_agree_and_downgrade_cleanly(db_url: str) -> None:
    assert _drift(db_url) == []
    config = alembic_config(db_url)
    command.downgrade(config, "0001")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert not engine.dialect.has_table(conn, "itemstatusreport")
    engine.dispose()
    command.upgrade(config, "head")
    assert _drift(db_url) == []
