"""Benchmark: consolidation of 100,000 items from 3,500 units with 4 funding sources. Not a test:

    .venv/bin/python bench/bench_consolidation.py [--items 100000] [--units 3500] [--database-url URL]
        [--json PATH]

A child process builds the database (SQLite file in a temporary folder unless --database-url names an
empty PostgreSQL database): units, accepted submissions, items with amounts in đồng, last year's plan.
Then, each phase in a fresh process so its peak memory is its own:

- materialize: accepted submission items → the cycle's plan (one transaction);
- grouped totals: the plan read from the database with pandas, ordered, grouped, summed (target ≤ 3 s);
- full build: the same plus last year's comparison, Annex 01 and every check;
- Excel export: the appendix workbook (target ≤ 30 s);
- naive: a Python loop over ORM rows (PlanItem, PlanItemAmount) summing into dicts, for comparison.

Every phase's totals are compared with the totals computed while generating: a fast wrong answer fails.
Targets (2-core machine): totals ≤ 3 s, Excel ≤ 30 s, peak RSS ≤ 1.5 GB. ``--json PATH`` also writes the
figures in the format of ``bench/common.py`` (``bench/run_all.py`` reads it).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SOURCES = [
    ("NSDP-SN", "Ngân sách tỉnh - vốn sự nghiệp"),
    ("NSDP-DTPT", "Ngân sách tỉnh - vốn đầu tư phát triển"),
    ("NSTW", "Ngân sách Trung ương"),
    ("NTDV", "Nguồn thu của đơn vị"),
]
FIELDS = [
    ("NB", "Ứng dụng CNTT trong nội bộ cơ quan nhà nước"),
    ("DV", "Ứng dụng CNTT phục vụ người dân và doanh nghiệp"),
    ("HT", "Phát triển hạ tầng kỹ thuật"),
    ("ATTT", "Bảo đảm an toàn thông tin"),
    ("NL", "Phát triển nguồn nhân lực"),
]
VERBS = ["Nâng cấp", "Xây dựng", "Triển khai", "Duy trì", "Mở rộng", "Thuê dịch vụ", "Trang bị", "Đào tạo"]
OBJECTS = [
    "hệ thống quản lý văn bản và điều hành",
    "cơ sở dữ liệu chuyên ngành",
    "phần mềm một cửa điện tử",
    "hạ tầng mạng nội bộ",
    "thiết bị bảo đảm an toàn thông tin",
    "cổng thông tin điện tử",
    "phòng họp trực tuyến",
    "kỹ năng số cho cán bộ",
    "hệ thống giám sát an toàn thông tin",
    "kho dữ liệu dùng chung",
]


OBJECTIVE = "Nâng cao chất lượng phục vụ người dân và doanh nghiệp; kết nối, chia sẻ dữ liệu."


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(url: str, items: int, units: int, seed: int) -> dict[str, int]:
    """Child process: the whole database, inserted with Core statements. Returns the expected totals."""
    import sqlalchemy as sa

    from models import (
        ApplicationField,
        FundingSource,
        IntakeAttempt,
        PlanItem,
        PlanItemAmount,
        PlanningCycle,
        Submission,
        SubmissionItem,
        SubmissionItemAmount,
        SubmissionVersion,
        Unit,
    )
    from models.db import make_engine, upgrade_database
    from models.registry import unit_name_key

    rng = random.Random(seed)
    upgrade_database(url)
    engine = make_engine(url)
    expected = {code: 0 for code, _ in SOURCES}
    with engine.begin() as conn:
        unit_rows = []
        for n in range(units):
            kind = "department" if n < 40 else ("public_service" if n < 300 else "commune")
            name = f"{'Sở' if n < 40 else ('Trung tâm' if n < 300 else 'UBND xã')} thử nghiệm số {n + 1}"
            unit_rows.append(
                {"code": f"DV{n + 1:05d}", "name": name, "name_key": unit_name_key(name), "kind": kind}
            )
        unit_ids = list(
            conn.scalars(sa.insert(Unit).returning(Unit.id, sort_by_parameter_order=True), unit_rows)
        )
        cycle_ids = {}
        for year in (2026, 2027):
            cycle_ids[year] = conn.scalar(
                sa.insert(PlanningCycle)
                .values(
                    year=year,
                    title=f"Kế hoạch ứng dụng CNTT, chuyển đổi số năm {year}",
                    money_unit="trieu",
                    status="reviewing",
                    coordinating_unit_id=unit_ids[0],
                    previous_cycle_id=cycle_ids.get(year - 1),
                )
                .returning(PlanningCycle.id)
            )
        source_ids: dict[int, dict[str, int]] = {}
        for year, cycle_id in cycle_ids.items():
            source_ids[year] = {}
            for order, (code, name) in enumerate(SOURCES):
                source_ids[year][code] = conn.scalar(
                    sa.insert(FundingSource)
                    .values(cycle_id=cycle_id, code=code, name=name, display_order=order)
                    .returning(FundingSource.id)
                )
            conn.execute(
                sa.insert(ApplicationField),
                [
                    {"cycle_id": cycle_id, "code": code, "name": name, "display_order": order}
                    for order, (code, name) in enumerate(FIELDS)
                ],
            )
        # last year's plan: 20,000 items, so the comparison and Annex 01 have real work
        previous_rows = [
            {
                "cycle_id": cycle_ids[2026],
                "name": f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} năm 2026 ({n})",
                "lead_unit_id": unit_ids[n % units],
                "field_code": FIELDS[n % len(FIELDS)][0],
                "origin": "new",
                "start_year": 2026,
                "end_year": 2026,
                "status": rng.choice(["completed", "in_progress", "not_started"]),
                "position": n,
                "rejected": False,
            }
            for n in range(max(items // 5, 1))
        ]
        previous_ids = list(
            conn.scalars(
                sa.insert(PlanItem).returning(PlanItem.id, sort_by_parameter_order=True), previous_rows
            )
        )
        conn.execute(
            sa.insert(PlanItemAmount),
            [
                {
                    "item_id": pid,
                    "funding_source_id": source_ids[2026]["NSDP-SN"],
                    "amount": rng.randint(1, 5000) * 1_000_000,
                }
                for pid in previous_ids
            ],
        )
        # this year's submissions: one accepted version per unit
        sub_ids = list(
            conn.scalars(
                sa.insert(Submission).returning(Submission.id, sort_by_parameter_order=True),
                [{"cycle_id": cycle_ids[2027], "unit_id": uid, "status": "accepted"} for uid in unit_ids],
            )
        )
        attempt_ids = list(
            conn.scalars(
                sa.insert(IntakeAttempt).returning(IntakeAttempt.id, sort_by_parameter_order=True),
                [
                    {
                        "submission_id": sid,
                        "channel": "cli",
                        "original_filename": "bench.xlsx",
                        "archive_path": "/dev/null",
                        "sha256": f"{sid:064d}",
                        "size_bytes": 1,
                        "accepted": True,
                    }
                    for sid in sub_ids
                ],
            )
        )
        version_ids = list(
            conn.scalars(
                sa.insert(SubmissionVersion).returning(SubmissionVersion.id, sort_by_parameter_order=True),
                [
                    {"submission_id": sid, "number": 1, "attempt_id": aid, "review_status": "accepted"}
                    for sid, aid in zip(sub_ids, attempt_ids, strict=True)
                ],
            )
        )
        chunk = 20_000
        for start in range(0, items, chunk):
            rows = []
            for n in range(start, min(items, start + chunk)):
                u = n % units
                carry = n % 10 == 0
                rows.append(
                    {
                        "submission_version_id": version_ids[u],
                        "sheet_row": 8 + n // units,
                        "name": f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} của đơn vị {u + 1} "
                        f"mục {n // units + 1}",
                        "lead_unit_id": unit_ids[u],
                        "field_code": FIELDS[n % len(FIELDS)][0],
                        "origin": "carry_over" if carry else "new",
                        "carry_over_from_id": previous_ids[n % len(previous_ids)] if carry else None,
                        "objective": OBJECTIVE,
                        "scope": "Toàn tỉnh",
                        "start_year": 2027,
                        "end_year": 2027 + n % 3,
                        "basis": "Kế hoạch số 123/KH-UBND",
                        "status": "proposed",
                    }
                )
            ids = list(
                conn.scalars(
                    sa.insert(SubmissionItem).returning(SubmissionItem.id, sort_by_parameter_order=True), rows
                )
            )
            amounts = []
            for item_id in ids:
                for code, _ in SOURCES:
                    if rng.random() < 0.75:
                        value = rng.randint(1, 9_999_999) * 1_000  # đồng, to the thousand
                        expected[code] += value
                        amounts.append(
                            {"item_id": item_id, "funding_source_id": source_ids[2027][code], "amount": value}
                        )
            conn.execute(sa.insert(SubmissionItemAmount), amounts)
    engine.dispose()
    expected["total"] = sum(expected.values())
    return expected


def _phase(name: str, url: str, out: Path, queue: Any) -> None:
    """Child process: one measured phase. Sends (seconds, peak MB, totals, extra)."""
    import os

    os.environ["PLANCYCLE_DATABASE_URL"] = url
    from sqlmodel import Session, select

    from models import PlanItem, PlanItemAmount
    from models.cycle import get_cycle_by_year, list_funding_sources
    from models.db import make_engine
    from tasks.consolidation import frames
    from tasks.consolidation import plan as c

    engine = make_engine(url)
    extra: dict[str, Any] = {}
    with Session(engine) as session:
        cycle = get_cycle_by_year(session=session, year=2027)
        assert cycle is not None and cycle.id is not None
        started = time.perf_counter()
        if name == "materialize":
            result = c.materialize_plan(session=session, cycle=cycle, actor="bench")
            totals = None
            extra["items"] = result.items
        elif name == "totals":
            sources = frames.plan_sources(session, cycle.id)
            raw = frames.plan_items_frame(session, cycle.id, sources, "amount", details=False)
            raw["within"] = raw["position"]
            items = frames.order_items(
                raw,
                grouping="lead_unit",
                units=frames.units_frame(session),
                fields=frames.plan_fields(session, cycle.id),
                coordinator_unit_id=cycle.coordinating_unit_id,
            )
            totals = frames.compute_totals(items, sources)["grand_totals"]
            extra["groups"] = int(items["group_no"].max())
        elif name in ("build", "excel"):
            plan = c.build_plan(session=session, cycle=cycle, as_of=date(2026, 11, 20))
            totals = plan.grand_totals
            extra["findings"] = len(plan.findings)
            if name == "excel":
                from tasks.consolidation.annexes import write_plan_workbook

                started = time.perf_counter()
                path = write_plan_workbook(plan, out / "bench.xlsx", province_name="Gia Lai")
                extra["MB on disk"] = round(path.stat().st_size / 1e6, 1)
        else:  # naive: a Python loop over ORM rows
            code_of = {s.id: s.code for s in list_funding_sources(session=session, cycle_id=cycle.id)}
            totals = {code: 0 for code in code_of.values()}
            by_unit: dict[int, int] = {}
            item_unit = {}
            for item in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id)):
                item_unit[item.id] = item.lead_unit_id
            for amount in session.exec(
                select(PlanItemAmount).where(
                    PlanItemAmount.item_id.in_(  # type: ignore[union-attr]
                        select(PlanItem.id).where(PlanItem.cycle_id == cycle.id)
                    )
                )
            ):
                value = amount.amount or 0
                totals[code_of[amount.funding_source_id]] += value
                unit = item_unit[amount.item_id]
                by_unit[unit] = by_unit.get(unit, 0) + value
            totals["total"] = sum(v for k, v in totals.items())
            extra["groups"] = len(by_unit)
        seconds = time.perf_counter() - started
    engine.dispose()
    queue.put((seconds, _peak_mb(), totals, extra))


def _run(name: str, url: str, out: Path) -> tuple[float, float, dict | None, dict]:
    queue: Any = mp.get_context("spawn").Queue()
    process = mp.get_context("spawn").Process(target=_phase, args=(name, url, out, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=3_500)
    parser.add_argument(
        "--database-url", default=None, help="an EMPTY database (default: a temporary SQLite file)"
    )
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures here (bench/common.py)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        url = args.database_url or f"sqlite:///{out / 'bench.db'}"
        started = time.perf_counter()
        with mp.get_context("spawn").Pool(1) as pool:
            expected = pool.apply(_generate, (url, args.items, args.units, args.seed))
        generate_seconds = time.perf_counter() - started
        print(f"generated {args.items:,} items from {args.units:,} units in {generate_seconds:.1f} s")
        rows = []
        phases = {}
        failures = []
        targets = {"totals": 3.0, "excel": 30.0}
        for name, label in (
            ("materialize", "materialize (submissions → plan)"),
            ("totals", "grouped totals from the database"),
            ("build", "full build (+ comparison, Annex 01, checks)"),
            ("excel", "Excel export (4 sheets)"),
            ("naive", "naive: Python loop over ORM rows"),
        ):
            seconds, peak, totals, extra = _run(name, url, out)
            if totals is not None and totals != expected:
                failures.append(f"{name}: totals {totals} != expected {expected}")
            rows.append((label, seconds, targets.get(name), peak, extra))
            phases[name] = (seconds, peak, extra)
        naive = rows[-1][1]
        print()
        print(f"{'phase':46} {'seconds':>8} {'target':>8} {'peak MB':>8}  notes")
        for label, seconds, target, peak, extra in rows:
            verdict = "" if target is None else ("ok" if seconds <= target else "MISSED")
            target_text = "" if target is None else f"≤ {target:g}"
            notes = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in extra.items())
            print(f"{label:46} {seconds:8.2f} {target_text:>8} {peak:8.0f}  {verdict} {notes}")
        fast = rows[1][1]
        peak_all = max(r[3] for r in rows)
        print()
        print(f"grouped totals vs naive ORM loop: {naive / fast:.1f}× faster ({fast:.2f} s vs {naive:.2f} s)")
        print(
            f"peak RSS of any phase: {peak_all:.0f} MB (target ≤ 1536 MB) "
            f"{'ok' if peak_all <= 1536 else 'MISSED'}"
        )
        print(f"expected total: {expected['total']:,} đồng; every phase's totals equal it: {not failures}")
        for failure in failures:
            print("FAILED", failure)
        if args.json:
            from bench.common import Figure, Measurement, write_report

            write_report(
                args.json,
                benchmark="consolidation",
                parameters={"items": args.items, "units": args.units, "database": url.split(":", 1)[0]},
                figures=[
                    Figure(
                        "totals_s",
                        "grouped totals from the database",
                        fast,
                        "s",
                        targets["totals"],
                        "<=",
                        naive,
                        "Python loop over ORM rows",
                    ),
                    Figure(
                        "excel_s", "Excel export (4 sheets)", phases["excel"][0], "s", targets["excel"], "<="
                    ),
                    Figure("peak_rss_mb", "peak RSS of any phase", peak_all, "MB", 1536, "<="),
                    Figure(
                        "wrong_totals",
                        "phases whose totals differ from the generated data",
                        len(failures),
                        "phases",
                        0,
                        "<=",
                    ),
                ],
                context=[
                    Measurement("generate_s", "generating the database (not timed)", generate_seconds, "s"),
                    Measurement(
                        "materialize_s", "materialize (submissions → plan)", phases["materialize"][0], "s"
                    ),
                    Measurement(
                        "build_s", "full build (+ comparison, Annex 01, checks)", phases["build"][0], "s"
                    ),
                    Measurement("naive_s", "naive: Python loop over ORM rows", naive, "s"),
                    Measurement("excel_mb", "Excel file on disk", phases["excel"][2]["MB on disk"], "MB"),
                    *(
                        Measurement(f"peak_rss_{name}_mb", f"peak RSS, {name} phase", peak, "MB")
                        for name, (_, peak, _) in phases.items()
                    ),
                ],
            )
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
