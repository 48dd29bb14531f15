"""Zalo for Apprise: the ``zalo://`` (Official Account API v3) and ``zns://`` (ZNS templates) schemas.

Importing this package registers both plugins with Apprise's plugin manager, the same registry Apprise
fills from its own plugins and from custom plugin folders; after that ``apprise.Apprise().add("zalo://…")``
resolves to :class:`NotifyZalo`.
"""

from __future__ import annotations

from apprise.manager_plugins import NotificationManager

from apprise_zalo.plugin import (
    NOT_FOLLOWER_ERRORS,
    TOKEN_ERRORS,
    TRANSIENT_ERRORS,
    NotifyZalo,
    NotifyZaloBase,
    NotifyZaloZNS,
    ZaloOutcome,
)
from apprise_zalo.tokens import (
    StaticToken,
    TokenProvider,
    ZaloTokenError,
    register_token_provider,
    token_provider,
    unregister_token_provider,
)


def register() -> None:
    """Register the plugins (idempotent)."""
    manager = NotificationManager()
    for plugin in (NotifyZalo, NotifyZaloZNS):
        if plugin.protocol not in manager or manager[plugin.protocol] is not plugin:
            manager.add(plugin, force=True)


register()

__all__ = [
    "NOT_FOLLOWER_ERRORS",
    "TOKEN_ERRORS",
    "TRANSIENT_ERRORS",
    "NotifyZalo",
    "NotifyZaloBase",
    "NotifyZaloZNS",
    "StaticToken",
    "TokenProvider",
    "ZaloOutcome",
    "ZaloTokenError",
    "register",
    "register_token_provider",
    "token_provider",
    "unregister_token_provider",
]
