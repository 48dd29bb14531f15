"""The checks every unit-filled workbook makes of a cell: an amount in the column's money unit, a choice
from a drop-down, a whole percentage. Each returns the value read, or None and the key and values of the
shared issue (``templates/workbook/messages.yaml``) for the caller to place at its sheet, row and column.
"""

from __future__ import annotations

from typing import Any

from tasks.common.money import MONEY_UNIT_LABELS, MoneyFormatError
from tasks.excel.grid import UNREADABLE, cell_text, is_blank, loose_key, read_amount, whole_percent

Problem = tuple[str, dict[str, Any]]  # issue key, values of its message


def check_amount(raw: Any, money_unit: str) -> tuple[int | None, Problem | None]:
    """Exact đồng from an amount cell (`read_amount`), or None and the key and values of the shared issue
    that says what is wrong: ``amount_invalid`` (not an amount) or ``amount_unit_mismatch`` (the cell names
    another money unit than its column's)."""
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
    return amount, None


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
