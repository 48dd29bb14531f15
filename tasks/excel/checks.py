"""The checks every unit-filled workbook makes of a cell: an amount in the column's money unit, a choice
from a drop-down, a whole percentage. Each returns the value read, or None and the key and values of the
shared issue (``templates/workbook/messages.yaml``) for the caller to place at its sheet, row and column.
"""

from __future__ import annotations

from decimal import localcontext
from typing import Any

from models.base import MONEY_UNIT_FACTOR
from tasks.common.amounts import MAX_ITEM_AMOUNT_CEILING, looks_typed_in_dong
from tasks.common.money import MONEY_UNIT_LABELS, MoneyFormatError, format_money
from tasks.excel.grid import UNREADABLE, cell_text, is_blank, loose_key, read_amount, whole_percent

Problem = tuple[str, dict[str, Any]]  # issue key, values of its message


def check_amount(
    raw: Any, money_unit: str, maximum: int | None = MAX_ITEM_AMOUNT_CEILING
) -> tuple[int | None, Problem | None]:
    """Exact đồng from an amount cell (`read_amount`), or None and the key and values of the shared issue
    that says what is wrong: ``amount_invalid`` (not an amount), ``amount_unit_mismatch`` (the cell names
    another money unit than its column's), ``amount_looks_in_dong`` (a figure in đồng typed into a triệu or
    tỷ column, with both readings) or ``amount_too_large`` (above ``maximum`` đồng, the cycle's bound per
    item and source; None: only the plausibility check)."""
    try:
        amount, other_unit = read_amount(raw, money_unit)
    except MoneyFormatError as exc:
        return None, ("amount_invalid", {"detail_vi": exc.message_vi, "detail_en": str(exc)})
    if other_unit is not None:
        return None, (
            "amount_unit_mismatch",
            {
                "value": cell_text(raw),
                "found": MONEY_UNIT_LABELS[other_unit],
                "expected": MONEY_UNIT_LABELS[money_unit],
            },
        )
    if amount is not None:
        problem = _implausible(amount, money_unit, maximum)
        if problem is not None:
            return None, problem
    return amount, None


def _money(amount: int, money_unit: str) -> str:
    """`format_money` for any size: an absurd figure (1e30 typed in a cell) is shown, not a crash."""
    with localcontext(prec=max(28, len(str(abs(amount))) + 12)):
        return format_money(amount, money_unit)


def _implausible(amount: int, money_unit: str, maximum: int | None) -> Problem | None:
    label = MONEY_UNIT_LABELS[money_unit]
    if looks_typed_in_dong(amount, money_unit):
        as_dong = amount // MONEY_UNIT_FACTOR[money_unit]  # the figure typed, read as đồng
        return "amount_looks_in_dong", {
            "value": _money(amount, money_unit),
            "unit": label,
            "as_ty": _money(amount, "ty"),
            "as_dong": _money(as_dong, "dong"),
            "as_dong_in_unit": _money(as_dong, money_unit),
        }
    if maximum is not None and amount > maximum:
        return "amount_too_large", {
            "value": _money(amount, money_unit),
            "unit": label,
            "maximum": _money(maximum, money_unit),
        }
    return None


def check_choice(
    raw: Any, choices: dict[str, str], *, unknown_key: str, column_label: str
) -> tuple[str | None, Problem | None]:
    """The key a drop-down cell names (``choices`` as `choice_map` builds it), or ``required`` when it is
    empty and ``unknown_key`` when it names nothing known. An UNREADABLE cell is already reported."""
    text = cell_text(raw)
    if text is None:
        return None, None if raw is UNREADABLE else ("required", {"column_label": column_label})
    choice = choices.get(loose_key(text))
    return choice, None if choice is not None else (unknown_key, {"value": text})


def check_percent(raw: Any) -> tuple[int | None, Problem | None]:
    """A whole percentage 0–100 from a filled cell, or ``percent_invalid``; None for an empty or
    UNREADABLE cell (the caller decides whether one is needed)."""
    if is_blank(raw) or raw is UNREADABLE:
        return None, None
    percent = whole_percent(raw)
    return percent, None if percent is not None else ("percent_invalid", {"value": cell_text(raw)})
