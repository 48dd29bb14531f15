"""The consolidate-progress flow on a real Prefect API: Q3 of the simulated year (one unit missing), the
Excel report read back, the statuses tracked on the items, a second run changing nothing."""

from __future__ import annotations

from datetime import timedelta

import openpyxl
import pytest
from sqlmodel import Session, select

from models import AuditEntry, PlanItem
from tests.through_year.year_world import TRIEU, build_year, request_reports, send_report

pytestmark = pytest.mark.prefect


def test_consolidate_progress_writes_the_report_and_tracks_statuses(
    prefect_api: str, session: Session
) -> None:
    from flows.consolidate_progress import consolidate_progress

    world = build_year(session)
    for key in ("Q1", "Q2", "Q3"):
        request_reports(session, world, key)
        sent = world.periods[key].deadline
        send_report(
            session,
            world,
            key,
            "SYT",
            sent,
            {"benh-an": ("in_progress", 20 * int(key[1]), 300 * int(key[1]))},
        )
        send_report(session, world, key, "SKHCN", sent, {"giam-sat": ("in_progress", 30, 100)}, {"CT01": 91})
        if key != "Q3":
            send_report(session, world, key, "HCP", sent, {"mot-cua": ("in_progress", 50, 60)}, {"CT01": 71})
    as_of = world.periods["Q3"].deadline + timedelta(days=3)

    summary = consolidate_progress(year=2027, as_of=as_of)
    assert summary["period"] == "Quý III/2027"
    assert "HCP" in summary["missing"]  # type: ignore[operator]
    assert summary["disbursed_dong"] == (900 + 100 + 60) * TRIEU
    assert summary["indicators_met"] == 2  # province 91 ≥ 90, district 71 ≥ 70 (its Q2 value)
    book = openpyxl.load_workbook(str(summary["workbook"]))
    assert book.sheetnames == ["Tổng hợp", "Theo nhiệm vụ", "Theo đơn vị", "Chỉ tiêu", "Chưa báo cáo"]
    assert book["Tổng hợp"]._charts  # type: ignore[attr-defined]
    items = {row[1]: row for row in book["Theo nhiệm vụ"].iter_rows(min_row=5, values_only=True)}
    assert items["Bệnh án điện tử"][5] == 2_500 * TRIEU and items["Bệnh án điện tử"][6] == 900 * TRIEU
    assert items["TỔNG CỘNG"][6] == (900 + 100 + 60) * TRIEU
    missing = [row[0] for row in book["Chưa báo cáo"].iter_rows(min_row=5, values_only=True)]
    assert "HCP" in missing

    session.expire_all()
    benh_an = session.exec(select(PlanItem).where(PlanItem.name == "Bệnh án điện tử")).one()
    assert (benh_an.status, benh_an.percent_complete) == ("in_progress", 60)
    consolidate_progress(year=2027, as_of=as_of)  # again: nothing changes
    tracked = session.exec(select(AuditEntry).where(AuditEntry.action == "progress.statuses_tracked")).all()
    assert len(tracked) == 1
