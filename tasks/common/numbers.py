"""Shares and percentages as Vietnamese readers write them: decimal comma, thousands dot, rounded half up.

Display only: amounts stay integer đồng (tasks/common/money.py) and shares are computed as ``Fraction`` or
``Decimal`` from them; only the text is rounded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

Number = Fraction | Decimal | int | float


def _decimal(value: Number) -> Decimal:
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, float):
        return Decimal(repr(value))  # 37.25 stays 37.25, not 37.2499999…
    return Decimal(value)


def format_percent(value: Number | None, decimals: int = 1) -> str:
    """37.25 → "37,3"; 40 → "40"; 2076.84 → "2.076,8"; None → "". Rounded half up to ``decimals`` places,
    trailing zeros of the fraction dropped (the number only: callers add "%" where the label lacks it)."""
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-decimals)
    rounded = _decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    integer, _, fraction = f"{abs(rounded):f}".partition(".")
    fraction = fraction.rstrip("0")
    text = f"{int(integer):,}".replace(",", ".")
    return f"{sign}{text},{fraction}" if fraction else f"{sign}{text}"


def share_percent(part: int, whole: int, decimals: int = 1) -> str:
    """``part`` as a percentage of ``whole`` with its sign: 1 of 3 → "33,3%"; of nothing → "0%"."""
    if not whole:
        return "0%"
    return f"{format_percent(Fraction(part * 100, whole), decimals)}%"


def rounded_percent(value: Number, decimals: int = 1) -> float:
    """The figure ``format_percent`` shows, as a number (for Prefect's progress artifact): 9.523809… →
    9.5, so the bar and every table read the same rounded share."""
    return float(_decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))
