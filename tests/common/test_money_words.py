"""Amounts in words, as Vietnamese administrative documents write them after "Bằng chữ:"."""

from __future__ import annotations

import unicodedata

import pytest

from tasks.common.money import money_in_words, number_in_words, parse_money

TRIEU = 1_000_000


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        # the Gia Lai 2020 plan's summary paragraph (261.221, 11.300, 10.300, 249.921 triệu đồng);
        # the plan itself omits "chẵn" once (10.300), by oversight: a whole amount is always "chẵn" here
        (261_221 * TRIEU, "Hai trăm sáu mươi mốt tỷ, hai trăm hai mươi mốt triệu đồng chẵn"),
        (11_300 * TRIEU, "Mười một tỷ, ba trăm triệu đồng chẵn"),
        (10_300 * TRIEU, "Mười tỷ, ba trăm triệu đồng chẵn"),
        (249_921 * TRIEU, "Hai trăm bốn mươi chín tỷ, chín trăm hai mươi mốt triệu đồng chẵn"),
        (233_821 * TRIEU, "Hai trăm ba mươi ba tỷ, tám trăm hai mươi mốt triệu đồng chẵn"),
        (16_100 * TRIEU, "Mười sáu tỷ, một trăm triệu đồng chẵn"),
        # zero, units, "lẻ", "mốt", "lăm", "tư", "mười"
        (0, "Không đồng"),
        (1, "Một đồng"),
        (5, "Năm đồng"),
        (10, "Mười đồng"),
        (11, "Mười một đồng"),
        (14, "Mười bốn đồng"),
        (15, "Mười lăm đồng"),
        (20, "Hai mươi đồng"),
        (21, "Hai mươi mốt đồng"),
        (24, "Hai mươi tư đồng"),
        (25, "Hai mươi lăm đồng"),
        (45, "Bốn mươi lăm đồng"),
        (100, "Một trăm đồng"),
        (101, "Một trăm lẻ một đồng"),
        (105, "Một trăm lẻ năm đồng"),
        (110, "Một trăm mười đồng"),
        (115, "Một trăm mười lăm đồng"),
        (999, "Chín trăm chín mươi chín đồng"),
        # "chẵn" once nothing is left below the last scale word
        (1_000, "Một nghìn đồng chẵn"),
        (1_001, "Một nghìn không trăm lẻ một đồng"),
        (1_234_567, "Một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy đồng"),
        (500_000, "Năm trăm nghìn đồng chẵn"),
        (596_500_000, "Năm trăm chín mươi sáu triệu năm trăm nghìn đồng chẵn"),
        # "không trăm" in inner groups, empty groups skipped
        (1_005_000, "Một triệu không trăm lẻ năm nghìn đồng chẵn"),
        (1_010_000, "Một triệu không trăm mười nghìn đồng chẵn"),
        (1_000_001, "Một triệu không trăm lẻ một đồng"),
        (2_050_000_000, "Hai tỷ, không trăm năm mươi triệu đồng chẵn"),
        (1_000_000_005, "Một tỷ, không trăm lẻ năm đồng"),
        (
            999_999_999,
            "Chín trăm chín mươi chín triệu chín trăm chín mươi chín nghìn chín trăm chín mươi chín đồng",
        ),
        # thousands of tỷ
        (1_000 * 1_000_000_000, "Một nghìn tỷ đồng chẵn"),
        (1_500 * 1_000_000_000, "Một nghìn năm trăm tỷ đồng chẵn"),
        (12_345_678_000_000, "Mười hai nghìn ba trăm bốn mươi lăm tỷ, sáu trăm bảy mươi tám triệu đồng chẵn"),
        (1_000_000_005_000, "Một nghìn tỷ, không trăm lẻ năm nghìn đồng chẵn"),
        (2_000_000 * 1_000_000_000, "Hai triệu tỷ đồng chẵn"),
    ],
)
def test_money_in_words(amount: int, words: str) -> None:
    assert money_in_words(amount) == words
    assert unicodedata.is_normalized("NFC", money_in_words(amount))


def test_words_follow_the_exact_dong_not_the_displayed_figure() -> None:
    # 3.000,5 triệu displays as "3.000,5"; the words keep every đồng
    amount = parse_money("3.000,5", "trieu")
    assert money_in_words(amount) == "Ba tỷ, năm trăm nghìn đồng chẵn"
    assert money_in_words(amount + 1) == "Ba tỷ, năm trăm nghìn không trăm lẻ một đồng"


def test_number_in_words_is_lower_case_and_has_no_currency() -> None:
    assert number_in_words(0) == "không"
    assert number_in_words(105) == "một trăm lẻ năm"
    assert number_in_words(261_221_000_000) == "hai trăm sáu mươi mốt tỷ, hai trăm hai mươi mốt triệu"


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True, None])
def test_refuses_what_is_not_a_whole_non_negative_amount(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        money_in_words(bad)  # type: ignore[arg-type]


def test_only_dong_is_spoken() -> None:
    with pytest.raises(ValueError, match="đồng"):
        money_in_words(1_000, unit="trieu")
