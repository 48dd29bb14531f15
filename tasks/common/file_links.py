"""Signed download links for the files flows write for people (annexes, the draft and the issued plan,
status and progress workbooks, audit exports), as the coordinator opens them from a run's artifacts.

Same signing as the units' links (HMAC-SHA256 with ``PLANCYCLE_SIGNING_SECRET``, former secrets still
accepted, see ``tasks.common.links.signing_keys``) under a scope of its own: a unit's token is never a file
token and the other way round. The token names a path *inside the data folder* and an expiry; nothing is
stored, so a link works as long as it has not expired and the file is still there. Links are built on
``PLANCYCLE_PUBLIC_BASE_URL`` so they work behind the production reverse proxy, like the units' links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from models.base import utcnow
from plancycle.settings import Settings, get_settings
from tasks.common.links import LinkError, signing_keys

SCOPE = "coordinator-file"
FILE_ROUTE = "/files"


@dataclass(frozen=True)
class FileLink:
    """A file a person can open: its name and the signed address that downloads it."""

    name: str
    url: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, key: bytes) -> str:
    # the scope is part of what is signed: a unit link's signature can never verify here
    return _b64(hmac.new(key, f"{SCOPE}:{payload}".encode(), hashlib.sha256).digest())


def in_data_folder(path: Path, settings: Settings) -> Path | None:
    """``path`` relative to the data folder, or None when it lies outside it."""
    root = settings.resolved_data_dir
    try:
        return path.expanduser().resolve().relative_to(root)
    except ValueError:
        return None


def issue_file_token(path: Path, *, settings: Settings | None = None, now: datetime | None = None) -> str:
    """A token for one file of the data folder, valid ``link_valid_days``. ``LinkError("outside")`` for a
    file elsewhere (a folder chosen in the run form outside the data folder is not served)."""
    settings = settings or get_settings()
    relative = in_data_folder(path, settings)
    if relative is None:
        raise LinkError("outside")
    expires = (now or utcnow()) + timedelta(days=settings.link_valid_days)
    body = {"f": relative.as_posix(), "e": int(expires.timestamp())}
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{_sign(payload, signing_keys(settings)[0])}"


def file_link(
    path: Path, *, settings: Settings | None = None, now: datetime | None = None
) -> FileLink | None:
    """The signed download address of ``path`` (None when it lies outside the data folder)."""
    settings = settings or get_settings()
    try:
        token = issue_file_token(path, settings=settings, now=now)
    except LinkError:
        return None
    return FileLink(name=path.name, url=f"{settings.resolved_public_base_url}{FILE_ROUTE}/{token}")


def verify_file_token(token: str, *, settings: Settings | None = None, now: datetime | None = None) -> Path:
    """The file a token grants, inside the data folder, or ``LinkError`` (tampered, expired, missing)."""
    settings = settings or get_settings()
    payload, _, signature = token.partition(".")
    given = signature.encode()
    if (
        not payload
        or not signature
        or not any(
            [hmac.compare_digest(given, _sign(payload, key).encode()) for key in signing_keys(settings)]
        )
    ):
        raise LinkError("tampered")
    try:
        body = json.loads(_unb64(payload))
        relative, expires = str(body["f"]), int(body["e"])
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise LinkError("tampered") from None
    if datetime.fromtimestamp(expires, UTC) <= (now or utcnow()):
        raise LinkError("expired")
    root = settings.resolved_data_dir
    path = (root / relative).resolve()
    if not path.is_relative_to(root):  # a signed token never names one, but the check costs nothing
        raise LinkError("tampered")
    if not path.is_file():
        raise LinkError("missing")
    return path
