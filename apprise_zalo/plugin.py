"""Apprise plugins for Zalo: Official Account API v3 messages to a user id, and ZNS template messages to a
phone number.

URLs::

    zalo://{app_id}/{user_id}[/{user_id}…]?mode=cs|transaction[&base=https://openapi.zalo.me][&token=…]
    zns://{app_id}/{phone}[/{phone}…]?template={template_id}[&base=https://business.openapi.zalo.me]

For ZNS the Apprise *body* is the JSON object of ``template_data``. Tokens come from the provider
registered for ``app_id`` (see :mod:`apprise_zalo.tokens`), or from ``token=`` for a one-off call.

Apprise answers one true/false per call. Callers that need more (the provider's message id, whether a
failure is worth retrying) read :attr:`NotifyZaloBase.outcomes` after the call: one
:class:`ZaloOutcome` per target.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from apprise.common import NotifyFormat, NotifyType
from apprise.plugins.base import NotifyBase

from apprise_zalo.tokens import StaticToken, TokenProvider, ZaloTokenError, token_provider
from apprise_zalo.transport import HttpError, post_json

# Zalo error codes (OA API v3 and ZNS). Anything negative that is not listed here is permanent.
TOKEN_ERRORS: set[int] = {-216, -220, -124}  # access token invalid / expired (OA), access token invalid (ZNS)
TRANSIENT_ERRORS: set[int] = {
    -32,  # rate limit exceeded
    -100,  # ZNS: unknown error, try again later
    -200,  # OA: failed to send (server side)
}
NOT_FOLLOWER_ERRORS: set[int] = {-213, -230}  # not following the OA / outside the consultation window


@dataclass(frozen=True)
class ZaloOutcome:
    """What happened to one target. ``transient`` is ``None`` on success."""

    target: str
    ok: bool
    message_id: str | None = None
    error_code: int | None = None
    http_status: int | None = None
    transient: bool | None = None
    detail: str = ""
    # The OA's credentials failed (no usable access token): no message can go until they are fixed, so
    # retrying within the same batch is pointless.
    account: bool = False


class NotifyZaloBase(NotifyBase):
    """Shared by the OA and ZNS plugins: token handling, the HTTP call, error classification."""

    service_url = "https://developers.zalo.me/"
    setup_url = "https://developers.zalo.me/docs/official-account"
    title_maxlen = 0
    body_maxlen = 2000
    notify_format = NotifyFormat.TEXT
    # Throttling is the caller's business (bounded concurrency and back-off in the delivery routine).
    request_rate_per_sec = 0
    default_base: ClassVar[str] = ""
    templates = ("{schema}://{app_id}/{targets}",)

    template_tokens = dict(
        NotifyBase.template_tokens,
        **{
            "app_id": {"name": "App ID", "type": "string", "required": True, "private": False},
            "targets": {"name": "Targets", "type": "list:string", "required": True},
        },
    )
    template_args = dict(
        NotifyBase.template_args,
        **{
            "base": {"name": "API base URL", "type": "string"},
            "token": {"name": "Access token", "type": "string", "private": True},
        },
    )

    def __init__(
        self,
        app_id: str,
        targets: list[str] | None = None,
        base: str | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.app_id_zalo = app_id
        self.targets = [t for t in (targets or []) if t]
        if not self.app_id_zalo or not self.targets:
            msg = "A Zalo URL needs an app id and at least one target."
            self.logger.warning(msg)
            raise TypeError(msg)
        self.base = (base or self.default_base).rstrip("/")
        self.static_token = token
        self.outcomes: list[ZaloOutcome] = []

    # ------------------------------------------------------------ tokens

    def _provider(self) -> TokenProvider:
        if self.static_token:
            return StaticToken(self.static_token)
        provider = token_provider(self.app_id_zalo)
        if provider is None:
            raise ZaloTokenError(f"no Zalo token provider registered for app {self.app_id_zalo}")
        return provider

    # ------------------------------------------------------------ sending

    def _endpoint(self) -> str:
        raise NotImplementedError

    def _payload(self, target: str, body: str) -> dict[str, Any]:
        raise NotImplementedError

    def _post(self, url: str, token: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, raw = post_json(
            url,
            payload,
            headers={"access_token": token, "User-Agent": self.app_id},
            verify=self.verify_certificate,
            connect_timeout=self.socket_connect_timeout,
            read_timeout=self.socket_read_timeout,
        )
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return status, data if isinstance(data, dict) else {}

    def _send_one(self, target: str, body: str) -> ZaloOutcome:
        try:
            provider = self._provider()
            token = provider.access_token()
        except ZaloTokenError as exc:
            # Account-level, fixable by an operator: worth retrying later, not a reason to give up.
            return ZaloOutcome(target, False, transient=True, detail=f"token: {exc}", account=True)
        payload = self._payload(target, body)
        url = self._endpoint()
        refreshed = False
        while True:
            try:
                status, data = self._post(url, token, payload)
            except HttpError as exc:
                return ZaloOutcome(target, False, transient=True, detail=f"network: {exc.kind}")
            code = data.get("error")
            code = int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else None
            text = str(data.get("message", ""))[:300]
            if status == 200 and code == 0:
                message_id = (data.get("data") or {}).get("message_id") or (data.get("data") or {}).get(
                    "msg_id"
                )
                return ZaloOutcome(
                    target,
                    True,
                    message_id=str(message_id) if message_id else None,
                    error_code=0,
                    http_status=status,
                )
            if code in TOKEN_ERRORS and not refreshed:
                # Expired or revoked token: refresh (the rotated refresh token is stored first), retry once.
                try:
                    token = provider.refresh(token)
                except ZaloTokenError as exc:
                    return ZaloOutcome(
                        target,
                        False,
                        error_code=code,
                        http_status=status,
                        transient=True,
                        detail=f"token refresh failed: {exc}",
                        account=True,
                    )
                refreshed = True
                continue
            transient = status >= 500 or status == 429 or code in TRANSIENT_ERRORS or code in TOKEN_ERRORS
            if status == 200 and code is None:
                transient = True  # an answer we cannot read: treat like a network fault
            return ZaloOutcome(
                target,
                False,
                error_code=code,
                http_status=status,
                transient=transient,
                detail=f"zalo error {code} (HTTP {status}): {text}".strip(),
                account=code in TOKEN_ERRORS,
            )

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        self.throttle()
        self.outcomes = [self._send_one(target, body) for target in self.targets]
        for outcome in self.outcomes:
            if outcome.ok:
                self.logger.info("Sent Zalo message to %s.", outcome.target)
            else:
                self.logger.warning("Zalo message to %s failed: %s", outcome.target, outcome.detail)
        return all(o.ok for o in self.outcomes)

    # ------------------------------------------------------------ URL round trip

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params = self.url_parameters(privacy=privacy, *args, **kwargs)  # noqa: B026
        params.update(self._extra_params())
        if self.base != self.default_base:
            params["base"] = self.base
        if self.static_token:
            params["token"] = self.pprint(self.static_token, privacy, mode="secret", safe="")
        return "{schema}://{app}/{targets}/?{params}".format(
            schema=self.protocol,
            app=self.quote(self.app_id_zalo, safe=""),
            targets="/".join(self.quote(t, safe="") for t in self.targets),
            params=self.urlencode(params),
        )

    def _extra_params(self) -> dict[str, str]:
        return {}

    @property
    def url_identifier(self) -> tuple[str, ...]:
        return (self.protocol, self.app_id_zalo, self.base)

    def __len__(self) -> int:
        return len(self.targets)

    @classmethod
    def _parse(cls, url: str) -> dict[str, Any] | None:
        results = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return results
        results["app_id"] = cls.unquote(results["host"])
        results["targets"] = [cls.unquote(t) for t in cls.split_path(results["fullpath"])]
        qsd = results["qsd"]
        if qsd.get("base"):
            results["base"] = cls.unquote(qsd["base"])
        if qsd.get("token"):
            results["token"] = cls.unquote(qsd["token"])
        return results


class NotifyZalo(NotifyZaloBase):
    """Zalo Official Account API v3: a consultation (``cs``) or transaction message to a user id."""

    service_name = "Zalo Official Account"
    protocol = "zalo"
    default_base = "https://openapi.zalo.me"
    template_args = dict(
        NotifyZaloBase.template_args,
        **{
            "mode": {
                "name": "Message type",
                "type": "choice:string",
                "values": ("cs", "transaction"),
                "default": "cs",
            }
        },
    )

    def __init__(self, mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = (mode or "cs").lower()
        if self.mode not in ("cs", "transaction"):
            raise TypeError(f"unknown Zalo message mode {mode!r}")

    def _endpoint(self) -> str:
        return f"{self.base}/v3.0/oa/message/{self.mode}"

    def _payload(self, target: str, body: str) -> dict[str, Any]:
        return {"recipient": {"user_id": target}, "message": {"text": body}}

    def _extra_params(self) -> dict[str, str]:
        return {"mode": self.mode}

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyZalo._parse(url)
        if results and results["qsd"].get("mode"):
            results["mode"] = results["qsd"]["mode"]
        return results


class NotifyZaloZNS(NotifyZaloBase):
    """Zalo Notification Service: an approved template to a phone number (84…). Body: template data JSON."""

    service_name = "Zalo ZNS"
    protocol = "zns"
    default_base = "https://business.openapi.zalo.me"
    template_args = dict(
        NotifyZaloBase.template_args,
        **{
            "template": {"name": "ZNS template id", "type": "string", "required": True},
            "tracking": {"name": "Tracking id", "type": "string"},
        },
    )

    def __init__(self, template: str | None = None, tracking: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not template:
            raise TypeError("a ZNS URL needs ?template=")
        self.template_id = template
        self.tracking = tracking

    def _endpoint(self) -> str:
        return f"{self.base}/message/template"

    def _payload(self, target: str, body: str) -> dict[str, Any]:
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            data = {"content": body}
        return {
            "phone": target,
            "template_id": self.template_id,
            "template_data": data if isinstance(data, dict) else {"content": body},
            "tracking_id": self.tracking or uuid.uuid4().hex,
        }

    def _extra_params(self) -> dict[str, str]:
        params = {"template": self.template_id}
        if self.tracking:
            params["tracking"] = self.tracking
        return params

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyZaloZNS._parse(url)
        if results:
            for key in ("template", "tracking"):
                if results["qsd"].get(key):
                    results[key] = NotifyZaloZNS.unquote(results["qsd"][key])
        return results
