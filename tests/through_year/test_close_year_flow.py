"""The close-year flow on a real Prefect API: final statuses from the annual report, the cycle closed, the
carry-over list as an artifact; a second run changes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlmodel import Session, select

from models import AuditEntry, PlanningCycle
from tests.through_year.year_world import build_year, request_reports, send_report

pytestmark = pytest.mark.prefect


async def _artifact(key: str):  # type: ignore[no-untyped-def]
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return found[0] if found else None


async def _latest(key: str) -> str:
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    async with get_client() as client:
        (latest,) = await client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
    return str(latest.data)


def test_close_year_lists_the_carry_over(prefect_api: str, session: Session) -> None:
    from flows.close_year import close_year

    world = build_year(session)
    last = list(world.periods)[-1]
    request_reports(session, world, last)
    sent = world.periods[last].deadline
    send_report(session, world, last, "SYT", sent, {"benh-an": ("completed", 100, 2_500)})
    send_report(session, world, last, "SKHCN", sent, {"giam-sat": ("in_progress", 70, 500)})
    as_of = sent + timedelta(days=10)

    first = close_year(year=2027, as_of=as_of)
    assert first["closed_now"] is True and first["period"] == world.periods[last].label
    assert first["carry_over"] >= 1  # the monitoring centre (70 %) and whatever was never reported
    session.expire_all()
    assert session.exec(select(PlanningCycle).where(PlanningCycle.year == 2027)).one().status == "closed"
    artifact = asyncio.run(_artifact("carry-over-2027"))
    assert artifact is not None
    names = {row["Nhiệm vụ, dự án"] for row in json.loads(artifact.data)}
    assert "Trung tâm giám sát an toàn thông tin" in names
    assert "Bệnh án điện tử" not in names  # completed: not carried over
    assert len(names) == first["carry_over"]
    board = asyncio.run(_latest("bang-dieu-khien-2027"))
    assert "(đã khóa sổ)" in board.splitlines()[2]  # the cycle's board, refreshed by this run

    second = close_year(year=2027, as_of=as_of)
    assert second["closed_now"] is False and second["carry_over"] == first["carry_over"]
    assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "year.closed")).all()) == 1
