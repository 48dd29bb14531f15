"""Bounds on amounts and sums that cannot wrap.

Money is integer đồng in a BIGINT column (at most 2⁶³−1 ≈ 9,2·10¹⁸). An amount is bounded per item and
funding source (the cycle's ``max_item_amount``, never above `MAX_ITEM_AMOUNT_CEILING`), and every total is
summed in Python integers, which do not overflow; a total that a BIGINT column or a NumPy int64 could not
hold is refused (`AmountOverflowError`), never wrapped to a negative figure.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.base import MONEY_UNIT_FACTOR

# What one item may ask from one source at most, whatever a cycle sets: 1.000.000 tỷ đồng.
MAX_ITEM_AMOUNT_CEILING = 10**15
# The largest figure a BIGINT column and an int64 array hold.
INT64_MAX = 2**63 - 1
# In a column in triệu or tỷ, one item's amount of a million units or more was typed in đồng.
LOOKS_IN_DONG_FROM = 1_000_000


class AmountOverflowError(ArithmeticError):
    """A total too large to store or compute exactly; ``total`` is the exact figure."""

    def __init__(self, total: int) -> None:
        self.total = total
        super().__init__(f"total {total} đồng exceeds {INT64_MAX}")


def checked_sum(amounts: Iterable[int | None]) -> int:
    """The exact sum of ``amounts`` (None counts as nothing); `AmountOverflowError` when it, or the sum of
    their sizes (what any partial sum in int64 may reach), exceeds what int64 holds."""
    total = 0
    size = 0
    for amount in amounts:
        if amount is None:
            continue
        value = int(amount)
        total += value
        size += abs(value)
    if size > INT64_MAX:
        raise AmountOverflowError(total if abs(total) > INT64_MAX else size)
    return total


def looks_typed_in_dong(amount: int, money_unit: str) -> bool:
    """Whether ``amount`` (đồng) read from a column in ``money_unit`` is a figure in đồng typed into a
    triệu or tỷ column: a million units or more for one item."""
    return money_unit != "dong" and amount >= LOOKS_IN_DONG_FROM * MONEY_UNIT_FACTOR[money_unit]
