"""Zalo OA tokens kept in the database (``ZaloCredential``).

Refresh tokens are single-use: after a refresh only the new one works. The refresh therefore happens inside
one database transaction that first takes the write lock on the credential row (an UPDATE: a row lock on
PostgreSQL, the database write lock on SQLite), re-reads the row (another worker or process may have
refreshed already), calls Zalo, stores the new refresh and access tokens and commits; only then is the
new access token handed to the sender. If the commit fails, the new token is never used and the error is
raised. The remaining window (Zalo has rotated, our commit never happened, e.g. power loss between the
HTTP answer and the commit) cannot be closed from our side; it is documented in docs/notifications.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from apprise_zalo import ZaloTokenError
from models.base import utcnow
from models.notifications import ZaloCredential
from tasks.notify.redact import redact, secret_values

REFRESH_TOKEN_LIFETIME = timedelta(days=90)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def save_zalo_credentials(
    *,
    session: Session,
    app_id: str,
    refresh_token: str,
    access_token: str | None = None,
    access_expires_at: datetime | None = None,
) -> ZaloCredential:
    """Store the tokens an operator copied from the Zalo developer console (first set-up or re-link)."""
    row = session.exec(select(ZaloCredential).where(ZaloCredential.app_id == app_id)).first()
    if row is None:
        row = ZaloCredential(app_id=app_id, refresh_token=refresh_token)
    row.refresh_token = refresh_token
    row.refresh_expires_at = utcnow() + REFRESH_TOKEN_LIFETIME
    row.access_token = access_token
    row.access_expires_at = access_expires_at
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


class DatabaseZaloTokens:
    """The token provider registered with the Zalo Apprise plugin for one app id."""

    def __init__(
        self,
        *,
        engine: Engine,
        app_id: str,
        secret_key: SecretStr,
        oauth_base: str,
        refresh_margin: timedelta = timedelta(minutes=30),
        timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.app_id = app_id
        self.secret_key = secret_key
        self.oauth_url = oauth_base.rstrip("/") + "/v4/oa/access_token"
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: datetime | None = None
        self.refresh_count = 0
        self.refresh_calls = 0  # calls to Zalo's refresh endpoint, successful or not
        self._refused: str | None = None

    def begin_batch(self) -> None:
        """Forget a refused refresh: each batch may try Zalo's refresh endpoint once more (see
        :meth:`_refresh_locked`)."""
        with self._lock:
            self._refused = None

    def _fresh(self, expires: datetime | None) -> bool:
        return expires is not None and expires - self.refresh_margin > self.clock()

    def access_token(self) -> str:
        with self._lock:
            if self._token and self._fresh(self._expires):
                return self._token
            with Session(self.engine) as session:
                row = self._row(session)
                if row.access_token and self._fresh(_aware(row.access_expires_at)):
                    self._token, self._expires = row.access_token, _aware(row.access_expires_at)
                    return row.access_token
            # Expired or about to: refresh before use rather than fail a send.
            return self._refresh_locked(stale=self._token)

    def refresh(self, stale_token: str) -> str:
        with self._lock:
            if self._token and self._token != stale_token and self._fresh(self._expires):
                return self._token  # another worker thread refreshed meanwhile
            return self._refresh_locked(stale=stale_token)

    def _row(self, session: Session) -> ZaloCredential:
        row = session.exec(select(ZaloCredential).where(ZaloCredential.app_id == self.app_id)).first()
        if row is None:
            raise ZaloTokenError(f"no Zalo credentials stored for app {self.app_id}")
        return row

    def _refresh_locked(self, stale: str | None) -> str:
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            # Take the write lock first, so two processes never spend the same refresh token.
            session.execute(
                sa.update(ZaloCredential).where(ZaloCredential.app_id == self.app_id).values(updated_at=now)
            )
            row = self._row(session)
            expires = _aware(row.access_expires_at)
            if row.access_token and row.access_token != stale and self._fresh(expires):
                token = row.access_token  # another process refreshed while we waited for the lock
            elif self._refused is not None:
                # Refused once in this batch: asking again per message would only repeat the refusal
                # (the review saw 36 refresh calls for 12 messages).
                raise ZaloTokenError(self._refused)
            else:
                try:
                    token, expires = self._call_zalo(row)
                except ZaloTokenError as exc:
                    self._refused = f"{exc} (not asked again in this batch)"
                    raise
            # Leaving the block commits: the rotated refresh token is durable before `token` is used.
        self._token, self._expires = token, expires
        return token

    def _call_zalo(self, row: ZaloCredential) -> tuple[str, datetime]:
        old_refresh = row.refresh_token
        secrets = secret_values(self.secret_key, old_refresh, row.access_token)
        self.refresh_calls += 1
        try:
            response = httpx.post(
                self.oauth_url,
                headers={"secret_key": self.secret_key.get_secret_value()},
                data={"app_id": self.app_id, "refresh_token": old_refresh, "grant_type": "refresh_token"},
                timeout=self.timeout,
            )
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ZaloTokenError(
                redact(f"token refresh failed: {type(exc).__name__}: {exc}", secrets)
            ) from None
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if response.status_code != 200 or not access or not refresh:
            reason = data.get("error_description") or data.get("message") or data.get("error_name") or ""
            raise ZaloTokenError(
                redact(
                    f"token refresh refused (HTTP {response.status_code}, {data.get('error')}): {reason}",
                    secrets,
                )
            )
        now = self.clock()
        expires = now + timedelta(seconds=int(data.get("expires_in") or 90000))
        row.access_token = access
        row.access_expires_at = expires
        row.refresh_token = refresh
        row.refresh_expires_at = now + REFRESH_TOKEN_LIFETIME
        row.updated_at = now
        self.refresh_count += 1
        return access, expires
