"""Rotating the link-signing secret: new links use the new secret, links already sent keep working while
the old secret is listed in PLANCYCLE_SIGNING_SECRET_PREVIOUS, and stop once it is removed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlmodel import Session

from plancycle.settings import UNSAFE_DEV_SECRET, Settings, get_settings
from tasks.common.links import LinkError, issue_link_token, signing_keys, verify_link_token
from tests.factories import make_cycle, make_unit

NOW = datetime(2026, 8, 1, 8, 0, tzinfo=UTC)
OLD = "old-secret-" + "o" * 32
NEW = "new-secret-" + "n" * 32


def _configure(monkeypatch: pytest.MonkeyPatch, secret: str, previous: str | None) -> Settings:
    """Set the secrets the way an operator does (environment) and read them back as the code does."""
    monkeypatch.setenv("PLANCYCLE_SIGNING_SECRET", secret)
    if previous is None:
        monkeypatch.delenv("PLANCYCLE_SIGNING_SECRET_PREVIOUS", raising=False)
    else:
        monkeypatch.setenv("PLANCYCLE_SIGNING_SECRET_PREVIOUS", previous)
    get_settings.cache_clear()
    return get_settings()


def test_link_sent_before_rotation_works_while_old_secret_is_previous(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit, cycle = make_unit(session), make_cycle(session)
    _configure(monkeypatch, OLD, None)
    sent = issue_link_token(session=session, unit=unit, cycle=cycle, now=NOW)

    _configure(monkeypatch, NEW, OLD)  # rotated: the old secret kept for links already sent
    assert verify_link_token(session=session, token=sent, now=NOW).unit_id == unit.id

    _configure(monkeypatch, NEW, "")  # every old link has expired: PREVIOUS emptied
    with pytest.raises(LinkError, match="tampered"):
        verify_link_token(session=session, token=sent, now=NOW)
    _configure(monkeypatch, NEW, None)
    with pytest.raises(LinkError, match="tampered"):
        verify_link_token(session=session, token=sent, now=NOW)


def test_new_links_are_signed_with_the_new_secret(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    unit, cycle = make_unit(session), make_cycle(session)
    _configure(monkeypatch, NEW, OLD)
    fresh = issue_link_token(session=session, unit=unit, cycle=cycle, now=NOW)

    only_new = Settings(signing_secret=NEW)  # type: ignore[arg-type]
    assert verify_link_token(session=session, token=fresh, now=NOW, settings=only_new).unit_id == unit.id
    only_old = Settings(signing_secret=OLD)  # type: ignore[arg-type]
    with pytest.raises(LinkError, match="tampered"):
        verify_link_token(session=session, token=fresh, now=NOW, settings=only_old)


def test_several_previous_secrets_and_a_forged_signature(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit, cycle = make_unit(session), make_cycle(session)
    older = "older-secret-" + "x" * 32
    _configure(monkeypatch, older, None)
    from_older = issue_link_token(session=session, unit=unit, cycle=cycle, now=NOW)

    settings = _configure(monkeypatch, NEW, f" {OLD} ,{older},,")  # spaces and empty entries ignored
    assert len(signing_keys(settings)) == 3
    assert verify_link_token(session=session, token=from_older, now=NOW).unit_id == unit.id
    payload, _ = from_older.split(".")
    for forged in (f"{payload}.{'A' * 43}", f"{payload}.ünïcode"):
        with pytest.raises(LinkError, match="tampered"):
            verify_link_token(session=session, token=forged, now=NOW)


def test_production_never_accepts_the_built_in_secret_as_a_previous_one() -> None:
    """Refused when the settings are read (the portal and `plancycle up` then refuse to start), and the
    refusal names the rule, not the secrets."""
    with pytest.raises(ValidationError) as info:
        Settings(
            env="production",
            signing_secret=NEW,  # type: ignore[arg-type]
            signing_secret_previous=f"{UNSAFE_DEV_SECRET},{OLD}",  # type: ignore[arg-type]
        )
    assert "PLANCYCLE_SIGNING_SECRET_PREVIOUS" in str(info.value)
    assert NEW not in str(info.value) and OLD not in str(info.value)
    # outside production the built-in secret may stay among the former keys (local installs rotate too)
    local = Settings(
        signing_secret=NEW,  # type: ignore[arg-type]
        signing_secret_previous=f"{UNSAFE_DEV_SECRET},{OLD}",  # type: ignore[arg-type]
    )
    assert signing_keys(local) == [NEW.encode(), UNSAFE_DEV_SECRET.encode(), OLD.encode()]


def test_secrets_never_shown(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _configure(monkeypatch, NEW, OLD)
    shown = " ".join([repr(settings), str(settings), settings.model_dump_json()])
    assert NEW not in shown and OLD not in shown
    unit, cycle = make_unit(session), make_cycle(session)
    token = issue_link_token(session=session, unit=unit, cycle=cycle, now=NOW)
    with pytest.raises(LinkError) as info:
        verify_link_token(session=session, token=token[:-3] + "abc", now=NOW)
    assert NEW not in repr(info.value) and OLD not in str(info.value)
