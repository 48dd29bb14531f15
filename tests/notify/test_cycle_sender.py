"""The cycle's coordinating unit signs its messages (issue 19, finding 5): sender name and signature
block come from the cycle, PLANCYCLE_EMAIL_FROM_NAME is only the fallback."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from typing import Any

from sqlmodel import Session

from models.base import DeliveryStatus
from tasks.notify import send_batch
from tests.factories import make_contact, make_unit
from tests.notify.conftest import FAST, due_soon
from tests.notify.servers import SmtpServer


def _coordinated_by_the_dic(world: dict[str, Any], session: Session) -> None:
    dic = make_unit(session, code="STTTT", name="Sở Thông tin và Truyền thông")
    make_contact(
        session,
        dic,
        role="coordinator",
        full_name="Phạm Minh Tuấn",
        position="Phó Trưởng phòng Bưu chính, Viễn thông và CNTT",
        phone="02693829999",
        email="tuan@stttt.gialai.gov.vn",
    )
    world["cycle"].coordinating_unit_id = dic.id
    session.add(world["cycle"])
    session.commit()


def test_smtp_message_is_signed_by_the_cycles_coordinating_unit(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any, session: Session
) -> None:
    _coordinated_by_the_dic(world, session)
    result = send_batch([due_soon(world, "email")], settings=make_settings(smtp=smtp), policy=FAST)
    assert [d.status for d in result.deliveries] == [DeliveryStatus.sent]
    msg = smtp.received[0].message
    assert msg["From"].addresses[0].display_name == "Sở Thông tin và Truyền thông"
    assert msg["From"].addresses[0].addr_spec == "ke-hoach@skhcn.gialai.gov.vn"  # the relay's address stays
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Trân trọng." in plain and "Sở Thông tin và Truyền thông" in plain
    assert "Phạm Minh Tuấn, Phó Trưởng phòng Bưu chính, Viễn thông và CNTT" in plain
    assert "Phạm Minh Tuấn" in html and "Sở Khoa học và Công nghệ" not in html


def test_outbox_message_is_signed_by_the_cycles_coordinating_unit(
    world: dict[str, Any], make_settings: Any, session: Session
) -> None:
    _coordinated_by_the_dic(world, session)
    settings = make_settings()
    send_batch([due_soon(world, "email")], settings=settings, policy=FAST)
    (eml,) = (settings.resolved_outbox_dir / "email").glob("*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=default)
    assert msg["From"].addresses[0].display_name == "Sở Thông tin và Truyền thông"  # type: ignore[union-attr]


def test_without_a_coordinating_unit_the_configured_name_signs(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any
) -> None:
    send_batch([due_soon(world, "email")], settings=make_settings(smtp=smtp), policy=FAST)
    assert smtp.received[0].message["From"].addresses[0].display_name == "Sở Khoa học và Công nghệ"
