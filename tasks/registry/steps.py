"""Prefect task wrappers around the unit registry import."""

from __future__ import annotations

from pathlib import Path

import fsspec
from prefect import get_run_logger, task

from models.db import session_scope
from tasks.artifacts import publish_markdown
from tasks.registry.directory import RegistryImportError, RegistryImportResult, import_registry
from templates import load_yaml


def texts() -> dict:
    """The import's run texts from ``templates/reports/registry.vi.yaml``."""
    return load_yaml("reports/registry.vi.yaml")


def _local_copy(url: str, folder: Path) -> Path:
    """Files may be given as any fsspec URL (local path, s3://, sftp://…); the import reads local files."""
    if "://" not in url:
        return Path(url)
    target = folder / Path(url.rsplit("/", 1)[-1]).name
    with fsspec.open(url, "rb") as source, target.open("wb") as sink:
        sink.write(source.read())
    return target


@task(name="nhập danh bạ đơn vị")
def import_registry_files(urls: list[str], actor: str, workdir: Path) -> RegistryImportResult:
    """Import units and contacts in one transaction and publish a summary artifact; on bad input, publish
    every problem (file, row, column) and fail without writing anything."""
    paths = [_local_copy(url, workdir) for url in urls]
    try:
        with session_scope() as session:
            result = import_registry(session=session, paths=paths, actor=actor)
    except RegistryImportError as error:
        _publish("failed", result=None, error=error)
        raise
    _publish("imported", result=result, error=None)
    return result


def _publish(
    description: str, *, result: RegistryImportResult | None, error: RegistryImportError | None
) -> None:
    publish_markdown(
        "reports/registry_import.md.j2",
        key="registry-import",
        description=texts()["artifacts"][description],
        result=result,
        error=error,
    )


def log_import(result: RegistryImportResult) -> None:
    """What the import did, in the run's log."""
    get_run_logger().info(texts()["log"]["imported"].format(result=result.model_dump()))
