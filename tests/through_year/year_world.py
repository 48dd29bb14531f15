"""A province's plan year 2027, built with real rows: units at province, district and commune level, an
approval chain, the plan consolidated from accepted submissions and issued; reporting periods from the
national defaults; and small builders for progress reports, entries and indicator values (as the progress
intake would store them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models import (
    Contact,
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    PlanItem,
    PlanningCycle,
    ProgressEntry,
    ProgressReport,
    ReportingPeriod,
    Unit,
)
from models.base import PeriodKind
from tasks.approval.chain import configure_chain
from tasks.approval.decisions import finalize
from tasks.common.calendar import WorkingCalendar
from tasks.consolidation.plan import materialize_plan
from tasks.progress.periods import default_periods
from tests.consolidation.plan_world import Item, add_submission, new_cycle
from tests.factories import make_contact, make_unit

YEAR = 2027
TRIEU = 1_000_000
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class YearWorld:
    cycle: PlanningCycle
    units: dict[str, Unit]  # code → unit
    items: dict[str, PlanItem]  # short name → plan item
    periods: dict[str, ReportingPeriod]  # "Q1".."Q4", "N" (annual)
    indicators: dict[str, Indicator]
    approver: Contact


def build_year(session: Session) -> YearWorld:
    units = {
        "SKHCN": make_unit(session, code="SKHCN", name="Sở Khoa học và Công nghệ", kind="department"),
        "SYT": make_unit(session, code="SYT", name="Sở Y tế", kind="department"),
        "SGD": make_unit(session, code="SGD", name="Sở Giáo dục và Đào tạo", kind="department"),
        "HCP": make_unit(session, code="HCP", name="UBND huyện Chư Păh", kind="district"),
        "XIK": make_unit(session, code="XIK", name="UBND xã Ia Ka", kind="commune"),
        "UBND": make_unit(session, code="UBND", name="Văn phòng UBND tỉnh", kind="provincial_leadership"),
    }
    for code in ("SKHCN", "SYT", "SGD", "HCP", "XIK"):
        make_contact(session, units[code], email=f"vanthu.{code.lower()}@example.org")
    approver = make_contact(
        session, units["UBND"], full_name="Chủ tịch UBND tỉnh", role="head", email="chutich@example.org"
    )
    cycle = new_cycle(session, YEAR, coordinating_unit_id=units["SKHCN"].id)
    session.commit()
    add_submission(
        session,
        cycle,
        units["SKHCN"],
        [
            Item(
                "Trung tâm giám sát an toàn thông tin",
                {"NSDP": 800 * TRIEU, "NSTW": 200 * TRIEU},
                field="SEC",
            )
        ],
    )
    add_submission(
        session,
        cycle,
        units["SYT"],
        [
            Item("Bệnh án điện tử", {"NSDP": 2_500 * TRIEU}),
            Item("Phần mềm thống kê y tế", {"NSDP": 320 * TRIEU}),
        ],
    )
    add_submission(
        session,
        cycle,
        units["SGD"],
        [
            Item("Sổ điểm điện tử", {"NSDP": 450 * TRIEU}, field="SVC"),
            Item("Kho học liệu số", {"NSDP": 600 * TRIEU}, field="SVC"),
        ],
    )
    add_submission(
        session, cycle, units["HCP"], [Item("Một cửa điện tử cấp huyện", {"NSDP": 150 * TRIEU}, field="SVC")]
    )
    materialize_plan(session=session, cycle=cycle, actor="test")
    configure_chain(
        session=session,
        cycle=cycle,
        stages=[{"code": "UBND", "name": "Lãnh đạo UBND tỉnh", "sequence": 1, "approvers": [approver.email]}],
        actor="test",
    )
    finalize(
        session=session,
        cycle=cycle,
        decision_number="2345/QĐ-UBND",
        decision_date=date(2026, 12, 27),
        signer="Nguyễn Văn A",
        actor="test",
    )
    periods = {}
    for spec in default_periods(YEAR, [PeriodKind.quarterly, PeriodKind.annual], calendar=WorkingCalendar()):
        period = ReportingPeriod(
            cycle_id=cycle.id,  # type: ignore[arg-type]
            kind=spec.kind.value,
            label=spec.label,
            starts_on=spec.starts_on,
            ends_on=spec.ends_on,
            deadline=spec.deadline,
        )
        session.add(period)
        key = f"Q{spec.number}" if spec.kind == PeriodKind.quarterly else "N"
        periods[key] = period
    indicators = {
        "CT01": Indicator(
            cycle_id=cycle.id,  # type: ignore[arg-type]
            code="CT01",
            name="Tỷ lệ hồ sơ thủ tục hành chính xử lý trực tuyến toàn trình",
            measure_unit="%",
            responsible_unit_id=units["SKHCN"].id,
            comparator=">=",
        ),
        "CT02": Indicator(
            cycle_id=cycle.id,  # type: ignore[arg-type]
            code="CT02",
            name="Số sự cố an toàn thông tin nghiêm trọng",
            measure_unit="sự cố",
            responsible_unit_id=units["SKHCN"].id,
            comparator="<=",
        ),
    }
    for indicator in indicators.values():
        session.add(indicator)
    session.flush()
    for level, target in (("province", 90), ("district", 70), ("commune", 30)):
        session.add(IndicatorTarget(indicator_id=indicators["CT01"].id, level=level, target=Decimal(target)))  # type: ignore[arg-type]
    session.add(IndicatorTarget(indicator_id=indicators["CT02"].id, level="all", target=Decimal(2)))  # type: ignore[arg-type]
    session.commit()
    by_name = {i.name: i for i in session.exec(select(PlanItem).where(PlanItem.cycle_id == cycle.id))}
    items = {
        "giam-sat": by_name["Trung tâm giám sát an toàn thông tin"],
        "benh-an": by_name["Bệnh án điện tử"],
        "thong-ke": by_name["Phần mềm thống kê y tế"],
        "so-diem": by_name["Sổ điểm điện tử"],
        "hoc-lieu": by_name["Kho học liệu số"],
        "mot-cua": by_name["Một cửa điện tử cấp huyện"],
    }
    return YearWorld(cycle, units, items, periods, indicators, approver)


def request_reports(session: Session, world: YearWorld, period: str) -> None:
    """One report request per unit for the period (what request-progress-reports leaves behind)."""
    for unit in world.units.values():
        if unit.code == "UBND":
            continue
        session.add(
            ProgressReport(
                period_id=world.periods[period].id,  # type: ignore[arg-type]
                unit_id=unit.id,  # type: ignore[arg-type]
                deadline=world.periods[period].deadline,
            )
        )
    session.commit()


def send_report(
    session: Session,
    world: YearWorld,
    period: str,
    unit_code: str,
    sent_on: date,
    entries: dict[str, tuple[str, int, int | None]] | None = None,
    values: dict[str, int | float] | None = None,
    problems: dict[str, str] | None = None,
) -> ProgressReport:
    """The unit's report for the period, sent at 09:00 local time on ``sent_on``: per item (short name)
    status, percent, disbursed (triệu); per indicator code the value."""
    report = session.exec(
        select(ProgressReport).where(
            ProgressReport.period_id == world.periods[period].id,
            ProgressReport.unit_id == world.units[unit_code].id,
        )
    ).one()
    report.status = "submitted"
    report.submitted_at = datetime(sent_on.year, sent_on.month, sent_on.day, 9, tzinfo=LOCAL).astimezone(UTC)
    session.add(report)
    session.flush()
    for name, (status, percent, disbursed) in (entries or {}).items():
        session.add(
            ProgressEntry(
                report_id=report.id,  # type: ignore[arg-type]
                plan_item_id=world.items[name].id,  # type: ignore[arg-type]
                status=status,
                percent_complete=percent,
                disbursed=None if disbursed is None else disbursed * TRIEU,
                problems=(problems or {}).get(name),
            )
        )
    for code, value in (values or {}).items():
        session.add(
            IndicatorValue(
                indicator_id=world.indicators[code].id,  # type: ignore[arg-type]
                report_id=report.id,  # type: ignore[arg-type]
                value=Decimal(str(value)),
            )
        )
    session.commit()
    return report
