"""One `Settings` object, read from the environment (prefix ``PLANCYCLE_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The only secret with a built-in value. It is refused outside local/dev/test (see the validator).
UNSAFE_DEV_SECRET = "local-dev-only-change-me"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANCYCLE_", env_file=".env", extra="ignore")

    env: Literal["local", "dev", "test", "production"] = Field(
        "local", description="local/dev/test accept the built-in signing secret; production does not."
    )
    data_dir: Path = Field(Path("data"), description="Local data folder: SQLite file, outbox, archive.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Default: SQLite file in data_dir. PostgreSQL: postgresql+psycopg://…",
    )
    timezone: str = "Asia/Ho_Chi_Minh"
    locale: Literal["vi", "en"] = "vi"
    province_name: str = Field("Gia Lai", description="Province shown in documents and messages.")
    public_base_url: str | None = Field(
        None,
        description="Base URL of the portal in the links units receive. Default: the portal's own host and "
        "port (portal_host, portal_port), so links follow PLANCYCLE_PORTAL_PORT.",
    )
    signing_secret: SecretStr = Field(SecretStr(UNSAFE_DEV_SECRET), description="HMAC key for unit links.")
    signing_secret_previous: SecretStr | None = Field(
        None,
        description="Earlier signing secrets (comma separated), still accepted for links already sent; "
        "new links use signing_secret. See docs/production.md (rotation).",
    )
    link_valid_days: int = Field(60, ge=1, le=400)
    approval_reply_working_days: int = Field(
        5,
        ge=1,
        le=60,
        description="Reply-by date in the approvers' email: this many working days after sending.",
    )
    approval_chain_file: Path | None = Field(
        None,
        description="The province's default approval chain (YAML), used when a cycle has none configured. "
        "Default: data_dir/approval_chain.yaml (written by the demo seed).",
    )

    # Notifications. Without an SMTP URL, email goes to the outbox folder.
    smtp_url: SecretStr | None = Field(
        None, description="Apprise mailto:// or mailtos:// URL (holds the password, so it is secret)."
    )
    email_from: str = "ke-hoach@example.org"
    email_from_name: str = "Sở Khoa học và Công nghệ"
    outbox_dir: Path | None = None
    inbox_url: str | None = Field(
        None, description="Folder (any fsspec URL) polled for submitted workbooks. Default: data_dir/inbox."
    )
    zalo_enabled: bool = False
    zalo_app_id: str | None = None
    zalo_secret_key: SecretStr | None = None
    zalo_oa_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    zalo_zns_base: str = "https://business.openapi.zalo.me"
    team_notify_urls: SecretStr | None = Field(
        None, description="Apprise URLs (comma separated) for the coordinators' own team channel."
    )
    send_concurrency: int = Field(8, ge=1, le=64)

    # Local stack.
    prefect_api_url: str | None = Field(None, description="Use this Prefect server instead of starting one.")
    prefect_port: int = 4200
    portal_host: str = "127.0.0.1"
    portal_port: int = 8080
    portal_workers: int = Field(
        1,
        ge=1,
        le=32,
        description="Uploads parsed and stored at once by the portal (memory grows with it; the work holds "
        "the GIL, so more than one adds no throughput: portal/pools.py).",
    )
    portal_apart_bytes: int = Field(
        128 * 1024,
        ge=0,
        description="Uploads of at least this many bytes (about 2,000 rows) are parsed and stored in a "
        "process of their own, so the portal's pages do not wait for them and their memory is returned "
        "(portal/apart.py); 0: every upload.",
    )
    work_pool: str = "plancycle"

    @model_validator(mode="after")
    def _refuse_unsafe_secret(self) -> Settings:
        secret = self.signing_secret.get_secret_value()
        if self.env == "production" and (secret == UNSAFE_DEV_SECRET or len(secret) < 32):
            raise ValueError(
                "PLANCYCLE_SIGNING_SECRET phải được đặt (ít nhất 32 ký tự) khi PLANCYCLE_ENV=production. "
                "/ PLANCYCLE_SIGNING_SECRET must be set (32+ characters) in production."
            )
        previous = self.signing_secret_previous.get_secret_value() if self.signing_secret_previous else ""
        weak = [old for old in (p.strip() for p in previous.split(",")) if old and len(old) < 32]
        if self.env == "production" and weak:
            raise ValueError(
                "Mỗi khóa cũ trong PLANCYCLE_SIGNING_SECRET_PREVIOUS phải có ít nhất 32 ký tự khi "
                "PLANCYCLE_ENV=production (khóa ngắn đoán được thì giả được đường dẫn). / Every key in "
                "PLANCYCLE_SIGNING_SECRET_PREVIOUS must be 32+ characters in production."
            )
        return self

    def local_now(self) -> datetime:
        """The wall clock in the province's time zone, naive (for quiet hours). Flows prefer ``as_of``."""
        return datetime.now(ZoneInfo(self.timezone)).replace(tzinfo=None)

    def today(self) -> date:
        """Today in the province's time zone: the default ``as_of`` of every flow and command."""
        return self.local_now().date()

    @property
    def resolved_data_dir(self) -> Path:
        return _resolved(self.data_dir, os.getcwd())

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'plancycle.db'}"

    @property
    def resolved_public_base_url(self) -> str:
        """The start of every link a unit or approver receives, without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return self.local_portal_url

    @property
    def local_portal_url(self) -> str:
        """Where this machine reaches the portal it serves on ``portal_host``:``portal_port``."""
        host = self.portal_host
        if host in ("0.0.0.0", "::", ""):  # listening everywhere: this machine reaches it on loopback
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.portal_port}"

    @property
    def resolved_outbox_dir(self) -> Path:
        return _resolved(self.outbox_dir or self.resolved_data_dir / "outbox", os.getcwd())

    @property
    def resolved_inbox_url(self) -> str:
        return self.inbox_url or str(self.resolved_data_dir / "inbox")

    @property
    def archive_dir(self) -> Path:
        return self.resolved_data_dir / "archive"


@lru_cache(maxsize=64)
def _resolved(path: Path, cwd: str) -> Path:
    """``path`` made absolute, ``~`` and symbolic links resolved (from ``cwd`` when relative). Asked on
    every upload and every message: resolving walks the file system, so the answer is kept."""
    return (Path(cwd) / path.expanduser()).resolve()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings. Tests call ``get_settings.cache_clear()`` after changing the environment."""
    return Settings()


class SettingsError(RuntimeError):
    """Settings that must not start a process: the rules broken, never the values (they hold secrets)."""


def checked_settings() -> Settings:
    """`get_settings`, or `SettingsError` naming each broken rule. A pydantic ``ValidationError``'s text
    repeats the input, secrets included, so it is never shown or logged as such."""
    try:
        return get_settings()
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise SettingsError(problems) from None
