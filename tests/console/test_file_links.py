"""The coordinator's downloads over HTTP: a signed, expiring link per file of the data folder, served by the
portal under the file's Vietnamese name; refused when tampered, expired, signed for a unit, or pointing
outside the data folder; still valid after the signing secret is rotated; built on the public address."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from pydantic import SecretStr

from models.base import utcnow
from plancycle.settings import Settings
from portal.app import create_app
from tasks.common.file_links import file_link, issue_file_token, verify_file_token
from tasks.common.links import LinkError

SECRET = "a-test-signing-secret-of-more-than-32-characters"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        signing_secret=SecretStr(SECRET),
        public_base_url="https://kehoach.example.gov.vn/cong",
    )


@pytest.fixture
def annex(settings: Settings) -> Path:
    path = settings.resolved_data_dir / "plans" / "2027" / "KH2027_tổng-hợp_Phụ lục.xlsx"
    path.parent.mkdir(parents=True)
    workbook = Workbook()
    workbook.active.title = "Phụ lục 02"  # type: ignore[union-attr]
    workbook.save(path)
    return path


def _get(settings: Settings, url: str):  # type: ignore[no-untyped-def]
    client = TestClient(create_app(settings))
    return client.get(url.removeprefix(settings.resolved_public_base_url))


def test_a_file_link_downloads_the_file_under_its_vietnamese_name(settings: Settings, annex: Path) -> None:
    link = file_link(annex, settings=settings)
    assert link is not None and link.name == annex.name
    assert link.url.startswith("https://kehoach.example.gov.vn/cong/files/")  # behind the reverse proxy
    response = _get(settings, link.url)
    assert response.status_code == 200
    assert f"filename*=UTF-8''{quote(annex.name)}" in response.headers["content-disposition"]
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    (tmp := annex.with_name("downloaded.xlsx")).write_bytes(response.content)
    assert load_workbook(tmp).sheetnames == ["Phụ lục 02"]


def test_tampered_expired_and_missing_links_are_refused_in_vietnamese(
    settings: Settings, annex: Path
) -> None:
    token = issue_file_token(annex, settings=settings)
    payload, _, signature = token.partition(".")
    forged = issue_file_token(annex, settings=settings).replace(payload, payload[:-2] + "xx")
    response = _get(settings, f"/files/{forged}")
    assert response.status_code == 403 and "không hợp lệ" in response.text
    old = issue_file_token(
        annex, settings=settings, now=utcnow() - timedelta(days=settings.link_valid_days + 1)
    )
    response = _get(settings, f"/files/{old}")
    assert response.status_code == 403 and "hết hạn" in response.text
    annex.unlink()
    response = _get(settings, f"/files/{token}")
    assert response.status_code == 404 and "Tệp không còn" in response.text


def test_no_file_outside_the_data_folder_and_no_unit_token(
    settings: Settings, annex: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    assert file_link(outside, settings=settings) is None
    with pytest.raises(LinkError):
        issue_file_token(annex.parent / ".." / ".." / ".." / "secret.txt", settings=settings)
    # a unit link's token (same secret, another scope) never opens a file
    from tasks.common.links import _sign  # the unit links' own signature

    token = issue_file_token(annex, settings=settings)
    payload = token.partition(".")[0]
    unit_signed = f"{payload}.{_sign(payload, SECRET.encode())}"
    with pytest.raises(LinkError, match="tampered"):
        verify_file_token(unit_signed, settings=settings)


def test_links_signed_before_a_rotation_still_work(settings: Settings, annex: Path) -> None:
    token = issue_file_token(annex, settings=settings)
    rotated = settings.model_copy(
        update={
            "signing_secret": SecretStr("the-new-signing-secret-also-longer-than-32-chars"),
            "signing_secret_previous": SecretStr(SECRET),
        }
    )
    assert verify_file_token(token, settings=rotated) == annex.resolve()
    assert _get(rotated, f"/files/{token}").status_code == 200
