"""The import-plan deployment's flow on a real Prefect API: last year's published plan stored as the
year's issued plan, the run's artifact tells what was stored; a refused file fails the run, lists each
problem in its artifact and writes nothing."""

from __future__ import annotations

import asyncio

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from sqlmodel import Session, func, select

from models import PlanItem
from models.cycle import get_cycle_by_year
from tasks.approval.plan_import import PlanImportRefused
from tasks.registry.directory import import_registry
from tests.approval.test_plan_import import APPENDIX, DEMO, DISTRICTS, STATUSES

pytestmark = pytest.mark.prefect


async def _artifact(key: str):  # type: ignore[no-untyped-def]
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC
        )
    return found[0] if found else None


def test_import_plan_flow_stores_the_plan_or_lists_why_not(prefect_api: str, session: Session) -> None:
    from flows.import_plan import import_plan

    import_registry(session=session, paths=[DEMO / "units.csv"])
    session.commit()
    with pytest.raises(PlanImportRefused):
        import_plan(file=str(APPENDIX), year=2020)
    refused = asyncio.run(_artifact("plan-import-2020"))
    assert refused is not None and "UBND các huyện, thị xã, thành phố" in refused.data
    assert get_cycle_by_year(session=session, year=2020) is None

    import_registry(session=session, paths=[DISTRICTS])
    session.commit()
    result = import_plan(file=str(APPENDIX), year=2020, statuses=str(STATUSES))
    assert (result["outcome"], result["items"], result["statuses_set"]) == ("created", 36, 6)
    assert result["totals"]["total"] == 261_221_000_000
    artifact = asyncio.run(_artifact("plan-import-2020"))
    assert artifact is not None and "# Kế hoạch năm 2020: đã nhập" in artifact.data
    assert "1181/QĐ-UBND" in artifact.data
    session.expire_all()
    assert session.exec(select(func.count()).select_from(PlanItem)).one() == 36

    again = import_plan(file=str(APPENDIX), year=2020)
    assert again["outcome"] == "unchanged"
