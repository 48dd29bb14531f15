"""The channels a job can go out on. Each ``send`` makes one attempt for one recipient and says whether a
failure is worth retrying. Real delivery goes through Apprise (``TemplatedEmail``, ``zalo://``,
``zns://``); the outbox writes files instead, for the local stack."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import apprise
from apprise import AppriseAttachment
from apprise.plugins.base import NotifyBase
from apprise.plugins.email import NotifyEmail

import apprise_zalo
from models.base import Channel
from plancycle.settings import Settings
from tasks.notify.email import (
    EmailParts,
    SmtpPool,
    TemplatedEmail,
    email_bytes,
    email_plugin,
    message_id_for,
    send_email,
)


@dataclass(frozen=True)
class Job:
    """One (message × recipient × channel): what one NotificationLog row stands for."""

    key: str
    channel: str
    recipient: str
    recipient_name: str | None
    template: str
    subject: str
    html: str
    text: str
    zalo: str
    attachments: tuple[str, ...] = ()
    zalo_mode: str = "cs"
    zns_template_id: str | None = None
    zns_data: dict[str, str] = field(default_factory=dict)
    from_name: str | None = None  # the cycle's coordinating unit; None: PLANCYCLE_EMAIL_FROM_NAME


@dataclass(frozen=True)
class Attempt:
    ok: bool
    transient: bool = False
    provider_message_id: str | None = None
    error: str = ""
    # False: transient, but trying again within this batch cannot help (e.g. Zalo's token refresh was
    # refused); a later run may.
    retry_in_batch: bool = True


class Sender(Protocol):
    def send(self, job: Job) -> Attempt: ...

    def close(self) -> None: ...


def _safe_name(key: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def outbox_email_path(settings: Settings, key: str) -> Path:
    """Where the outbox wrote the email logged under ``key`` (the notification log's idempotency key)."""
    return settings.resolved_outbox_dir / "email" / f"{_safe_name(key)}.eml"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def email_parts(job: Job, settings: Settings) -> EmailParts:
    """The email a job carries, from the configured sender, with a Message-ID derived from the job's key."""
    return EmailParts(
        subject=job.subject,
        html=job.html,
        text=job.text,
        from_name=job.from_name or settings.email_from_name,
        from_email=settings.email_from,
        to_email=job.recipient,
        to_name=job.recipient_name,
        message_id=message_id_for(job.key, settings.email_from),
    )


def smtp_plugin_arguments(settings: Settings) -> dict[str, Any]:
    """The Apprise email plugin's arguments for ``PLANCYCLE_SMTP_URL`` (host, port, TLS mode, account),
    with the sender and no recipient; ValueError when it is not a ``mailto://`` or ``mailtos://`` URL."""
    assert settings.smtp_url is not None
    parsed = NotifyEmail.parse_url(settings.smtp_url.get_secret_value())
    if not parsed:
        raise ValueError("PLANCYCLE_SMTP_URL is not an Apprise mailto:// or mailtos:// URL")
    parsed.pop("targets", None)
    parsed["from_addr"] = f"{settings.email_from_name} <{settings.email_from}>"
    return parsed


class SmtpEmailSender:
    """Email over SMTP through Apprise, one pooled connection per worker."""

    def __init__(self, settings: Settings) -> None:
        parsed = smtp_plugin_arguments(settings)
        self.settings = settings
        self.pool = SmtpPool()
        self.plugin: TemplatedEmail | None = None
        self.config_error = ""
        try:
            self.plugin = email_plugin(parsed, self.pool)
        except TypeError as exc:  # every message fails permanently, as each would have on its own
            self.config_error = f"invalid email configuration or address: {exc}"

    def send(self, job: Job) -> Attempt:
        if self.plugin is None:
            return Attempt(False, transient=False, error=self.config_error)
        parts = email_parts(job, self.settings)
        ok, failure = send_email(plugin=self.plugin, parts=parts, attachments=list(job.attachments))
        if ok:
            return Attempt(True, provider_message_id=parts.message_id)
        assert failure is not None
        return Attempt(False, transient=failure.transient, error=failure.detail)

    def close(self) -> None:
        self.pool.close()


class OutboxEmailSender:
    """Writes ``<outbox>/email/<key>.eml``: exactly the bytes SMTP would carry. Idempotent by name."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.resolved_outbox_dir / "email"
        self.settings = settings

    def send(self, job: Job) -> Attempt:
        parts = email_parts(job, self.settings)
        try:
            attachments = AppriseAttachment(list(job.attachments)) if job.attachments else None
            data = email_bytes(parts, attachments)
            _write_atomically(self.folder / f"{_safe_name(job.key)}.eml", data)
        except (OSError, ValueError) as exc:
            return Attempt(False, transient=isinstance(exc, PermissionError), error=f"outbox: {exc}")
        return Attempt(True, provider_message_id=parts.message_id)

    def close(self) -> None:
        pass


class ZaloSender:
    """Zalo OA and ZNS through the ``zalo://`` / ``zns://`` Apprise plugins (``apprise_zalo``).

    Like :class:`SmtpEmailSender`, the URL is parsed by the plugin once per kind of message (OA mode, or
    ZNS template), not once per recipient; each job gets its own plugin instance for its recipient (and
    ZNS tracking id), and sends with the plugin's ``notify()``."""

    def __init__(self, settings: Settings) -> None:
        apprise_zalo.register()
        assert settings.zalo_app_id
        self.app_id = settings.zalo_app_id
        self.oa_base = settings.zalo_oa_api_base
        self.zns_base = settings.zalo_zns_base
        self.asset = apprise.AppriseAsset()
        self._parsed: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._lock = threading.Lock()

    def url(self, job: Job) -> str:
        app = quote(self.app_id, safe="")
        target = quote(job.recipient, safe="")
        if job.channel == Channel.zns:
            params = {
                "template": job.zns_template_id or "",
                "base": self.zns_base,
                "tracking": _tracking(job),
            }
            return f"zns://{app}/{target}/?{urlencode(params)}"
        return f"zalo://{app}/{target}/?{urlencode({'mode': job.zalo_mode, 'base': self.oa_base})}"

    def _kwargs(self, job: Job) -> dict[str, Any] | None:
        """The plugin's own ``parse_url`` of this job's URL, made once per (channel, mode or template)."""
        kind = (job.channel, job.zns_template_id or "" if job.channel == Channel.zns else job.zalo_mode)
        with self._lock:
            if kind not in self._parsed:
                url = self.url(replace(job, recipient="_", key=""))
                plugin = apprise.Apprise.instantiate(url, asset=self.asset)  # validates the URL once
                parsed = None
                if plugin is not None:
                    parsed = type(plugin).parse_url(url)
                    if parsed is not None:
                        parsed = {**parsed, "tag": set(), "asset": self.asset, "plugin_class": type(plugin)}
                self._parsed[kind] = parsed
            return self._parsed[kind]

    def plugin(self, job: Job) -> NotifyBase | None:
        """The Apprise plugin instance for this job, as ``apprise.Apprise.instantiate(self.url(job))``
        would make it; None if the URL is not valid for this recipient."""
        kwargs = self._kwargs(job)
        if kwargs is None:
            return None
        kwargs = dict(kwargs)
        cls = kwargs.pop("plugin_class")
        kwargs["targets"] = [job.recipient] if job.recipient else []
        if job.channel == Channel.zns:
            kwargs["tracking"] = _tracking(job)
        try:
            return cls(**kwargs)
        except Exception:  # as Apprise.instantiate: the arguments cannot be used
            return None

    def send(self, job: Job) -> Attempt:
        plugin = self.plugin(job)
        if plugin is None:
            return Attempt(False, transient=False, error="invalid Zalo URL for this recipient")
        body = json.dumps(job.zns_data, ensure_ascii=False) if job.channel == Channel.zns else job.zalo
        plugin.notify(body=body)
        outcomes = getattr(plugin, "outcomes", [])
        if not outcomes:
            return Attempt(False, transient=True, error="no answer from the Zalo plugin")
        outcome = outcomes[0]
        if outcome.ok:
            return Attempt(True, provider_message_id=outcome.message_id)
        return Attempt(
            False, transient=bool(outcome.transient), error=outcome.detail, retry_in_batch=not outcome.account
        )

    def close(self) -> None:
        pass


def _tracking(job: Job) -> str:
    """ZNS tracking id: derived from the idempotency key, so a re-sent copy carries the same one."""
    return hashlib.sha256(job.key.encode()).hexdigest()[:32]


class OutboxZaloSender:
    """Writes ``<outbox>/zalo/<key>.json`` with what would have been posted to Zalo."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.resolved_outbox_dir / "zalo"

    def send(self, job: Job) -> Attempt:
        record: dict[str, Any] = {
            "channel": job.channel,
            "recipient": job.recipient,
            "template": job.template,
            "idempotency_key": job.key,
        }
        if job.channel == Channel.zns:
            record.update(template_id=job.zns_template_id, template_data=job.zns_data)
        else:
            record.update(mode=job.zalo_mode, text=job.zalo)
        name = _safe_name(job.key)
        try:
            _write_atomically(
                self.folder / f"{name}.json", json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")
            )
        except OSError as exc:
            return Attempt(False, transient=True, error=f"outbox: {exc}")
        return Attempt(True, provider_message_id=f"outbox:{name}")

    def close(self) -> None:
        pass


def email_sender(settings: Settings) -> Sender:
    """SMTP once ``PLANCYCLE_SMTP_URL`` is set; the outbox folder until then."""
    return SmtpEmailSender(settings) if settings.smtp_url else OutboxEmailSender(settings)


def zalo_sender(settings: Settings) -> Sender:
    """The Zalo API once an app id is configured; the outbox folder until then (local stack)."""
    return ZaloSender(settings) if settings.zalo_app_id else OutboxZaloSender(settings)
