"""Amounts bounded and plausible (issues 16 and 19): a figure typed in đồng into the triệu column is
refused with both readings, an Excel number 1e30 is a located refusal instead of a database overflow, and
the cycle's maximum per item and funding source applies."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.excel.checks import check_amount
from tasks.submissions.validation import validate_workbook
from tests.submissions.conftest import World, filled_workbook, item_letter, items_sheet, workbook_texts


def _with(world: World, key: str, value: Any, row: int = 10) -> bytes:
    def mutate(wb, context) -> None:  # type: ignore[no-untyped-def]
        ws = items_sheet(wb)
        ws[f"{item_letter(context, key)}{row}"] = value
        ws[f"{item_letter(context, 'total')}{row}"] = None

    return filled_workbook(world, mutate=mutate)


def test_dong_typed_into_the_trieu_column_is_refused_with_both_readings(world: World) -> None:
    context = world.context()
    result = validate_workbook(_with(world, "amount:NSDP", 922183000), context=context)

    assert result.submission is None
    [error] = result.errors
    assert error.key == "amount_looks_in_dong"
    assert (error.sheet, error.row, error.column) == (
        workbook_texts()["sheets"]["items"],
        10,
        item_letter(context, "amount:NSDP"),
    )
    # 922.183.000 triệu = 922.183 tỷ đồng; meant as 922.183.000 đồng = 922,183 triệu
    assert "922.183.000" in error.message_vi and "922.183 tỷ đồng" in error.message_vi
    assert "922.183.000 đồng" in error.message_vi and "922,183" in error.message_vi
    assert "đồng" in error.message_en


@pytest.mark.parametrize("value", [1e30, "1e30", 9_000_000_000_000, "inf", "NaN", -5, "-1.000"])
def test_absurd_amounts_are_located_refusals(world: World, value: Any) -> None:
    context = world.context()
    result = validate_workbook(_with(world, "amount:NSTW", value, row=11), context=context)

    assert result.submission is None
    [error] = result.errors
    assert error.key in {"amount_looks_in_dong", "amount_invalid"}, error.message_en
    assert (error.row, error.column) == (11, item_letter(context, "amount:NSTW"))


def test_the_cycles_maximum_per_item_and_source(world: World) -> None:
    world.cycle.max_item_amount = 200_000_000_000  # 200.000 triệu
    world.session.add(world.cycle)
    world.session.commit()
    context = world.context()
    assert context.max_item_amount == 200_000_000_000

    result = validate_workbook(_with(world, "amount:NSDP", 300_000), context=context)

    assert len(result.errors) == 1, [e.message_en for e in result.errors]
    [error] = result.errors
    assert error.key == "amount_too_large"
    assert error.row == 10 and "200.000" in error.message_vi and "300.000" in error.message_vi


def test_default_maximum_is_ten_thousand_ty_per_item_and_source(world: World) -> None:
    assert world.context().max_item_amount == 10_000 * 1_000_000_000
    assert check_amount(10_000 * 1_000_000_000, "dong", 10**13) == (10**13, None)
    amount, problem = check_amount(10**13 + 1, "dong", 10**13)
    assert amount is None and problem is not None and problem[0] == "amount_too_large"
    # a triệu column holds at most 999.999 triệu per item before it reads as đồng
    assert check_amount(999_999, "trieu", 10**13) == (999_999_000_000, None)
    assert check_amount(1_000_000, "trieu", 10**13)[1][0] == "amount_looks_in_dong"  # type: ignore[index]


def test_open_cycle_sets_the_maximum(session) -> None:  # type: ignore[no-untyped-def]
    from datetime import date
    from pathlib import Path

    from models import PlanningCycle
    from tasks.excel.context import max_item_amount
    from tasks.registry.directory import import_registry
    from tasks.submissions.cycles import CycleSpec, open_cycle_records

    demo = Path(__file__).resolve().parents[2] / "plancycle" / "demo"
    import_registry(session=session, paths=[demo / "units.csv"])
    spec = CycleSpec(year=2030, submission_deadline=date(2029, 10, 15), max_item_amount=50 * 10**9)
    open_cycle_records(session=session, spec=spec, as_of=date(2029, 8, 1), actor="test")
    cycle = session.query(PlanningCycle).filter_by(year=2030).one()
    assert cycle.max_item_amount == 50 * 10**9 and max_item_amount(cycle) == 50 * 10**9
