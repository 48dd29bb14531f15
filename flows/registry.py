"""Keep the unit registry current: import units and contacts from the province's Excel or CSV files."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from tasks.common.forms import form_field
from tasks.notify.team import OPERATOR_HOOKS
from tasks.registry.directory import RegistryImportResult
from tasks.registry.steps import import_registry_files, log_import


@flow(name="import-units", flow_run_name="nhập danh bạ đơn vị", log_prints=True, **OPERATOR_HOOKS)
def import_units(
    files: list[str] = form_field(
        title="Tệp danh bạ",
        description="Đường dẫn hoặc URL (fsspec) của tệp .xlsx / .csv đơn vị và người liên hệ",
    ),
) -> RegistryImportResult:
    """Nhập danh bạ đơn vị và người liên hệ (Excel .xlsx hoặc CSV; đường dẫn hoặc URL fsspec).

    Cả tệp được kiểm tra trước; có lỗi thì không ghi gì và báo từng lỗi theo dòng, cột.
    """
    with tempfile.TemporaryDirectory() as workdir:
        result = import_registry_files(files, actor=f"flow-run:{flow_run.get_id()}", workdir=Path(workdir))
    log_import(result)
    return result
