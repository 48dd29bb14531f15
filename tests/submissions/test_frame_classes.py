"""The KH&CN / ĐMST / CĐS class in the unit workbook of a 2027 cycle: offered as drop-downs from the
dated list (templates/frame/classes.yaml), read back with the item, a sub-field alone gives its class, a
sub-field of another class is refused where it is; carry-over rows come prefilled with last year's class."""

from __future__ import annotations

from sqlmodel import select

from models import PlanItem, SubmissionItem
from tasks.consolidation.plan import materialize_plan
from tasks.submissions.intake import ingest_submission
from tasks.submissions.validation import validate_workbook
from tasks.submissions.workbook import ITEMS_DATA_START_ROW, workbook_texts
from tests.submissions.conftest import (
    AS_OF_ON_TIME,
    World,
    filled_workbook,
    item_letter,
    items_sheet,
    open_book,
)
from tests.submissions.test_validation_rules import both, set_item


def test_the_workbook_offers_classes_and_sub_fields_as_drop_downs(world: World) -> None:
    world.in_progress.class_code, world.in_progress.subfield_code = "CDS", "CDS-DL"
    world.session.add(world.in_progress)
    world.session.commit()
    context = world.context()
    assert [c.code for c in context.classes] == ["KHCN", "DMST", "CDS"]
    wb = open_book(world.blank())
    lists = wb[workbook_texts()["sheets"]["lists"]]
    columns = {lists.cell(row=1, column=c).value: c for c in range(1, lists.max_column + 1)}
    classes = [lists.cell(row=r, column=columns["Lĩnh vực KH&CN, ĐMST, CĐS"]).value for r in range(2, 5)]
    assert classes == ["Khoa học và công nghệ", "Đổi mới sáng tạo", "Chuyển đổi số"]
    subfield_column = columns["Nhóm nội dung"]
    subfields = [lists.cell(row=r, column=subfield_column).value for r in range(2, lists.max_row + 1)]
    assert "Dữ liệu số" in subfields and "Khởi nghiệp đổi mới sáng tạo" in subfields

    items = items_sheet(wb)
    class_letter, subfield_letter = (
        item_letter(context, "frame_class"),
        item_letter(context, "frame_subfield"),
    )
    assert items[f"{class_letter}5"].value == "Lĩnh vực KH&CN / ĐMST / CĐS"
    ranges = {str(dv.sqref): dv.formula1 for dv in items.data_validations.dataValidation}
    class_range = next(r for r in ranges if r.startswith(f"{class_letter}{ITEMS_DATA_START_ROW}:"))
    assert "$2:$" in ranges[class_range] and ranges[class_range].endswith("$4")
    assert any(r.startswith(f"{subfield_letter}{ITEMS_DATA_START_ROW}:") for r in ranges)
    # last year's class comes with the carry-over row
    assert items[f"{class_letter}{ITEMS_DATA_START_ROW}"].value == "Chuyển đổi số"
    assert items[f"{subfield_letter}{ITEMS_DATA_START_ROW}"].value == "Dữ liệu số"


def test_classes_are_read_and_checked(world: World) -> None:
    context = world.context()
    first_new = ITEMS_DATA_START_ROW + len(context.carry_over_candidates)
    content = filled_workbook(
        world,
        mutate=lambda wb, ctx: both(
            set_item(first_new, "frame_class", "chuyển đổi số"),
            set_item(first_new, "frame_subfield", "Dữ liệu số"),
            set_item(first_new + 1, "frame_subfield", "Khởi nghiệp đổi mới sáng tạo"),
        )(wb, ctx, world),
    )
    result = validate_workbook(content, context=context)
    assert result.errors == []
    parsed = {item.name: (item.class_code, item.subfield_code) for item in result.submission.items}  # type: ignore[union-attr]
    assert parsed["Xây dựng kho dữ liệu y tế dùng chung"] == ("CDS", "CDS-DL")
    assert parsed["Bảo đảm an toàn thông tin cho cổng dịch vụ công"] == ("DMST", "DMST-KN")
    # received: the classes are stored with the items, and the consolidated plan keeps them
    received = ingest_submission(
        session=world.session, cycle=world.cycle, unit=world.unit, filename="KH2027_SYT.xlsx",
        content=content, channel="portal", as_of=AS_OF_ON_TIME, actor="can-bo@syt",
    )  # fmt: skip
    assert received.accepted
    world.session.commit()
    stored = {i.name: (i.class_code, i.subfield_code) for i in world.session.exec(select(SubmissionItem))}
    assert stored["Xây dựng kho dữ liệu y tế dùng chung"] == ("CDS", "CDS-DL")
    materialize_plan(session=world.session, cycle=world.cycle, statuses=("submitted",), actor="test")
    planned = {i.name: i.class_code for i in world.session.exec(select(PlanItem))}
    assert planned["Bảo đảm an toàn thông tin cho cổng dịch vụ công"] == "DMST"

    wrong = filled_workbook(
        world,
        mutate=lambda wb, ctx: both(
            set_item(first_new, "frame_class", "Chuyển đổi số"),
            set_item(first_new, "frame_subfield", "Khởi nghiệp đổi mới sáng tạo"),
            set_item(first_new + 1, "frame_class", "Văn hóa"),
        )(wb, ctx, world),
    )
    errors = validate_workbook(wrong, context=context).errors
    letters = (item_letter(context, "frame_subfield"), item_letter(context, "frame_class"))
    assert [(e.key, e.row, e.column) for e in errors] == [
        ("frame_subfield_mismatch", first_new, letters[0]),
        ("frame_class_unknown", first_new + 1, letters[1]),
    ]
    assert (
        errors[0].message_vi
        == "Nhóm nội dung «Khởi nghiệp đổi mới sáng tạo» không thuộc lĩnh vực «Chuyển đổi số»."
    )
