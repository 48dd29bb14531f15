"""Text helpers shared by every stage: Unicode normal form, accent folding, ASCII slugs.

Vietnamese names arrive in NFC or NFD, with non-breaking spaces and doubled spaces; matching must survive
all of that without changing what is stored. One folding for every comparison: drop the diacritics
(đ → d), lower case, single spaces.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")

# Characters that change how a name looks or reads without being seen: zero-width spaces and joiners,
# word joiner, byte-order mark, and the bidirectional controls (embeddings, overrides, isolates, marks).
# "Sở Y\u200b tế" must be the same unit as "Sở Y tế", and a right-to-left override must not turn a name
# around on the screen.
INVISIBLE_CHARACTERS = (
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space, non-joiner, joiner; word joiner; BOM
    "\u200e\u200f"  # left-to-right and right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings, pop, overrides
    "\u2066\u2067\u2068\u2069"  # isolates
)
_DROP = dict.fromkeys(map(ord, INVISIBLE_CHARACTERS))


def normalize_text(text: str) -> str:
    """NFC with the invisible characters removed: what every intake (workbook cell, registry file, CLI
    argument, portal form field) stores and compares. Whitespace is left as it was."""
    return unicodedata.normalize("NFC", text.translate(_DROP)).translate(_DROP)


def clean(text: str) -> str:
    """NFC, non-breaking spaces as spaces, single spaces, trimmed: how a cell's text is compared."""
    return _SPACES.sub(" ", normalize_text(text).replace("\u00a0", " ")).strip()


def strip_accents(text: str) -> str:
    """ "Sở Tài chính" → "So Tai chinh": diacritics dropped, đ/Đ → d/D, case kept."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_DROP).replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """ "  Sở  TÀI chính " → "so tai chinh": the key for matching labels, headers and names."""
    return _SPACES.sub(" ", strip_accents(text)).strip().lower()


def ascii_slug(text: str) -> str:
    """ "Quý I/2027" → "Quy-I-2027": an ASCII piece of a file name (letters, digits, hyphens)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", strip_accents(text)).strip("-")
