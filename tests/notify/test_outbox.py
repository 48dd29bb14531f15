"""Without an SMTP URL (and without a Zalo app id) messages are written to the outbox folder."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from typing import Any

from models.base import DeliveryStatus
from tasks.notify import send_batch
from tests.notify.conftest import FAST, due_soon


def test_outbox_email_and_zalo(world: dict[str, Any], make_settings: Any) -> None:
    settings = make_settings(zalo_enabled=True)  # no smtp_url, no zalo_app_id: local stack
    batch = [due_soon(world, "email"), due_soon(world, "zalo")]
    result = send_batch(batch, settings=settings, policy=FAST)
    assert [d.status for d in result.deliveries] == [DeliveryStatus.sent, DeliveryStatus.sent]

    (eml,) = (settings.resolved_outbox_dir / "email").glob("*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Subject"].startswith("Nhắc hạn") and msg.get_content_type() == "multipart/alternative"
    assert msg["Message-ID"] == result.deliveries[0].provider_message_id
    (js,) = (settings.resolved_outbox_dir / "zalo").glob("*.json")
    record = json.loads(js.read_text(encoding="utf-8"))
    assert record["recipient"] == "zu-duc" and "Nhắc hạn" in record["text"] and len(record["text"]) <= 2000

    again = send_batch(batch, settings=settings, policy=FAST)
    assert again.sent_now == 0
    assert len(list((settings.resolved_outbox_dir / "email").glob("*.eml"))) == 1
