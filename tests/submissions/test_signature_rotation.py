"""A workbook sent before the signing secret is rotated is still recognised while the old secret is listed
in PLANCYCLE_SIGNING_SECRET_PREVIOUS, and refused as modified once it is removed (submission workbooks
here, progress workbooks in tests/progress/test_signature_rotation.py)."""

from __future__ import annotations

import pytest

from plancycle.settings import get_settings
from tasks.submissions.validation import validate_workbook
from tests.submissions.conftest import World, filled_workbook

OLD = "old-secret-" + "o" * 32
NEW = "new-secret-" + "n" * 32


def configure(monkeypatch: pytest.MonkeyPatch, secret: str, previous: str | None) -> None:
    monkeypatch.setenv("PLANCYCLE_SIGNING_SECRET", secret)
    if previous is None:
        monkeypatch.delenv("PLANCYCLE_SIGNING_SECRET_PREVIOUS", raising=False)
    else:
        monkeypatch.setenv("PLANCYCLE_SIGNING_SECRET_PREVIOUS", previous)
    get_settings.cache_clear()


def test_workbook_sent_before_rotation(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, OLD, None)
    sent = filled_workbook(world)  # signed with the old secret when the call went out

    configure(monkeypatch, NEW, OLD)
    assert validate_workbook(sent, context=world.context()).errors == []

    configure(monkeypatch, NEW, None)
    refused = validate_workbook(sent, context=world.context()).errors
    assert [issue.key for issue in refused] == ["meta_tampered"]

    configure(monkeypatch, NEW, OLD)  # a workbook issued after the rotation carries the new signature
    fresh = filled_workbook(world)
    configure(monkeypatch, NEW, None)
    assert validate_workbook(fresh, context=world.context()).errors == []
