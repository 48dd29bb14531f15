"""Which registry unit a name written in a document means, and what to suggest when none does.

One small seam for every reader of names typed by people (imported plans for now): ``resolve_unit_name``
uses the registry's alias lookup (official name or alias, after ``unit_name_key`` folding);
``suggest_unit_names`` offers the closest known names. A richer resolver can replace these two functions
without touching their callers.
"""

from __future__ import annotations

import difflib
import re

from sqlmodel import Session, select

from models.registry import Unit, UnitAlias, find_unit_by_name, unit_name_key

SUGGESTION_CUTOFF = 0.6


def resolve_unit_name(*, session: Session, name: str) -> Unit | None:
    """The unit ``name`` means, or None. A cell naming several units ("Sở TT&TT; các sở, ngành liên quan")
    means its first one; a name with a qualifier after a comma ("Sở Y tế tỉnh Gia Lai, Các đơn vị trực
    thuộc") is tried without it, longest first (unit names contain commas too)."""
    first = re.split(r"[;\n]", name)[0].strip()
    for candidate in (name.strip(), first):
        if candidate:
            unit = find_unit_by_name(session=session, name=candidate)
            if unit is not None:
                return unit
    parts = [p.strip() for p in first.split(",")]
    for end in range(len(parts) - 1, 0, -1):
        unit = find_unit_by_name(session=session, name=", ".join(parts[:end]))
        if unit is not None:
            return unit
    return None


def other_named_units(*, session: Session, name: str, lead: Unit) -> tuple[list[int], list[str]]:
    """The further parts of a cell naming several units (split on ";"): ids of those the registry knows
    (other than ``lead``), and the words of those it does not (kept as coordinating units)."""
    ids: list[int] = []
    words: list[str] = []
    for part in [p.strip() for p in re.split(r"[;\n]", name)[1:] if p.strip()]:
        unit = find_unit_by_name(session=session, name=part)
        if unit is not None and unit.id is not None and unit.id != lead.id:
            ids.append(unit.id)
        elif unit is None:
            words.append(part)
    return ids, words


def suggest_unit_names(*, session: Session, name: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` registry names (official names, then aliases) closest to ``name``."""
    key = unit_name_key(name)
    known: dict[str, str] = {}
    for unit in session.exec(select(Unit)):
        known.setdefault(unit.name_key, unit.name)
    for alias in session.exec(select(UnitAlias)):
        known.setdefault(alias.alias_key, alias.alias)
    close = difflib.get_close_matches(key, list(known), n=limit, cutoff=SUGGESTION_CUTOFF)
    if not close:  # a distinctive word in common ("huyện") is still a hint
        words = set(key.split()) - {"so", "ban", "uy", "nhan", "dan", "cac", "va", "tinh"}
        scored = sorted(
            ((len(words & set(k.split())), k) for k in known if words & set(k.split())),
            key=lambda pair: (-pair[0], pair[1]),
        )
        close = [k for _score, k in scored[:limit]]
    return [known[k] for k in close]
