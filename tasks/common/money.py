"""The one money type: integer đồng. Parsing accepts Vietnamese and plain formats in đồng, triệu or tỷ;
formatting never changes a value, and rounding for display is explicit."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from models.base import MONEY_UNIT_FACTOR

Dong = int

MONEY_UNIT_LABELS = {"dong": "đồng", "trieu": "triệu đồng", "ty": "tỷ đồng"}


class MoneyFormatError(ValueError):
    """A money cell that cannot be read exactly. ``message_vi`` is shown to the unit's officer."""

    def __init__(self, raw: object, reason_vi: str, reason_en: str) -> None:
        self.raw = raw
        self.message_vi = f"Số tiền «{raw}» không hợp lệ: {reason_vi}"
        super().__init__(f"invalid amount {raw!r}: {reason_en}")


_UNIT_WORDS = {"đồng": "dong", "đ": "dong", "vnd": "dong", "triệu": "trieu", "tỷ": "ty"}
_GROUPED_DOT = re.compile(r"^\d{1,3}(\.\d{3})+(,\d+)?$")  # 1.234.567 or 1.234,5
_GROUPED_COMMA = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,234,567 or 1,234.5
_PLAIN_DOT = re.compile(r"^\d+(\.\d+)?$")  # 1234.5
_PLAIN_COMMA = re.compile(r"^\d+,\d+$")  # 0,5


def _to_decimal(text: str) -> Decimal:
    if _GROUPED_DOT.match(text):
        return Decimal(text.replace(".", "").replace(",", "."))
    if _PLAIN_COMMA.match(text):
        # "1,234" is ambiguous: Vietnamese decimal comma or English thousands. Vietnamese wins here.
        return Decimal(text.replace(",", "."))
    if _GROUPED_COMMA.match(text):
        return Decimal(text.replace(",", ""))
    if _PLAIN_DOT.match(text):
        return Decimal(text)
    raise InvalidOperation(text)


def parse_money(raw: object, unit: str = "dong") -> Dong | None:
    """Read an amount written in ``unit`` (dong / trieu / ty) and return exact integer đồng.

    Empty cells give ``None`` ("not stated"). Numbers from Excel arrive as int or float; floats are read
    through their shortest decimal representation so 0.1 triệu is exactly 100.000 đồng. Negative
    amounts and amounts finer than one đồng are refused.
    """
    if unit not in MONEY_UNIT_FACTOR:
        raise ValueError(f"unknown money unit {unit!r}")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise MoneyFormatError(raw, "không phải là số", "not a number")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise MoneyFormatError(raw, "không phải là số", "not a number")
        value = Decimal(repr(raw))
    elif isinstance(raw, Decimal):
        value = raw
    else:
        text = unicodedata.normalize("NFC", str(raw)).strip().replace("\u00a0", "").replace(" ", "")
        # A unit written in the cell ("12 tỷ", "500 triệu", "1.000.000 đ") wins over the column's unit.
        written = re.search(r"(?i)(đồng|đ|vnd|triệu|tỷ)$", text)
        if written:
            unit = _UNIT_WORDS[written.group(1).lower()]
            text = text[: written.start()]
        negative = text.startswith("-")
        if negative:
            raise MoneyFormatError(raw, "số tiền không được âm", "amount must not be negative")
        try:
            value = _to_decimal(text)
        except InvalidOperation:
            raise MoneyFormatError(
                raw, "hãy ghi số, ví dụ 1.234.567 hoặc 1234,5", "write a number such as 1.234.567 or 1234,5"
            ) from None
    if value < 0:
        raise MoneyFormatError(raw, "số tiền không được âm", "amount must not be negative")
    dong = value * MONEY_UNIT_FACTOR[unit]
    if dong != dong.to_integral_value():
        raise MoneyFormatError(raw, "lẻ dưới 1 đồng sau khi quy đổi", "finer than one đồng after conversion")
    return int(dong)


def _group(digits: str) -> str:
    out = []
    while len(digits) > 3:
        out.insert(0, digits[-3:])
        digits = digits[:-3]
    out.insert(0, digits)
    return ".".join(out)


def format_money(amount: Dong | None, unit: str = "dong", decimals: int | None = None) -> str:
    """Vietnamese display, one format everywhere: a thousands dot, a decimal comma only when there is a
    fraction, no trailing zeros. ``format_money(1234567)`` → ``1.234.567``; in triệu: 1_500_000_000 →
    ``1.500``, 670_500_000 → ``670,5``, 4_170_500_000 → ``4.170,5`` (never "670,500", which readers take
    for six hundred seventy thousand).

    Without ``decimals`` a fraction of triệu or tỷ is shown to at most three places (a thousand đồng of a
    triệu) with its trailing zeros dropped; an explicit ``decimals`` keeps exactly that many places.
    Display rounding is half-up on the shown digits and never feeds back into a total.
    ``None`` ("not stated") displays as an empty string.
    """
    if amount is None:
        return ""
    factor = MONEY_UNIT_FACTOR[unit]
    automatic = decimals is None
    if automatic and isinstance(amount, int) and amount % factor == 0:  # whole (most amounts): no Decimal
        whole = amount // factor
        return ("-" if whole < 0 else "") + _group(str(abs(whole)))
    if decimals is None:
        decimals = 0 if amount % factor == 0 else (3 if unit != "dong" else 0)
    value = (Decimal(amount) / factor).quantize(Decimal(1).scaleb(-decimals), rounding="ROUND_HALF_UP")
    sign = "-" if value < 0 else ""
    integer, _, fraction = f"{abs(value):f}".partition(".")
    if automatic:
        fraction = fraction.rstrip("0")
    text = sign + _group(integer)
    return f"{text},{fraction}" if fraction else text


def format_money_with_unit(amount: Dong | None, unit: str = "dong") -> str:
    """``1.234.567 đồng``, ``12,5 triệu đồng``: for sentences in messages and documents."""
    if amount is None:
        return "chưa xác định"
    return f"{format_money(amount, unit)} {MONEY_UNIT_LABELS[unit]}"


# ---------------------------------------------------------------- amounts in words

_DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALE_WORDS = ("", "nghìn", "triệu")  # within one block of nine digits; "tỷ" joins the blocks
_CURRENCY_WORDS = {"dong": "đồng"}
_TY = 1_000_000_000


def _three_digits(value: int, *, full: bool) -> list[str]:
    """The words of 0 < ``value`` < 1000. ``full`` (an inner group) reads "không trăm" and "lẻ"."""
    hundreds, tens, units = value // 100, value // 10 % 10, value % 10
    words: list[str] = []
    if hundreds or full:
        words += [_DIGIT_WORDS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("lẻ")  # 105: một trăm lẻ năm ("linh" in the South; "lẻ" in the Gia Lai plan)
            words.append(_DIGIT_WORDS[units])
        return words
    if tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else _DIGIT_WORDS[units])  # mười lăm, mười một, mười bốn
        return words
    words += [_DIGIT_WORDS[tens], "mươi"]
    if units:
        # after "mươi": mốt (21), tư (24; the written form, "bốn" is also heard), lăm (25)
        words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(units, _DIGIT_WORDS[units]))
    return words


def _below_ty(value: int, *, full: bool) -> list[str]:
    """The words of 0 < ``value`` < 1 tỷ; every group after the first spoken one is read in full."""
    words: list[str] = []
    groups = [value // 1_000_000, value // 1000 % 1000, value % 1000]
    for group, scale in zip(groups, reversed(_SCALE_WORDS), strict=True):
        if group == 0:
            continue
        words += _three_digits(group, full=full or bool(words))
        if scale:
            words.append(scale)
    return words


def number_in_words(value: int) -> str:
    """A whole number in Vietnamese words, lower case: 105 → "một trăm lẻ năm",
    1_005_000 → "một triệu không trăm lẻ năm nghìn", 261_221_000_000 → "hai trăm sáu mươi mốt tỷ, hai
    trăm hai mươi mốt triệu", 1_500_000_000_000 → "một nghìn năm trăm tỷ"."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a whole number is needed, not {value!r}")
    if value < 0:
        raise ValueError(f"a negative amount has no words here: {value}")
    if value == 0:
        return _DIGIT_WORDS[0]
    return _spell(value, full=False)


def _spell(value: int, *, full: bool) -> str:
    # Blocks of nine digits joined by "tỷ": 1.500 tỷ is "một nghìn năm trăm tỷ" (nghìn tỷ, triệu tỷ…).
    ty_part, rest = divmod(value, _TY)
    words = " ".join(_below_ty(rest, full=full or bool(ty_part))) if rest else ""
    if not ty_part:
        return words
    head = f"{_spell(ty_part, full=full)} tỷ"
    return f"{head}, {words}" if words else head  # the comma after "tỷ", as the Gia Lai plan writes it


def money_in_words(amount_dong: int, unit: str = "dong") -> str:
    """An exact amount in words, as administrative documents write it after "Bằng chữ:".

    ``money_in_words(261_221_000_000)`` → "Hai trăm sáu mươi mốt tỷ, hai trăm hai mươi mốt triệu đồng
    chẵn" (the Gia Lai 2020 plan, word for word). Every đồng is spoken: the words never round, whatever
    unit the figure beside them is displayed in. Conventions: "lẻ" for a zero tens digit (105 "một trăm
    lẻ năm"), "mốt" / "tư" / "lăm" after "mươi" (21, 24, 25), "mười lăm" (15) but "mười bốn" (14),
    "không trăm" in inner groups, "nghìn" (not "ngàn"), a comma after the "tỷ" part, "chẵn" when the
    amount is a whole number of thousands (nothing below the last scale word spoken), "Không đồng" for
    zero. The first letter is capitalised.

    ``unit`` names the currency word that closes the phrase; "dong" ("đồng") is the only one.
    """
    if unit not in _CURRENCY_WORDS:
        raise ValueError(f"unknown currency {unit!r}; amounts in words are spoken in đồng ('dong')")
    words = f"{number_in_words(amount_dong)} {_CURRENCY_WORDS[unit]}"
    if amount_dong and amount_dong % 1000 == 0:
        words += " chẵn"
    return unicodedata.normalize("NFC", words[0].upper() + words[1:])
