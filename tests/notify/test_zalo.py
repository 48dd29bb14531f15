"""Zalo through the Apprise plugin against a real fake Zalo HTTP server on loopback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import apprise
import httpx
from pydantic import SecretStr
from sqlmodel import Session, create_engine, select

from apprise_zalo import NotifyZalo, NotifyZaloZNS
from models import NotificationLog, ZaloCredential
from models.base import DeliveryStatus
from models.db import get_engine
from tasks.notify import DatabaseZaloTokens, DeliveryPolicy, send_batch
from tests.factories import make_contact
from tests.notify.conftest import FAST, due_soon
from tests.notify.servers import FakeZalo, SmtpServer


def _credential(db_url: str) -> ZaloCredential:
    with Session(get_engine(db_url)) as s:
        return s.exec(select(ZaloCredential)).one()


def test_plugin_is_registered_with_apprise_and_hides_tokens(zalo: FakeZalo) -> None:
    zalo.valid_access.add("static-access-token-123")
    plugin = apprise.Apprise.instantiate(
        f"zalo://4242/zu-1/?mode=transaction&base={zalo.base}&token=static-access-token-123"
    )
    assert isinstance(plugin, NotifyZalo)
    assert "static-access-token-123" not in plugin.url(privacy=True)
    assert apprise.Apprise.instantiate(plugin.url()).url() == plugin.url()
    assert plugin.notify(body="Xin chào từ Sở KH&CN") is True
    assert zalo.messages[-1] == {
        "mode": "transaction",
        "user_id": "zu-1",
        "text": "Xin chào từ Sở KH&CN",
        "message_id": plugin.outcomes[0].message_id,
    }
    zns = apprise.Apprise.instantiate("zns://4242/84900000000/?template=T1")
    assert isinstance(zns, NotifyZaloZNS)
    team = apprise.Apprise()
    assert team.add(f"zalo://4242/zu-2/?base={zalo.base}&token=static-access-token-123") and team.notify(
        body="ok"
    )


def test_sends_and_stores_the_provider_message_id(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any, session: Session
) -> None:
    seed_zalo(zalo)
    result = send_batch([due_soon(world, "zalo")], settings=make_settings(zalo=zalo), policy=FAST)
    (delivery,) = result.deliveries
    assert delivery.channel == "zalo" and delivery.status == DeliveryStatus.sent
    (sent,) = zalo.messages
    assert sent["user_id"] == "zu-duc" and sent["mode"] == "cs"
    assert "https://kehoach.gialai.gov.vn/u/abc?t=1" in sent["text"] and "Nhắc hạn" in sent["text"]
    assert session.exec(select(NotificationLog)).one().provider_message_id == sent["message_id"]
    assert zalo.refresh_calls == 0


def test_expired_token_is_refreshed_rotation_stored_first_then_retried(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any, db_url: str
) -> None:
    seed_zalo(zalo)
    zalo.expire_access_tokens()  # Zalo revoked it early: the first send gets -216
    observer = create_engine(db_url) if db_url.startswith("postgresql") else get_engine(db_url)
    seen_in_db_at_first_use: list[str] = []

    def check_durable(access_token: str) -> None:
        # Called by the fake server when it accepts a message: the rotated refresh token must already be
        # committed (read through a separate connection) before the new access token is ever used.
        with Session(observer) as s:
            seen_in_db_at_first_use.append(s.exec(select(ZaloCredential)).one().refresh_token)

    zalo.on_send = check_durable
    result = send_batch([due_soon(world, "zalo")], settings=make_settings(zalo=zalo), policy=FAST)

    assert result.deliveries[0].status == DeliveryStatus.sent and result.deliveries[0].attempts == 1
    assert zalo.refresh_calls == 1 and len(zalo.messages) == 1
    assert seen_in_db_at_first_use == [zalo.refresh_token]
    stored = _credential(db_url)
    assert stored.refresh_token == zalo.refresh_token != "R0"
    assert stored.access_token in zalo.valid_access
    # The spent refresh token is refused by Zalo; the stored one still works (a new process can refresh).
    old = httpx.post(
        f"{zalo.base}/v4/oa/access_token",
        headers={"secret_key": zalo.secret_key},
        data={"app_id": zalo.app_id, "refresh_token": "R0", "grant_type": "refresh_token"},
    ).json()
    assert old["error"] == -14014
    fresh = DatabaseZaloTokens(
        engine=get_engine(db_url),
        app_id=zalo.app_id,
        secret_key=SecretStr(zalo.secret_key),
        oauth_base=zalo.base,
    )
    token = fresh.refresh(stored.access_token or "")
    assert token in zalo.valid_access and _credential(db_url).refresh_token == zalo.refresh_token


def test_token_close_to_expiry_is_refreshed_before_use(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any
) -> None:
    seed_zalo(zalo, access_valid_for=timedelta(minutes=5))
    send_batch([due_soon(world, "zalo")], settings=make_settings(zalo=zalo), policy=FAST)
    assert zalo.refresh_calls == 1 and zalo.send_calls == 1  # no failed call with the old token


def test_not_a_follower_is_permanent_and_falls_back_to_email(
    world: dict[str, Any],
    zalo: FakeZalo,
    smtp: SmtpServer,
    make_settings: Any,
    seed_zalo: Any,
    session: Session,
) -> None:
    seed_zalo(zalo)
    zalo.not_followers.add("zu-duc")
    settings = make_settings(zalo=zalo, smtp=smtp)
    result = send_batch([due_soon(world, "zalo")], settings=settings, policy=FAST)

    zalo_d, email_d = result.deliveries
    assert zalo_d.status == DeliveryStatus.failed_permanent and zalo_d.attempts == 1
    assert "-213" in (zalo_d.error or "")
    assert email_d.channel == "email" and email_d.status == DeliveryStatus.sent
    assert email_d.fallback_of == zalo_d.idempotency_key
    assert [r.rcpt_tos for r in smtp.received] == [["duc@stnmt.gialai.gov.vn"]]
    rows = {r.channel: r for r in session.exec(select(NotificationLog))}
    assert rows["email"].fallback_of_id == rows["zalo"].id

    again = send_batch([due_soon(world, "zalo")], settings=settings, policy=FAST)
    assert not any(d.attempted_now for d in again.deliveries) and len(smtp.received) == 1


def test_no_fallback_when_email_is_already_a_channel(
    world: dict[str, Any], zalo: FakeZalo, smtp: SmtpServer, make_settings: Any, seed_zalo: Any
) -> None:
    seed_zalo(zalo)
    zalo.not_followers.add("zu-viet")
    result = send_batch([due_soon(world, "both")], settings=make_settings(zalo=zalo, smtp=smtp), policy=FAST)
    assert [(d.channel, d.status) for d in result.deliveries] == [
        ("email", DeliveryStatus.sent),
        ("zalo", DeliveryStatus.failed_permanent),
    ]
    assert len(smtp.received) == 1


def test_5xx_twice_then_success_on_the_third_try(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any
) -> None:
    seed_zalo(zalo)
    zalo.fail_5xx["zu-duc"] = 2
    (delivery,) = send_batch(
        [due_soon(world, "zalo")], settings=make_settings(zalo=zalo), policy=FAST
    ).deliveries
    assert delivery.status == DeliveryStatus.sent and delivery.attempts == 3 and len(zalo.messages) == 1


def test_rate_limit_is_transient(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any
) -> None:
    seed_zalo(zalo)
    zalo.rate_limit["zu-duc"] = 5
    policy = DeliveryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.01)
    delivery, fallback = send_batch(
        [due_soon(world, "zalo")], settings=make_settings(zalo=zalo), policy=policy
    ).deliveries
    assert delivery.attempts == 2 and "-32" in delivery.error  # retried: transient
    assert fallback.fallback_of == delivery.idempotency_key and fallback.status == DeliveryStatus.sent


def test_zns_template_message_to_a_phone(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any
) -> None:
    seed_zalo(zalo)
    policy = FAST.model_copy(update={"zns_templates": {"due_soon": "301234"}})
    (delivery,) = send_batch(
        [due_soon(world, "zns")], settings=make_settings(zalo=zalo), policy=policy
    ).deliveries
    assert delivery.channel == "zns" and delivery.status == DeliveryStatus.sent
    (sent,) = zalo.zns
    assert sent["phone"] == "84912345678" and sent["template_id"] == "301234"
    assert sent["template_data"]["deadline"] == "30/09/2026" and sent["template_data"]["days_left"] == "3"
    assert len(sent["tracking_id"]) == 32 and delivery.provider_message_id == sent["msg_id"]
    # Without a configured ZNS template the contact has no usable channel: recorded as skipped.
    (skipped,) = send_batch(
        [due_soon(world, "zns", key="k2")], settings=make_settings(zalo=zalo), policy=FAST
    ).deliveries
    assert skipped.status == DeliveryStatus.skipped


def test_refused_refresh_is_transient_and_leaks_no_secret(
    world: dict[str, Any], zalo: FakeZalo, make_settings: Any, seed_zalo: Any, session: Session
) -> None:
    seed_zalo(zalo)
    zalo.expire_access_tokens()
    zalo.refresh_token = "someone-else-rotated-it"
    policy = DeliveryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.01)
    # A Zalo-only contact without email: nothing to fall back to.
    no_email = make_contact(
        session, world["unit"], email=None, zalo_user_id="zu-x", preferred_channels="zalo"
    )
    session.commit()
    message = due_soon(world, "zalo").model_copy(update={"contact_id": no_email.id})
    (delivery,) = send_batch([message], settings=make_settings(zalo=zalo), policy=policy).deliveries
    assert delivery.status == DeliveryStatus.failed_transient and "refresh" in (delivery.error or "")
    assert delivery.attempts == 1  # a refused refresh is not retried within the batch
    row = session.exec(select(NotificationLog)).one()
    assert row.next_attempt_at is not None  # retried later by retry_deliveries
    for secret in (zalo.secret_key, "R0", "A0"):
        assert secret not in (row.error or "") and secret not in delivery.model_dump_json()
