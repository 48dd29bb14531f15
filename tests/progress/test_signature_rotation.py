"""A progress workbook sent before the signing secret is rotated is still identified while the old secret
is listed in PLANCYCLE_SIGNING_SECRET_PREVIOUS, and refused as modified once it is removed."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tasks.progress.validation import read_progress_metadata
from tests.progress.conftest import ProgressWorld, filled_report
from tests.submissions.test_signature_rotation import NEW, OLD, configure


def test_progress_workbook_sent_before_rotation(
    progress_world: ProgressWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, OLD, None)
    report = progress_world.request_q1()["SYT"]
    sent = filled_report(progress_world, report)

    configure(monkeypatch, NEW, OLD)
    identity, issues = read_progress_metadata(load_workbook(io.BytesIO(sent)))
    assert issues == [] and identity is not None and identity.report_id == report.id

    configure(monkeypatch, NEW, None)
    identity, issues = read_progress_metadata(load_workbook(io.BytesIO(sent)))
    assert identity is None and [issue.key for issue in issues] == ["meta_tampered"]
