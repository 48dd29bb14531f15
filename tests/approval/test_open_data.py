"""The issued plan as open data: the Gia Lai 2020 plan imported with its statuses and one quarter's
progress, written as a data package by the command line and validated with the `frictionless` library;
and served read-only as JSON by a real portal over HTTP (published plans only, no personal data)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from frictionless import Package, validate
from sqlmodel import Session, select

from models import Contact, PlanItem, ProgressEntry, ProgressReport, ReportingPeriod
from models.cycle import get_cycle_by_year
from models.registry import get_unit_by_code
from plancycle.settings import PROJECT_ROOT
from tasks.approval.plan_import import import_issued_plan
from tasks.registry.directory import import_registry
from tasks.submissions.cycles import CycleSpec, open_cycle_records
from tests.approval.test_plan_import import APPENDIX, DEMO, DISTRICTS, STATUSES
from tests.notify.servers import serve_portal

SECRET_PROBLEM = "Anh Nguyễn Văn Bình (0912345678) chưa bàn giao thiết bị"


@pytest.fixture
def published(session: Session) -> Session:
    """2020 imported as issued, with a quarter's progress for two items; 2021 opened (not published)."""
    import_registry(session=session, paths=[DEMO / "units.csv", DEMO / "contacts.csv", DISTRICTS])
    import_issued_plan(session=session, path=APPENDIX, year=2020, statuses=STATUSES, actor="test")
    cycle = get_cycle_by_year(session=session, year=2020)
    assert cycle is not None
    period = ReportingPeriod(
        cycle_id=cycle.id, kind="quarterly", label="Quý I/2020",  # type: ignore[arg-type]
        starts_on=date(2019, 12, 15), ends_on=date(2020, 3, 14), deadline=date(2020, 3, 20),
    )  # fmt: skip
    session.add(period)
    session.flush()
    stttt = get_unit_by_code(session=session, code="STTTT")
    report = ProgressReport(period_id=period.id, unit_id=stttt.id, status="accepted")  # type: ignore[arg-type,union-attr]
    session.add(report)
    session.flush()
    items = {i.row_ref: i for i in session.exec(select(PlanItem))}
    for ref, status, percent, disbursed in (
        ("I.1", "in_progress", 40, 200_000_000),
        ("I.2", "not_started", 0, None),
    ):
        session.add(
            ProgressEntry(
                report_id=report.id, plan_item_id=items[ref].id, status=status,  # type: ignore[arg-type]
                percent_complete=percent, disbursed=disbursed, problems=SECRET_PROBLEM,
            )
        )  # fmt: skip
    open_cycle_records(
        session=session,
        spec=CycleSpec(year=2021, submission_deadline=date(2020, 9, 30)),
        as_of=date(2020, 8, 3),
        actor="test",
    )
    session.commit()
    return session


def _cli(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANCYCLE_")}
    env.update({"PLANCYCLE_DATABASE_URL": db_url, "PLANCYCLE_DATA_DIR": str(tmp_path / "data")})
    return subprocess.run(
        [sys.executable, "-m", "plancycle.cli", "plans", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_data_package_validates_with_frictionless(
    db_url: str, published: Session, tmp_path: Path
) -> None:
    out = tmp_path / "open-data-2020"
    done = _cli(db_url, tmp_path, "open-data", "--year", "2020", "--out", str(out))
    assert done.returncode == 0, done.stderr
    report = validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    package = Package(str(out / "datapackage.json"))
    assert [r.name for r in package.resources] == ["items", "amounts", "units", "progress"]

    items = _rows(out / "items.csv")
    assert len(items) == 36 and items[0]["ref"] == "I.1" and items[0]["status"] == "completed"
    assert sum(int(i["total_dong"]) for i in items) == 261_221_000_000
    amounts = _rows(out / "amounts.csv")
    health = [a for a in amounts if a["ref"] == "II.2"]
    assert health == [
        {
            "year": "2020",
            "ref": "II.2",
            "source_code": "NSTW",
            "source_name": "NSTW",
            "class_code": "",
            "amount_dong": "",
        }
    ]  # a source named without an amount stays empty, not 0
    units = {u["code"]: u for u in _rows(out / "units.csv")}
    assert units["STTTT"]["successor_code"] == "SKHCN" and "UBND-HUYEN" in units
    progress = _rows(out / "progress.csv")
    assert [(p["ref"], p["period"], p["percent_complete"], p["disbursed_dong"]) for p in progress] == [
        ("I.1", "Quý I/2020", "40", "200000000"),
        ("I.2", "Quý I/2020", "0", ""),
    ]
    everything = "".join(p.read_text(encoding="utf-8") for p in out.iterdir())
    assert "Nguyễn Văn Bình" not in everything and "@example.org" not in everything
    assert published.exec(select(Contact)).first() is not None  # contacts exist, and stay out

    not_yet = _cli(db_url, tmp_path, "open-data", "--year", "2021", "--out", str(tmp_path / "x"))
    assert not_yet.returncode == 1 and "Kế hoạch năm 2021 chưa được ban hành" in not_yet.stderr


@pytest.fixture
def live_portal(published: Session) -> Iterator[str]:
    with serve_portal() as base:
        yield base


def test_the_json_endpoint_serves_published_plans_only(live_portal: str) -> None:
    listing = httpx.get(f"{live_portal}/api/open-data/v1/plans", timeout=10)
    assert listing.status_code == 200 and listing.headers["content-type"].startswith("application/json")
    assert [p["year"] for p in listing.json()["plans"]] == [2020]  # 2021 is only being collected
    assert listing.json()["plans"][0]["decision_number"] == "1181/QĐ-UBND"

    plan = httpx.get(f"{live_portal}/api/open-data/v1/plans/2020", timeout=10)
    assert plan.status_code == 200
    body = plan.json()
    assert (body["version"], body["year"], body["money_unit"]) == ("1", 2020, "dong")
    assert set(body) >= {"items", "amounts", "units", "progress", "schema"}
    assert len(body["items"]) == 36 and body["items"][9]["ref"] == "I.10"
    assert body["items"][9]["status"] == "partly_done"
    assert [f["name"] for f in body["schema"]["items"]["fields"]][:3] == ["year", "ref", "name"]
    text = json.dumps(body, ensure_ascii=False)
    assert "Nguyễn Văn Bình" not in text and "@example.org" not in text and "problems" not in text

    missing = httpx.get(f"{live_portal}/api/open-data/v1/plans/2021", timeout=10)
    assert missing.status_code == 404 and "chưa được ban hành" in missing.json()["error"]
    refused = httpx.post(f"{live_portal}/api/open-data/v1/plans/2020", timeout=10)
    assert refused.status_code == 405
