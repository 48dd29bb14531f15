"""Text helpers shared by every stage: Unicode normal form, accent folding, ASCII slugs.

Vietnamese names arrive in NFC or NFD, with non-breaking spaces and doubled spaces; matching must survive
all of that without changing what is stored. One folding for every comparison: drop the diacritics
(đ → d), lower case, single spaces.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def clean(text: str) -> str:
    """NFC, non-breaking spaces as spaces, single spaces, trimmed: how a cell's text is compared."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).replace("\u00a0", " ")).strip()


def strip_accents(text: str) -> str:
    """ "Sở Tài chính" → "So Tai chinh": diacritics dropped, đ/Đ → d/D, case kept."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """ "  Sở  TÀI chính " → "so tai chinh": the key for matching labels, headers and names."""
    return _SPACES.sub(" ", strip_accents(text)).strip().lower()


def ascii_slug(text: str) -> str:
    """ "Quý I/2027" → "Quy-I-2027": an ASCII piece of a file name (letters, digits, hyphens)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", strip_accents(text)).strip("-")
