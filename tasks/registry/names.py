"""A unit named in words, as real plans write it, resolved against the registry.

``resolve_unit_name(session=, text=, on=)`` is the one way every stage reads a unit name typed by a person
(the workbook's lead-unit and partner columns, an issued plan's appendix): the registry's official names
and aliases, the abbreviations of ``templates/registry/abbreviations.yaml`` expanded ("Sở LĐTBXH",
"Bộ CHQS tỉnh", "Trung tâm CNTT&TT"), the province's name added or dropped ("Sở Y tế" / "Sở Y tế tỉnh
Gia Lai"), and a unit merged away by the date followed to its successor. When nothing matches, the
answer carries the closest registry names to suggest.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlmodel import Session, select

from models.registry import Unit, UnitAlias, current_successor, unit_name_key
from tasks.common.text import strip_accents
from templates import load_yaml


@dataclass(frozen=True)
class UnitNameMatch:
    """What a name resolved to. ``unit`` is None when nothing matched; then ``suggestions`` holds the
    official names of the closest registry units (best first). ``named`` is the unit the text names
    (``unit`` differs from it when that unit was merged into a successor by the date); ``via`` says how
    it matched: ``name``, ``alias``, ``abbreviation``, ``province``."""

    text: str
    unit: Unit | None
    named: Unit | None = None
    via: str | None = None
    suggestions: list[str] = field(default_factory=list)
    valid: bool = True  # False: the unit found did not exist on the date asked (and has no successor then)

    @property
    def found(self) -> bool:
        return self.unit is not None


def _norm(text: str) -> str:
    """Accents dropped, lower case, ``&`` spaced, punctuation as spaces, single spaces."""
    text = strip_accents(text).lower()
    text = re.sub(r"\s*&\s*", " & ", text)
    text = re.sub(r"[.\-,;:()/'\"]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache
def _abbreviations() -> tuple[tuple[re.Pattern[str], str], ...]:
    entries = load_yaml("registry/abbreviations.yaml")["abbreviations"]
    pairs = sorted(((_norm(e["short"]), _norm(e["full"])) for e in entries), key=lambda p: -len(p[0]))
    return tuple(
        (re.compile(r"(?<![\w&])" + re.escape(short).replace(r"\ ", r"\s*") + r"(?![\w&])"), full)
        for short, full in pairs
    )


def expand_abbreviations(text: str) -> str:
    """The name with the table's abbreviations written out (normalised: no accents, lower case)."""
    result = _norm(text)
    for pattern, full in _abbreviations():
        result = pattern.sub(full, result)
    return re.sub(r"\s+", " ", result).strip()


def _province_variants(key: str) -> list[str]:
    from plancycle.settings import get_settings

    province = unit_name_key(get_settings().province_name)
    variants = []
    for suffix in (f" tinh {province}", f" {province}"):
        if key.endswith(suffix):
            variants.append(key[: -len(suffix)].strip())
    if not key.endswith(province):
        variants += [f"{key} {province}", f"{key} tinh {province}"]
        if key.endswith(" tinh"):
            variants.append(f"{key} {province}")
    return [v for v in variants if v]


def _lookup(session: Session, key: str) -> tuple[Unit | None, str | None]:
    unit = session.exec(select(Unit).where(Unit.name_key == key)).first()
    if unit is not None:
        return unit, "name"
    alias = session.exec(select(UnitAlias).where(UnitAlias.alias_key == key)).first()
    return (session.get(Unit, alias.unit_id), "alias") if alias else (None, None)


def _valid_on(unit: Unit, on: date | None) -> bool:
    if on is None:
        return True
    return (unit.valid_from is None or unit.valid_from <= on) and (
        unit.valid_to is None or on <= unit.valid_to
    )


def resolve_unit_name(*, session: Session, text: str, on: date | None = None) -> UnitNameMatch:
    """The registry unit ``text`` names on the date ``on`` (None: any date), or the closest names.

    Tried in order: the text's own key, then with abbreviations expanded, each also with the province
    name added or dropped. A unit no longer valid on ``on`` that has a successor resolves to the
    successor valid then (``named`` keeps the unit the text names)."""
    text = (text or "").strip()
    if not text:
        return UnitNameMatch(text=text, unit=None)
    own = unit_name_key(text)
    expanded = unit_name_key(expand_abbreviations(text))
    attempts: list[tuple[str, str | None]] = [(own, None), (expanded, "abbreviation")]
    attempts += [(v, "province") for v in _province_variants(own)]
    attempts += [(v, "province") for v in _province_variants(expanded)]
    seen: set[str] = set()
    for key, how in attempts:
        if key in seen:
            continue
        seen.add(key)
        named, via = _lookup(session, key)
        if named is None:
            continue
        unit = named
        if not _valid_on(named, on) and named.successor_id is not None:
            unit = current_successor(session=session, unit=named)
        return UnitNameMatch(text=text, unit=unit, named=named, via=how or via, valid=_valid_on(unit, on))
    return UnitNameMatch(
        text=text, unit=None, suggestions=closest_unit_names(session=session, text=text, on=on)
    )


def closest_unit_names(*, session: Session, text: str, on: date | None = None) -> list[str]:
    """Official names of the registry units (valid on ``on``) whose name or alias is closest to ``text``."""
    settings = load_yaml("registry/abbreviations.yaml")["suggestions"]
    units = {u.id: u for u in session.exec(select(Unit)) if _valid_on(u, on)}
    keys: dict[str, int] = {u.name_key: uid for uid, u in units.items() if uid is not None}
    for alias in session.exec(select(UnitAlias)):
        if alias.unit_id in units:
            keys.setdefault(alias.alias_key, alias.unit_id)
    wanted = unit_name_key(expand_abbreviations(text))
    names: list[str] = []
    for key in difflib.get_close_matches(wanted, list(keys), n=len(keys), cutoff=float(settings["cutoff"])):
        name = units[keys[key]].name
        if name not in names:
            names.append(name)
        if len(names) == int(settings["count"]):
            break
    return names


def resolve_written_lead(*, session: Session, name: str, on: date | None = None) -> Unit | None:
    """The unit a published plan's lead-unit cell means, or None. A cell naming several units ("Sở TT&TT;
    các sở, ngành liên quan") means its first one; a name with a qualifier after a comma ("Sở Y tế tỉnh Gia
    Lai, Các đơn vị trực thuộc") is tried without it, longest first (unit names contain commas too)."""
    first = re.split(r"[;\n]", name)[0].strip()
    for candidate in (name.strip(), first):
        if candidate:
            unit = resolve_unit_name(session=session, text=candidate, on=on).unit
            if unit is not None:
                return unit
    parts = [p.strip() for p in first.split(",")]
    for end in range(len(parts) - 1, 0, -1):
        unit = resolve_unit_name(session=session, text=", ".join(parts[:end]), on=on).unit
        if unit is not None:
            return unit
    return None


def other_named_units(*, session: Session, name: str, lead: Unit) -> tuple[list[int], list[str]]:
    """The further parts of a cell naming several units (split on ";"): ids of those the registry knows
    (other than ``lead``), and the words of those it does not (kept as coordinating units)."""
    ids: list[int] = []
    words: list[str] = []
    for part in [p.strip() for p in re.split(r"[;\n]", name)[1:] if p.strip()]:
        unit = resolve_unit_name(session=session, text=part).unit
        if unit is not None and unit.id is not None and unit.id != lead.id:
            ids.append(unit.id)
        elif unit is None:
            words.append(part)
    return ids, words
