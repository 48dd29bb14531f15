"""Prefect task wrappers around the unit registry import."""

from __future__ import annotations

from pathlib import Path

import fsspec
from prefect import task
from prefect.artifacts import create_markdown_artifact

from models.db import session_scope
from tasks.registry.directory import RegistryImportError, RegistryImportResult, import_registry
from templates import environment


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
        body = environment().get_template("reports/registry_import.md.j2").render(result=None, error=error)
        create_markdown_artifact(body, key="registry-import", description="Nhập danh bạ đơn vị: lỗi")
        raise
    body = environment().get_template("reports/registry_import.md.j2").render(result=result, error=None)
    create_markdown_artifact(body, key="registry-import", description="Nhập danh bạ đơn vị")
    return result
