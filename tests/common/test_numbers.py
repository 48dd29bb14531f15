"""Shares as one rounded figure: the progress bar and the tables read the same number."""

from __future__ import annotations

from fractions import Fraction

from tasks.common.numbers import format_percent, rounded_percent


def test_the_progress_bar_shows_the_same_rounded_share_as_the_tables() -> None:
    share = 100.0 * 2 / 21  # 9.523809523809524, as the progress artifact showed it
    assert rounded_percent(share) == 9.5 and format_percent(share) == "9,5"
    assert rounded_percent(Fraction(1, 8) * 100) == 12.5 and rounded_percent(37.25) == 37.3
