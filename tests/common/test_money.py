from __future__ import annotations

import pytest

from tasks.common.money import MoneyFormatError, format_money, format_money_with_unit, parse_money


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        ("1.234.567", "dong", 1_234_567),
        ("1234567", "dong", 1_234_567),
        ("1.234,5", "trieu", 1_234_500_000),
        ("1234.5", "trieu", 1_234_500_000),
        ("0,5", "ty", 500_000_000),
        ("80.724", "trieu", 80_724_000_000),
        ("261.221", "trieu", 261_221_000_000),
        ("1,234,567", "dong", 1_234_567),
        (0.1, "trieu", 100_000),
        (3854, "trieu", 3_854_000_000),
        ("  2.798 triệu", "trieu", 2_798_000_000),
        ("12 tỷ", "trieu", 12_000_000_000),  # the unit written in the cell wins
        ("5 triệu", "dong", 5_000_000),
        ("1.000.000 đ", "trieu", 1_000_000),
        ("0,5 TỶ", "dong", 500_000_000),
        ("\u00a0", "trieu", None),
        (None, "trieu", None),
        ("", "ty", None),
    ],
)
def test_parse_money_exact(raw: object, unit: str, expected: int | None) -> None:
    assert parse_money(raw, unit) == expected


@pytest.mark.parametrize("raw", ["-5", "abc", "1.2.3,4,5", True, float("nan"), "0,0000001"])
def test_parse_money_refuses(raw: object) -> None:
    with pytest.raises(MoneyFormatError) as info:
        parse_money(raw, "dong" if raw != "0,0000001" else "trieu")
    assert "không hợp lệ" in info.value.message_vi


def test_sum_of_many_float_like_inputs_is_exact() -> None:
    total = sum(parse_money(0.1, "trieu") or 0 for _ in range(1000))
    assert total == 100_000_000


def test_format_money() -> None:
    assert format_money(1_234_567) == "1.234.567"
    assert format_money(261_221_000_000, "trieu") == "261.221"
    assert format_money(1_234_500_000, "trieu") == "1.234,5"
    assert format_money(670_500_000, "trieu") == "670,5"
    assert format_money(4_170_500_000, "trieu") == "4.170,5"
    assert format_money(1_500_000_000, "trieu") == "1.500"
    assert format_money(1_234_567, "trieu") == "1,235"
    assert format_money(1_234_500_000, "trieu", decimals=1) == "1.234,5"
    assert format_money(None) == ""
    assert format_money_with_unit(500_000_000, "ty") == "0,5 tỷ đồng"
    assert format_money_with_unit(None) == "chưa xác định"
