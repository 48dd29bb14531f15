"""Email through Apprise's SMTP plugin, with the MIME built from our templates.

Apprise's ``mailto://`` plugin (``NotifyEmail``) parses the SMTP URL (host, port, STARTTLS/SSL, login,
``from=``, timeouts) and is kept as the transport. Its own ``send()`` derives the text/plain part from the
HTML and gives every copy a random Message-ID; we need the template's plain-text twin, a Message-ID derived
from the idempotency key (a re-sent copy is recognisable as the same message) and to know *why* a
delivery failed (Apprise answers only true/false). :class:`TemplatedEmail` therefore overrides ``send()``
only: same URL, same settings, same ``notify()`` call path and ``AppriseAttachment`` handling.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import queue
import random
import re
import smtplib
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import base64mime, encoders
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from typing import Any

from apprise import AppriseAttachment
from apprise.common import NotifyFormat, NotifyType
from apprise.plugins.email import NotifyEmail, SecureMailMode
from apprise.utils.parse import is_email, parse_emails

from models.base import utcnow


class _WirePolicy(Compat32):
    """``compat32`` for the wire: CRLF line ends (the generator writes LF by default), no re-folding.

    Our headers are ASCII by construction (RFC 2047 encoded words from :func:`encoded_words`, already
    folded with CRLF + space; RFC 2231 file names), and ``max_line_length=0`` switches folding off. For
    such a value compat32's ``Header.encode`` only splits it into lines and joins them again with the same
    CRLF, at a cost of ~100 µs per message; this writes the identical bytes directly (a test compares the
    two). Anything else (non-ASCII, bare CR or LF, another line end) takes compat32's own path.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            self.linesep == "\r\n"
            and isinstance(value, str)
            and value.isascii()
            and _PREFOLDED.fullmatch(value)
        ):
            return f"{name}: {value}\r\n".encode("ascii")
        return super().fold_binary(name, value)


# Lines joined by CRLF, every continuation line starting with a space or tab; no other CR or LF.
_PREFOLDED = re.compile(r"[^\r\n]*(?:\r\n[ \t][^\r\n]*)*")

WIRE = _WirePolicy(linesep="\r\n", max_line_length=0)


def encoded_words(text: str) -> str:
    """RFC 2047 base64 encoded words (at most 75 characters each, whole characters only), one per folded
    line; ASCII text is returned unchanged."""
    if text.isascii():
        return text
    data = text.encode("utf-8")
    words, start = [], 0
    while start < len(data):
        end = min(start + 45, len(data))  # 45 bytes → 60 base64 characters + 12 for =?utf-8?b?…?= = 72
        while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        words.append(data[start:end])
        start = end
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words)


def _address(name: str | None, email: str) -> str:
    if not name:
        return email
    if name.isascii():
        return formataddr((name, email))
    return f"{encoded_words(name)}\r\n <{email}>"


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    """``MIMEText(body, subtype, utf-8 with base64)``, byte for byte (a test compares the two), without
    its detour through ``set_charset``, which re-parses and rewrites the Content-Type header it has just
    written (half the cost of the part)."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64mime.body_encode(body.encode("utf-8")))
    return part


def _boundary() -> str:
    """A multipart boundary in the generator's own format, chosen up front. The generator would otherwise
    pick one and scan the whole message for it with a freshly compiled regular expression (~50 µs); the
    scan cannot find anything here, because every part's body is base64, whose alphabet has no ``-``, so
    no body line can start with ``--``."""
    return f"{'=' * 15}{random.randrange(sys.maxsize):019d}=="


@dataclass(frozen=True)
class EmailFailure:
    transient: bool
    detail: str


def message_id_for(key: str, from_email: str) -> str:
    """A stable Message-ID for an idempotency key: every copy of one message carries the same id."""
    domain = from_email.rsplit("@", 1)[-1] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailParts:
    """One message's headers and bodies, as :func:`compose_email` and :func:`email_bytes` write them."""

    subject: str
    html: str
    text: str
    from_name: str | None
    from_email: str
    to_email: str
    to_name: str | None = None
    message_id: str
    date: datetime | None = None


def compose_email(parts: EmailParts, attachments: AppriseAttachment | None = None) -> Message:
    """multipart/mixed( multipart/alternative(text/plain, text/html), attachments… ), UTF-8 throughout;
    non-ASCII subject and names are RFC 2047 encoded words, file names RFC 2231.

    Built with the ``compat32`` MIME classes, as Apprise does: the modern ``email.policy`` header folder
    costs ~20 ms per Vietnamese subject, which alone would cap a batch below 50 messages/s.
    """
    alternative = MIMEMultipart("alternative", boundary=_boundary())
    alternative.attach(_text_part(parts.text, "plain"))
    alternative.attach(_text_part(parts.html, "html"))
    root: Message = alternative
    if attachments:
        root = MIMEMultipart("mixed", boundary=_boundary())
        root.attach(alternative)
        for attachment in attachments:
            if not attachment:
                raise FileNotFoundError(f"attachment not readable: {attachment.url(privacy=True)}")
            maintype, _, subtype = (attachment.mimetype or "application/octet-stream").partition("/")
            part = MIMEBase(maintype, subtype or "octet-stream")
            with attachment.open() as handle:
                part.set_payload(handle.read())
            encoders.encode_base64(part)
            name = attachment.name or "attachment"
            if len(name) > 80:  # unfolded RFC 2231 parameters must stay well under 998 characters a line
                stem, dot, ext = name.rpartition(".")
                name = f"{stem[: 79 - len(ext)]}{dot}{ext}" if dot and len(ext) < 10 else name[:80]
            filename = name if name.isascii() else ("utf-8", "", name)
            part.add_header("Content-Disposition", "attachment", filename=filename)
            root.attach(part)
    root["Subject"] = encoded_words(parts.subject)
    root["From"] = _address(parts.from_name, parts.from_email)
    root["To"] = _address(parts.to_name, parts.to_email)
    root["Date"] = format_datetime(parts.date or utcnow())
    root["Message-ID"] = parts.message_id
    root["Auto-Submitted"] = "auto-generated"
    return root


def email_bytes(parts: EmailParts, attachments: AppriseAttachment | None = None) -> bytes:
    """The bytes SMTP carries for :func:`compose_email` with the same arguments (CRLF line ends).

    Without attachments (nearly every message) the MIME text is written directly: the structure is fixed,
    every header is ASCII and already folded, every body base64. This is byte for byte what the ``email``
    package writes for the same message (a test compares the two), at a fifth of the cost of building and
    flattening ``email.message`` objects. With attachments, :func:`compose_email` builds it.
    """
    if attachments:
        return compose_email(parts, attachments).as_bytes(policy=WIRE)
    boundary = _boundary()
    headers = {
        "Content-Type": f'multipart/alternative; boundary="{boundary}"',
        "MIME-Version": "1.0",
        "Subject": encoded_words(parts.subject),
        "From": _address(parts.from_name, parts.from_email),
        "To": _address(parts.to_name, parts.to_email),
        "Date": format_datetime(parts.date or utcnow()),
        "Message-ID": parts.message_id,
        "Auto-Submitted": "auto-generated",
    }
    if not all(value.isascii() and _PREFOLDED.fullmatch(value) for value in headers.values()):
        # Not expected (every value is ASCII and folded by construction): leave it to compat32's rules.
        return compose_email(parts).as_bytes(policy=WIRE)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return "".join(
        (
            head,
            f"\r\n--{boundary}\r\n",
            _text_part_wire(parts.text, "plain"),
            f"\r\n--{boundary}\r\n",
            _text_part_wire(parts.html, "html"),
            f"\r\n--{boundary}--\r\n",
        )
    ).encode("ascii")


def _text_part_wire(body: str, subtype: str) -> str:
    """What the generator writes for :func:`_text_part`: three headers, a blank line, base64 in lines of
    76 characters, CRLF line ends."""
    encoded = base64.b64encode(body.encode("utf-8")).decode("ascii")
    if encoded:  # as base64mime.body_encode: 57 bytes (76 characters) a line, the last one shorter
        encoded = "\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + "\r\n"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
    )


class SmtpPool:
    """Open SMTP sessions shared by one batch: connect, STARTTLS and login once per worker, not per
    message. Sessions are recycled after ``max_messages`` (servers cap messages per connection)."""

    def __init__(self, max_messages: int = 100) -> None:
        self.max_messages = max_messages
        self._idle: queue.LifoQueue[tuple[tuple[Any, ...], smtplib.SMTP, int]] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def session(self, email: TemplatedEmail) -> Iterator[tuple[smtplib.SMTP, bool]]:
        """Yields (connection, reused). A connection that raised is dropped, never returned to the pool."""
        key = (email.smtp_host, email.port, email.secure_mode, email.user)
        conn, count, reused = None, 0, False
        kept: list[tuple[tuple[Any, ...], smtplib.SMTP, int]] = []
        while not self._idle.empty():
            try:
                item = self._idle.get_nowait()
            except queue.Empty:
                break
            if item[0] == key:
                conn, count, reused = item[1], item[2], True
                break
            kept.append(item)
        for item in kept:
            self._idle.put(item)
        if conn is None:
            conn = email.connect()
        try:
            yield conn, reused
        except BaseException:
            _quit(conn)
            raise
        count += 1
        if count >= self.max_messages or self._closed:
            _quit(conn)
        else:
            self._idle.put((key, conn, count))

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                _key, conn, _count = self._idle.get_nowait()
            except queue.Empty:
                return
            _quit(conn)


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


def classify_smtp_error(exc: BaseException) -> EmailFailure:
    """Permanent only when the server rejects *this* recipient or message (5xx); connection trouble, 4xx
    and account problems (login, sender refused) are transient: fixable, worth retrying later."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return EmailFailure(not permanent, f"recipient refused: {', '.join(str(c) for c in codes)}")
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPSenderRefused):
        return EmailFailure(True, f"{type(exc).__name__} {exc.smtp_code}")
    if isinstance(exc, smtplib.SMTPDataError):
        return EmailFailure(not 500 <= exc.smtp_code < 600, f"message refused: {exc.smtp_code}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return EmailFailure(not 500 <= exc.smtp_code < 600, f"{type(exc).__name__} {exc.smtp_code}")
    return EmailFailure(True, f"{type(exc).__name__}: {exc}")


class TemplatedEmail(NotifyEmail):
    """Apprise's email plugin, sending our own MIME (see the module docstring). One configured instance per
    batch, one copy per message (:meth:`for_message`).

    After ``notify()`` returns False, :attr:`failure` says whether a retry can help.
    """

    def __init__(
        self,
        *,
        text_body: str,
        message_id: str,
        to_name: str | None = None,
        pool: SmtpPool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.text_body = text_body
        self.message_id = message_id
        self.to_name = to_name
        self.pool = pool
        self.failure: EmailFailure | None = None

    def for_message(
        self, *, to_email: str, to_name: str | None, text_body: str, message_id: str
    ) -> TemplatedEmail:
        """This configured plugin addressed to one recipient: a shallow copy with its own recipient and
        message fields. ``NotifyEmail.__init__`` (provider defaults, sender, persistent store, PGP set-up)
        costs ~0.1 ms, as much as writing the whole message, and depends on the URL only, so it runs once
        per batch (:func:`email_plugin`). The recipient is validated as ``NotifyEmail.__init__`` does it
        (``parse_emails`` then ``is_email``; an invalid address leaves no target, a permanent failure)."""
        email = copy.copy(self)
        email.targets = []
        for recipient in parse_emails([to_email]):
            result = is_email(recipient)
            if result:
                email.targets.append((result["name"] if result["name"] else False, result["full_email"]))
        email.text_body, email.message_id, email.to_name = text_body, message_id, to_name
        email.failure = None
        return email

    def connect(self) -> smtplib.SMTP:
        """An SMTP session as Apprise's plugin opens it: SSL or plain, then STARTTLS, then login."""
        context = None
        if self.secure_mode in (SecureMailMode.SSL, SecureMailMode.STARTTLS):
            # Loading the CA bundle costs ~30 ms: only for connections that use TLS.
            context = ssl.create_default_context()
            if not self.verify_certificate:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        if self.secure_mode == SecureMailMode.SSL:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.smtp_host, self.port, None, timeout=self.socket_connect_timeout, context=context
            )
        else:
            conn = smtplib.SMTP(self.smtp_host, self.port, None, timeout=self.socket_connect_timeout)
        try:
            if self.secure_mode == SecureMailMode.STARTTLS:
                conn.starttls(context=context)
            if self.user and self.password:
                conn.login(self.user, self.password)
        except BaseException:
            _quit(conn)
            raise
        return conn

    def send(
        self,
        body: str,
        title: str = "",
        notify_type: NotifyType = NotifyType.INFO,
        attach: AppriseAttachment | None = None,
        **kwargs: Any,
    ) -> bool:
        if len(self.targets) != 1:
            self.failure = EmailFailure(False, "invalid email address")
            return False
        _name, to_email = self.targets[0]
        try:
            parts = EmailParts(
                subject=title,
                html=body,
                text=self.text_body,
                from_name=self.from_addr[0] or None,
                from_email=self.from_addr[1],
                to_email=to_email,
                to_name=self.to_name,
                message_id=self.message_id,
            )
            data = email_bytes(parts, attach)
        except (OSError, ValueError) as exc:
            self.failure = EmailFailure(False, f"cannot build the message: {exc}")
            return False
        self.throttle()
        for attempt in (1, 2):
            try:
                if self.pool is None:
                    conn = self.connect()
                    try:
                        conn.sendmail(self.from_addr[1], [to_email], data)
                    finally:
                        _quit(conn)
                else:
                    with self.pool.session(self) as (conn, reused):
                        try:
                            conn.sendmail(self.from_addr[1], [to_email], data)
                        except smtplib.SMTPServerDisconnected:
                            if reused and attempt == 1:
                                raise _StaleConnection from None
                            raise
            except _StaleConnection:
                continue  # an idle pooled connection the server had closed: reconnect once
            except (OSError, smtplib.SMTPException) as exc:
                self.failure = classify_smtp_error(exc)
                self.logger.warning("Email to %s failed: %s", to_email, self.failure.detail)
                return False
            self.failure = None
            self.logger.info("Sent Email to %s", to_email)
            return True
        return False  # pragma: no cover


class _StaleConnection(Exception):
    pass


def email_plugin(url_kwargs: dict[str, Any], pool: SmtpPool | None) -> TemplatedEmail:
    """The configured email plugin for a batch (``url_kwargs`` = ``NotifyEmail.parse_url(smtp_url)`` plus
    the sender), to be addressed per message with :meth:`TemplatedEmail.for_message`. Raises TypeError
    when Apprise cannot use the configuration."""
    return TemplatedEmail(**{**url_kwargs, "targets": []}, text_body="", message_id="", pool=pool)


def send_email(
    *, plugin: TemplatedEmail, parts: EmailParts, attachments: list[str]
) -> tuple[bool, EmailFailure | None]:
    """Send one email with Apprise: ``plugin`` (from :func:`email_plugin`) addressed to ``parts.to_email``.
    The sender's address is the one the plugin was configured with (Apprise's parse of its ``from_addr``),
    not ``parts.from_email``; its name is ``parts.from_name`` when given (the cycle's coordinating unit)."""
    email = plugin.for_message(
        to_email=parts.to_email, to_name=parts.to_name, text_body=parts.text, message_id=parts.message_id
    )
    if parts.from_name:
        email.from_addr = (parts.from_name, email.from_addr[1])
    ok = email.notify(
        body=parts.html,
        title=parts.subject,
        body_format=NotifyFormat.HTML,
        attach=AppriseAttachment(attachments) if attachments else None,
    )
    return ok, email.failure if not ok else None
