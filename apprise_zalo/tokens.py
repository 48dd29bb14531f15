"""Where the Zalo plugin gets its access token.

The plugin never stores tokens itself. A *token provider* owns them: a database-backed one in this project
(``tasks.notify.zalo_tokens``), a static token for one-off use from the Apprise CLI (``?token=``).
Providers are registered per Zalo app id, so an Apprise URL (``zalo://{app_id}/…``) stays free of secrets.
"""

from __future__ import annotations

import threading
from typing import Protocol


class ZaloTokenError(RuntimeError):
    """The access token could not be obtained or refreshed. Messages never contain a token."""


class TokenProvider(Protocol):
    def access_token(self) -> str:
        """A valid access token, refreshed beforehand if it expires soon."""
        ...

    def refresh(self, stale_token: str) -> str:
        """A new access token after ``stale_token`` was refused. The rotated refresh token must be stored
        durably before the new access token is returned."""
        ...


class StaticToken:
    """A fixed access token (no refresh): for a manual ``apprise`` call with ``?token=``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh(self, stale_token: str) -> str:
        raise ZaloTokenError("a static Zalo access token cannot be refreshed")


_providers: dict[str, TokenProvider] = {}
_lock = threading.Lock()


def register_token_provider(app_id: str, provider: TokenProvider) -> None:
    """Make ``provider`` answer for every ``zalo://{app_id}/…`` and ``zns://{app_id}/…`` URL."""
    with _lock:
        _providers[app_id] = provider


def unregister_token_provider(app_id: str) -> None:
    with _lock:
        _providers.pop(app_id, None)


def token_provider(app_id: str) -> TokenProvider | None:
    with _lock:
        return _providers.get(app_id)
