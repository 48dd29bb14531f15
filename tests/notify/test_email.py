"""Email through Apprise to a real aiosmtpd server on loopback."""

from __future__ import annotations

import base64
import logging
import random
import socket
import threading
from datetime import UTC, datetime
from email import encoders, message_from_bytes
from email.charset import BASE64, Charset
from email.header import decode_header, make_header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from apprise import AppriseAttachment
from apprise.plugins.email import NotifyEmail
from pydantic import SecretStr
from sqlmodel import Session, select

from models import NotificationLog
from models.base import DeliveryStatus
from tasks.notify import DeliveryPolicy, send_batch
from tasks.notify.email import (
    WIRE,
    EmailParts,
    TemplatedEmail,
    compose_email,
    email_bytes,
    email_plugin,
    encoded_words,
)
from tests.factories import make_contact
from tests.notify.conftest import FAST, due_soon
from tests.notify.servers import SmtpServer


def test_mime_structure_subject_parts_and_attachments(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any, session: Session, tmp_path: Path
) -> None:
    workbook = tmp_path / "Biểu mẫu đề xuất 2027.xlsx"
    workbook.write_bytes(b"PK\x03\x04 fake xlsx \x00\xff" * 50)
    pdf = tmp_path / "ke-hoach.pdf"
    pdf.write_bytes(b"%PDF-1.7\n\xe2\xe3\xcf\xd3 body")
    message = due_soon(world, "email").model_copy(update={"attachments": [workbook, pdf]})

    result = send_batch([message], settings=make_settings(smtp=smtp), policy=FAST)

    assert [d.status for d in result.deliveries] == [DeliveryStatus.sent]
    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert received.rcpt_tos == ["nhung@stnmt.gialai.gov.vn"]
    raw_subject = message_from_bytes(received.data, policy=compat32)["Subject"]  # as on the wire
    assert raw_subject.isascii() and "=?utf-8?" in raw_subject  # RFC 2047 encoded words
    expected = "Nhắc hạn: còn 3 ngày để gửi đề xuất Kế hoạch ứng dụng CNTT, chuyển đổi số năm 2027"
    assert str(make_header(decode_header(raw_subject))) == expected
    msg = received.message
    assert msg["Subject"] == expected
    assert msg["From"].addresses[0].display_name == "Sở Khoa học và Công nghệ"
    assert msg["From"].addresses[0].addr_spec == "ke-hoach@skhcn.gialai.gov.vn"
    assert msg["To"].addresses[0].display_name == "Trần Thị Hồng Nhung"
    assert msg.get_content_type() == "multipart/mixed"
    alternative, *attachments = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert "Kính gửi: Trần Thị Hồng Nhung" in plain.get_content()
    assert "<table" not in plain.get_content()
    assert "<!DOCTYPE html>" in html.get_content() and "Còn 3 ngày đến hạn" in html.get_content()
    assert [a.get_filename() for a in attachments] == ["Biểu mẫu đề xuất 2027.xlsx", "ke-hoach.pdf"]
    assert attachments[0].get_content() == workbook.read_bytes()
    assert attachments[1].get_content_type() == "application/pdf"
    assert attachments[1].get_content() == pdf.read_bytes()

    row = session.exec(select(NotificationLog)).one()
    assert row.status == DeliveryStatus.sent and row.attempts == 1 and row.sent_at is not None
    assert row.provider_message_id == msg["Message-ID"] == result.deliveries[0].provider_message_id
    assert row.recipient == "nhung@stnmt.gialai.gov.vn" and row.subject == msg["Subject"]


def test_english_contact_gets_english(world: dict[str, Any], smtp: SmtpServer, make_settings: Any) -> None:
    send_batch([due_soon(world, "en")], settings=make_settings(smtp=smtp), policy=FAST)
    assert smtp.received[0].message["Subject"].startswith("Reminder: 3 days left")


def test_smtp_down_then_up_is_delivered_once(
    world: dict[str, Any], make_settings: Any, session: Session
) -> None:
    server = SmtpServer()
    # The relay is down for the first attempt whatever the machine's speed: a socket on the relay's port
    # takes the first connection and drops it, then the real server starts on that port.
    gate = socket.create_server(("127.0.0.1", server.port))
    gate.settimeout(60)

    def outage_then_up() -> None:
        with gate:
            connection, _ = gate.accept()
            connection.close()
        server.start()

    recovery = threading.Thread(target=outage_then_up, daemon=True)
    recovery.start()
    try:
        policy = DeliveryPolicy(max_attempts=20, backoff_initial=0.1, backoff_max=0.3)
        result = send_batch([due_soon(world, "email")], settings=make_settings(smtp=server), policy=policy)
    finally:
        recovery.join(timeout=30)
        server.stop()
    (delivery,) = result.deliveries
    assert delivery.status == DeliveryStatus.sent and delivery.attempts > 1
    assert len(server.received) == 1
    assert session.exec(select(NotificationLog)).one().attempts == delivery.attempts


def test_transient_exhausted_is_retried_by_the_next_run(world: dict[str, Any], make_settings: Any) -> None:
    server = SmtpServer()
    settings = make_settings(smtp=server)
    policy = DeliveryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.01)
    first = send_batch([due_soon(world, "email")], settings=settings, policy=policy)
    assert first.deliveries[0].status == DeliveryStatus.failed_transient
    assert "ConnectionRefused" in (first.deliveries[0].error or "")
    server.start()
    try:
        second = send_batch([due_soon(world, "email")], settings=settings, policy=policy)
    finally:
        server.stop()
    assert second.deliveries[0].status == DeliveryStatus.sent and second.deliveries[0].attempts == 3
    assert len(server.received) == 1


def test_refused_recipient_is_permanent_and_not_retried(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any
) -> None:
    smtp.handler.reject.add("nhung@stnmt.gialai.gov.vn")
    result = send_batch([due_soon(world, "email")], settings=make_settings(smtp=smtp), policy=FAST)
    (delivery,) = result.deliveries
    assert delivery.status == DeliveryStatus.failed_permanent and delivery.attempts == 1
    assert "550" in (delivery.error or "")


def test_invalid_address_is_permanent(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any, session: Session
) -> None:
    contact = make_contact(session, world["unit"], email="not-an-address")
    session.commit()
    message = due_soon(world, "email").model_copy(update={"contact_id": contact.id})
    (delivery,) = send_batch([message], settings=make_settings(smtp=smtp), policy=FAST).deliveries
    assert delivery.status == DeliveryStatus.failed_permanent and not smtp.received


def test_one_smtp_session_serves_many_messages(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any, session: Session
) -> None:
    contacts = [make_contact(session, world["unit"], email=f"u{i}@example.org") for i in range(30)]
    session.commit()
    messages = [due_soon(world, "email").model_copy(update={"contact_id": c.id}) for c in contacts]
    result = send_batch(messages, settings=make_settings(smtp=smtp), policy=FAST)
    assert result.count(DeliveryStatus.sent) == 30 and len(smtp.received) == 30
    assert smtp.handler.connections <= FAST.concurrency


def test_smtp_password_never_leaks(
    world: dict[str, Any], smtp: SmtpServer, make_settings: Any, session: Session, caplog: Any
) -> None:
    # aiosmtpd offers no AUTH here, so the login fails: the error path must not carry the password.
    url = f"mailto://officer:Pa55-very-secret@127.0.0.1:{smtp.port}?mode=insecure"
    settings = make_settings(smtp=smtp, smtp_url=SecretStr(url))
    policy = DeliveryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.01)
    with caplog.at_level(logging.DEBUG):
        result = send_batch([due_soon(world, "email")], settings=settings, policy=policy)
    assert result.deliveries[0].status == DeliveryStatus.failed_transient
    stored = session.exec(select(NotificationLog)).one()
    for text in (stored.error or "", result.model_dump_json(), str(result.table()), caplog.text):
        assert "Pa55-very-secret" not in text


def _stdlib_email(kw: dict[str, Any], attachments: list[Path] = ()) -> bytes:  # type: ignore[assignment]
    """The message as the email package alone writes it: MIMEText parts, stock compat32 folding, a
    boundary chosen by the generator. The reference for the fast paths in tasks.notify.email."""
    utf8 = Charset("utf-8")
    utf8.body_encoding = BASE64
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText(kw["text"], "plain", utf8))
    alternative.attach(MIMEText(kw["html"], "html", utf8))
    root = alternative
    if attachments:
        root = MIMEMultipart("mixed")
        root.attach(alternative)
        for path in attachments:
            part = MIMEBase("application", "octet-stream")
            part.set_payload(path.read_bytes())
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", path.name))
            root.attach(part)
    root["Subject"] = encoded_words(kw["subject"])
    root["From"] = f"{encoded_words(kw['from_name'])}\r\n <{kw['from_email']}>"
    name = kw["to_name"]
    if not name:
        root["To"] = kw["to_email"]
    elif name.isascii():
        root["To"] = formataddr((name, kw["to_email"]))
    else:
        root["To"] = f"{encoded_words(name)}\r\n <{kw['to_email']}>"
    root["Date"] = format_datetime(kw["date"])
    root["Message-ID"] = kw["message_id"]
    root["Auto-Submitted"] = "auto-generated"
    return root.as_bytes(policy=compat32.clone(linesep="\r\n", max_line_length=0))


def test_mime_is_byte_for_byte_what_the_email_package_writes(tmp_path: Path) -> None:
    """email_bytes writes the MIME text directly and WIRE skips compat32's re-folding of our pre-folded
    headers; both must give exactly the email package's bytes (same random boundary)."""
    attachment = tmp_path / "Biểu mẫu đề xuất kế hoạch ứng dụng CNTT năm 2027.xlsx"
    attachment.write_bytes(bytes(range(256)) * 40)
    subjects = [
        "Nhắc hạn: còn 3 ngày để gửi đề xuất Kế hoạch ứng dụng CNTT, chuyển đổi số năm 2027",
        "Reminder: 3 days left",
        "x" * 300,
        "Đ" * 120,
        "a\tb  c ",
        "",
    ]
    names = ["Trần Thị Hồng Nhung", "John O'Brien, Jr.", None, "", "Đặng " * 25]
    bodies = [("<p>Kính gửi</p>" * 200, "Kính gửi\n" * 90), ("", ""), ("a", "b\r\nc\rd\n")]
    seed = 0
    for subject in subjects:
        for name in names:
            for html, text in bodies:
                kw = {
                    "subject": subject,
                    "html": html,
                    "text": text,
                    "from_name": "Sở Khoa học và Công nghệ",
                    "from_email": "ke-hoach@skhcn.gialai.gov.vn",
                    "to_email": "nhung@stnmt.gialai.gov.vn",
                    "to_name": name,
                    "message_id": "<k@skhcn>",
                    "date": datetime(2026, 9, 27, 1, 2, 3, tzinfo=UTC),
                }
                seed += 1
                random.seed(seed)
                expected = _stdlib_email(kw)
                random.seed(seed)
                assert email_bytes(EmailParts(**kw)) == expected, (subject, name)
    random.seed(seed)
    expected = _stdlib_email(kw, [attachment])
    random.seed(seed)
    message = compose_email(EmailParts(**kw), AppriseAttachment([str(attachment)]))
    message.get_payload()[1].replace_header("Content-Type", "application/octet-stream")  # as the reference
    assert message.as_bytes(policy=WIRE) == expected


def test_encoded_words_keep_whole_characters_and_short_lines() -> None:
    for text in ["Nhắc hạn: còn 3 ngày để gửi đề xuất " * 4, "😀" * 40, "aé" * 60, "Đ"]:
        encoded = encoded_words(text)
        words = encoded.split("\r\n ")
        assert all(len(w) <= 75 and w.startswith("=?utf-8?b?") for w in words)
        assert "".join(base64.b64decode(w[10:-2]).decode("utf-8") for w in words) == text
    assert encoded_words("Reminder") == "Reminder"


def test_message_copies_address_like_apprise_does(smtp: SmtpServer) -> None:
    """for_message validates the recipient exactly as NotifyEmail.__init__ would have for a plugin built
    for that recipient, and leaves the batch's configured plugin untouched."""
    url_kwargs = NotifyEmail.parse_url(smtp.url)
    url_kwargs.pop("targets", None)
    url_kwargs["from_addr"] = "Sở Khoa học và Công nghệ <ke-hoach@skhcn.gialai.gov.vn>"
    plugin = email_plugin(url_kwargs, None)
    before = list(plugin.targets)
    for address in [
        "nhung@stnmt.gialai.gov.vn",
        "Trần Nhung <nhung@stnmt.gialai.gov.vn>",
        "not-an-address",
        "a@example.org, b@example.org",
        "",
    ]:
        built = TemplatedEmail(**{**url_kwargs, "targets": [address]}, text_body="", message_id="")
        copy = plugin.for_message(to_email=address, to_name=None, text_body="t", message_id="<m@x>")
        assert copy.targets == built.targets, address
        assert (copy.text_body, copy.message_id, copy.failure) == ("t", "<m@x>", None)
    assert plugin.targets == before and plugin.text_body == ""
