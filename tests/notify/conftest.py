"""Fixtures for the notification tests: real loopback servers and settings that point at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import Session

from models.base import utcnow
from plancycle.settings import Settings
from tasks.notify import DeliveryPolicy, Message, save_zalo_credentials
from tests.factories import make_contact, make_cycle, make_unit
from tests.notify.servers import FakeZalo, SmtpServer

FAST = DeliveryPolicy(max_attempts=4, backoff_initial=0.02, backoff_max=0.1, concurrency=4)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def zalo() -> Iterator[FakeZalo]:
    fake = FakeZalo(access_token="A0").start()
    yield fake
    fake.stop()


@pytest.fixture
def make_settings(db_url: str, tmp_path: Any) -> Callable[..., Settings]:
    def build(*, smtp: SmtpServer | None = None, zalo: FakeZalo | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": db_url,
            "data_dir": tmp_path / "data",
            "email_from": "ke-hoach@skhcn.gialai.gov.vn",
            "email_from_name": "Sở Khoa học và Công nghệ",
            "smtp_url": SecretStr(smtp.url) if smtp else None,
        }
        if zalo is not None:
            values.update(
                zalo_enabled=True,
                zalo_app_id=zalo.app_id,
                zalo_secret_key=SecretStr(zalo.secret_key),
                zalo_oa_api_base=zalo.base,
                zalo_oauth_base=zalo.base,
                zalo_zns_base=zalo.base,
            )
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def seed_zalo(session: Session) -> Callable[[FakeZalo], None]:
    def seed(fake: FakeZalo, *, access_valid_for: timedelta = timedelta(hours=20)) -> None:
        save_zalo_credentials(
            session=session,
            app_id=fake.app_id,
            refresh_token=fake.refresh_token,
            access_token="A0",
            access_expires_at=utcnow() + access_valid_for,
        )
        session.commit()

    return seed


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """A cycle, a unit with a Vietnamese name, and a few contacts with different channel preferences."""
    cycle = make_cycle(session, year=2027)
    unit = make_unit(session, name="Sở Tài nguyên và Môi trường")
    contacts = {
        "email": make_contact(
            session,
            unit,
            full_name="Trần Thị Hồng Nhung",
            position="Chuyên viên",
            email="nhung@stnmt.gialai.gov.vn",
        ),
        "zalo": make_contact(
            session,
            unit,
            full_name="Lê Văn Đức",
            email="duc@stnmt.gialai.gov.vn",
            zalo_user_id="zu-duc",
            preferred_channels="zalo",
        ),
        "both": make_contact(
            session,
            unit,
            full_name="Phạm Quốc Việt",
            email="viet@stnmt.gialai.gov.vn",
            zalo_user_id="zu-viet",
            preferred_channels="email,zalo",
        ),
        "en": make_contact(
            session, unit, full_name="Nguyễn Minh Anh", email="anh@stnmt.gialai.gov.vn", locale="en"
        ),
        "zns": make_contact(
            session, unit, full_name="Võ Thành Long", phone="84912345678", preferred_channels="zns"
        ),
    }
    session.commit()
    return {"cycle": cycle, "unit": unit, "contacts": contacts}


def due_soon(world: dict[str, Any], who: str, key: str = "due-soon:2027:1", **extra: Any) -> Message:
    contact = world["contacts"][who]
    return Message(
        template="due_soon",
        key=key,
        contact_id=contact.id,
        cycle_id=world["cycle"].id,
        context={
            "deadline": date(2026, 9, 30),
            "days_left": 3,
            "link": "https://kehoach.gialai.gov.vn/u/abc?t=1",
            **extra,
        },
    )
