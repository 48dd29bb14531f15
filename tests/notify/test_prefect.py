"""The Prefect task: one task per batch, a table artifact, and the team channel on failures."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from prefect import flow
from prefect.artifacts import Artifact

from models.base import DeliveryStatus
from plancycle.settings import get_settings
from tasks.notify import DeliveryPolicy, notify_team_on_flow_failure, send_batch
from tasks.notify.steps import deliver
from tests.notify.conftest import due_soon
from tests.notify.servers import FakeZalo, SmtpServer

pytestmark = pytest.mark.prefect


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, smtp: SmtpServer, zalo: FakeZalo, db_url: str) -> None:
    monkeypatch.setenv("PLANCYCLE_SMTP_URL", smtp.url)
    monkeypatch.setenv("PLANCYCLE_TEAM_NOTIFY_URLS", f"json://127.0.0.1:{zalo.port}/team")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_deliver_publishes_a_table_artifact_and_tells_the_team(
    prefect_api: str, configured: None, world: dict[str, Any], smtp: SmtpServer, zalo: FakeZalo
) -> None:
    smtp.handler.reject.add("anh@stnmt.gialai.gov.vn")

    @flow(flow_run_name="nhắc hạn thử nghiệm")
    def remind(messages: list) -> Any:
        return deliver(messages)

    result = remind([due_soon(world, "email"), due_soon(world, "en")])

    assert [d.status for d in result.deliveries] == [DeliveryStatus.sent, DeliveryStatus.failed_permanent]
    artifact = Artifact.get("notification-deliveries")
    assert artifact is not None and artifact.type == "table"
    rows = json.loads(str(artifact.data))
    assert [(r["Đơn vị"], r["Người nhận"], r["Kênh"], r["Nội dung"], r["Kết quả"]) for r in rows] == [
        ("Sở Tài nguyên và Môi trường", "Trần Thị Hồng Nhung", "thư điện tử", "Nhắc trước hạn", "đã gửi"),
        ("Sở Tài nguyên và Môi trường", "Nguyễn Minh Anh", "thư điện tử", "Nhắc trước hạn", "gửi không được"),
    ]
    assert rows[0]["Địa chỉ"] == "nhung@stnmt.gialai.gov.vn"
    assert "1 lỗi vĩnh viễn" in (artifact.description or "")
    (team,) = zalo.team
    assert "1 thông báo gửi không thành công" in team["title"]
    assert "nhắc hạn thử nghiệm" in team["message"] and "550" in team["message"]


def test_a_message_left_in_the_local_outbox_is_not_called_sent(
    prefect_api: str, db_url: str, world: dict[str, Any]
) -> None:
    """No SMTP relay configured: the email is written to the outbox, and the table says exactly that."""

    @flow(flow_run_name="nhắc hạn vào hộp thư cục bộ")
    def remind(messages: list) -> Any:
        return deliver(messages)

    result = remind([due_soon(world, "email", key="due-soon:2027:outbox")])
    assert [d.status for d in result.deliveries] == [DeliveryStatus.sent]
    artifact = Artifact.get("notification-deliveries")
    assert artifact is not None
    (row,) = json.loads(str(artifact.data))
    assert row["Kết quả"] == "đã ghi vào hộp thư cục bộ (chưa gửi đi)"
    assert "1 chỉ ghi vào hộp thư cục bộ" in (artifact.description or "")


def test_a_failed_flow_tells_the_team(prefect_api: str, configured: None, zalo: FakeZalo) -> None:
    @flow(flow_run_name="tổng hợp thử nghiệm", on_failure=[notify_team_on_flow_failure])
    def consolidate() -> None:
        raise RuntimeError("bảng tổng hợp lệch 1 tỷ đồng")

    state = consolidate(return_state=True)
    assert state.is_failed()
    (team,) = zalo.team
    assert "tổng hợp thử nghiệm" in team["title"] and "lệch 1 tỷ đồng" in team["message"]


def test_the_daily_run_sends_again_what_failed_transiently(
    prefect_api: str, configured: None, world: dict[str, Any], smtp: SmtpServer, make_settings: Any
) -> None:
    """A notice sent while the SMTP relay was down (the portal's intake notice, say): the next daily
    send-reminders run sends it, once, and says so in the deliveries artifact."""
    from flows.send_reminders import send_reminders

    down = make_settings(smtp=SmtpServer())  # never started: connection refused
    policy = DeliveryPolicy(max_attempts=1, retry_after=0)
    (failed,) = send_batch([due_soon(world, "email")], settings=down, policy=policy).deliveries
    assert failed.status == DeliveryStatus.failed_transient and not smtp.received

    send_reminders(as_of=date(2026, 9, 28))
    assert [r.rcpt_tos for r in smtp.received] == [["nhung@stnmt.gialai.gov.vn"]]
    artifact = Artifact.get("notification-deliveries")
    assert artifact is not None and "nhung@stnmt.gialai.gov.vn" in str(artifact.data)
    send_reminders(as_of=date(2026, 9, 29))
    assert len(smtp.received) == 1
