"""Signed unit links: scoped, expiring, revocable, tamper-evident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from tasks.common.links import LinkError, issue_link_token, revoke_links, verify_link_token
from tests.factories import make_cycle, make_unit

NOW = datetime(2026, 8, 1, 8, 0, tzinfo=UTC)


def test_link_grants_its_unit_and_cycle_only(session: Session) -> None:
    unit_a, unit_b = make_unit(session), make_unit(session)
    cycle = make_cycle(session)
    token_a = issue_link_token(session=session, unit=unit_a, cycle=cycle, now=NOW)
    token_b = issue_link_token(session=session, unit=unit_b, cycle=cycle, now=NOW)
    assert verify_link_token(session=session, token=token_a, now=NOW).unit_id == unit_a.id
    assert verify_link_token(session=session, token=token_b, now=NOW).unit_id == unit_b.id
    # re-issuing while valid gives the same address (messages sent again carry the same link)
    assert issue_link_token(session=session, unit=unit_a, cycle=cycle, now=NOW + timedelta(days=1)) == token_a


def test_tampered_payload_or_signature_refused(session: Session) -> None:
    unit_a, unit_b = make_unit(session), make_unit(session)
    cycle = make_cycle(session)
    token_a = issue_link_token(session=session, unit=unit_a, cycle=cycle, now=NOW)
    token_b = issue_link_token(session=session, unit=unit_b, cycle=cycle, now=NOW)
    payload_a, sig_a = token_a.split(".")
    payload_b, _ = token_b.split(".")
    for forged in (f"{payload_b}.{sig_a}", f"{payload_a}.{sig_a[:-2]}xx", "garbage", f"{payload_a}."):
        with pytest.raises(LinkError) as info:
            verify_link_token(session=session, token=forged, now=NOW)
        assert info.value.reason == "tampered"


def test_expired_and_revoked_refused(session: Session) -> None:
    unit = make_unit(session)
    cycle = make_cycle(session)
    token = issue_link_token(session=session, unit=unit, cycle=cycle, now=NOW)
    with pytest.raises(LinkError, match="expired"):
        verify_link_token(session=session, token=token, now=NOW + timedelta(days=61))
    assert revoke_links(session=session, unit_id=unit.id, cycle_id=cycle.id, now=NOW) == 1  # type: ignore[arg-type]
    with pytest.raises(LinkError, match="revoked"):
        verify_link_token(session=session, token=token, now=NOW)
    fresh = issue_link_token(session=session, unit=unit, cycle=cycle, now=NOW)
    assert fresh != token
    assert verify_link_token(session=session, token=fresh, now=NOW).unit_id == unit.id


def test_a_different_secret_invalidates_every_link(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from plancycle.settings import Settings

    unit = make_unit(session)
    cycle = make_cycle(session)
    token = issue_link_token(session=session, unit=unit, cycle=cycle, now=NOW)
    rotated = Settings(signing_secret="x" * 40)  # type: ignore[arg-type]
    with pytest.raises(LinkError, match="tampered"):
        verify_link_token(session=session, token=token, now=NOW, settings=rotated)


def test_production_refuses_the_built_in_secret() -> None:
    from pydantic import ValidationError

    from plancycle.settings import Settings

    with pytest.raises(ValidationError, match="PLANCYCLE_SIGNING_SECRET"):
        Settings(env="production")
    assert Settings(env="production", signing_secret="s" * 32).env == "production"  # type: ignore[arg-type]


def test_links_follow_the_portal_port_unless_a_public_address_is_set() -> None:
    from plancycle.settings import Settings

    assert Settings(portal_port=8591).resolved_public_base_url == "http://127.0.0.1:8591"
    assert (
        Settings(portal_host="0.0.0.0", portal_port=8591).resolved_public_base_url == "http://127.0.0.1:8591"
    )
    public = Settings(portal_port=8591, public_base_url="https://kehoach.gialai.gov.vn/")
    assert public.resolved_public_base_url == "https://kehoach.gialai.gov.vn"
