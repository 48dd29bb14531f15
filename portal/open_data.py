"""The read-only open-data API of the portal: published plans as JSON, for the provincial data-sharing
platform (schema: docs/open-data.md). No link token: only issued plans, no personal data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import Session

from tasks.approval.open_data import OpenDataError, descriptor, published_cycle, published_cycles, tables

API_VERSION = "1"


def open_data_router(open_session: Callable[[], Session]) -> APIRouter:
    router = APIRouter(prefix="/api/open-data/v1", tags=["open-data"])

    @router.get("/plans")
    def plans() -> dict[str, Any]:
        with open_session() as session:
            return {
                "version": API_VERSION,
                "plans": [
                    {
                        "year": c.year,
                        "title": c.title,
                        "decision_number": c.decision_number,
                        "decision_date": c.decision_date.isoformat() if c.decision_date else None,
                        "status": c.status,
                        "href": f"/api/open-data/v1/plans/{c.year}",
                    }
                    for c in published_cycles(session=session)
                ],
            }

    @router.get("/plans/{year}")
    def plan(year: int) -> Any:
        with open_session() as session:
            try:
                cycle = published_cycle(session=session, year=year)
            except OpenDataError as error:
                return JSONResponse(
                    {"error": error.message_vi, "error_en": error.message_en}, status_code=404
                )
            package = descriptor(cycle)
            return {
                "version": API_VERSION,
                "year": cycle.year,
                "title": cycle.title,
                "decision_number": cycle.decision_number,
                "decision_date": cycle.decision_date.isoformat() if cycle.decision_date else None,
                "money_unit": "dong",
                "schema": {r["name"]: r["schema"] for r in package["resources"]},
                **tables(session=session, cycle=cycle),
            }

    return router
