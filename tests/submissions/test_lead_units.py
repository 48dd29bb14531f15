"""The lead-unit and partner columns of a unit's workbook resolved against the registry (issue 19,
finding 2): another unit's item is refused unless the cycle allows it, then stored under that lead;
unknown names are located errors with the closest registry names; partners become official names."""

from __future__ import annotations

from datetime import date

from openpyxl.workbook.workbook import Workbook
from sqlmodel import select

from models import SubmissionItem
from tasks.submissions.intake import ingest_submission
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, WorkbookContext
from tests.factories import make_unit
from tests.submissions.conftest import World, filled_workbook, item_letter, items_sheet

ON_TIME = date(2026, 9, 15)


def _new_row(context: WorkbookContext) -> int:
    return ITEMS_DATA_START_ROW + len(context.carry_over_candidates)  # the first new row ("Xây dựng kho…")


def _set(key: str, value: str):  # type: ignore[no-untyped-def]
    def mutate(wb: Workbook, context: WorkbookContext) -> None:
        items_sheet(wb)[f"{item_letter(context, key)}{_new_row(context)}"] = value

    return mutate


def _ingest(world: World, content: bytes):  # type: ignore[no-untyped-def]
    return ingest_submission(
        session=world.session,
        cycle=world.cycle,
        unit=world.unit,
        filename="de-xuat.xlsx",
        content=content,
        channel="cli",
        as_of=ON_TIME,
        actor="test",
    )


def test_an_item_led_by_another_unit_is_refused_by_default(world: World) -> None:
    result = _ingest(world, filled_workbook(world, mutate=_set("lead_unit", "Sở Tài chính")))
    assert not result.accepted
    (issue,) = result.errors
    context = world.context()
    assert issue.key == "lead_unit_other" and issue.row == _new_row(context)
    assert issue.column == item_letter(context, "lead_unit")
    assert "Sở Tài chính" in issue.message_vi and "Sở Y tế" in issue.message_vi


def test_where_the_cycle_allows_it_the_item_is_stored_under_its_lead(world: World) -> None:
    world.cycle.other_leads_allowed = True
    collective = make_unit(world.session, code="CAC-SO", name="Các sở, ban, ngành", kind="collective")
    world.session.commit()

    def mutate(wb: Workbook, context: WorkbookContext) -> None:
        _set("lead_unit", "Sở Tài chính")(wb, context)
        items_sheet(wb)[f"{item_letter(context, 'lead_unit')}{_new_row(context) + 1}"] = "Các Sở, ban, ngành"

    content = filled_workbook(world, mutate=mutate)
    result = _ingest(world, content)
    assert result.accepted, result.errors
    leads = {i.name: i.lead_unit_id for i in world.session.exec(select(SubmissionItem))}
    assert leads["Xây dựng kho dữ liệu y tế dùng chung"] == world.other_unit.id
    assert leads["Bảo đảm an toàn thông tin cho cổng dịch vụ công"] == collective.id
    assert leads["Nâng cấp hệ thống thông tin quản lý bệnh viện"] == world.unit.id  # prefilled own name


def test_unknown_lead_and_partner_names_suggest_registry_names(world: World) -> None:
    def mutate(wb: Workbook, context: WorkbookContext) -> None:
        _set("lead_unit", "Sở Y tê tỉnh")(wb, context)
        _set("coordinating_units", "Sở Tài chánh; Trung tâm CNTT")(wb, context)

    result = _ingest(world, filled_workbook(world, mutate=mutate))
    assert not result.accepted
    by_key = {e.key: e for e in result.errors}
    assert set(by_key) == {"lead_unit_unknown", "partner_unknown"}
    assert "Có phải: Sở Y tế" in by_key["lead_unit_unknown"].message_vi
    assert "«Sở Tài chánh»" in by_key["partner_unknown"].message_vi
    assert "Sở Tài chính" in by_key["partner_unknown"].message_vi
    assert by_key["partner_unknown"].column == item_letter(world.context(), "coordinating_units")


def test_partners_are_stored_as_the_registrys_names(world: World) -> None:
    result = _ingest(
        world, filled_workbook(world, mutate=_set("coordinating_units", "Sở KHCN;\nTrung tâm CNTT"))
    )
    assert result.accepted, result.errors
    item = world.session.exec(
        select(SubmissionItem).where(SubmissionItem.name == "Xây dựng kho dữ liệu y tế dùng chung")
    ).one()
    assert item.coordinating_units == "Sở Khoa học và Công nghệ; Trung tâm Công nghệ thông tin"


def test_a_partner_that_does_not_exist_yet_is_refused(world: World) -> None:
    make_unit(world.session, code="XNEW", name="UBND xã Ia Grai", valid_from=date(2027, 7, 1))
    world.session.commit()
    result = _ingest(world, filled_workbook(world, mutate=_set("coordinating_units", "UBND xã Ia Grai")))
    assert not result.accepted
    (issue,) = result.errors
    assert issue.key == "unit_not_valid" and "15/09/2026" in issue.message_vi
