"""Import the unit registry (units and their contacts) from Excel or CSV.

All or nothing: every row of every file is checked first; if anything is wrong, nothing is written and
every problem is reported with its file, row and column. A re-import updates by code (units) and by
unit + name + role (contacts); it never duplicates. The column list is in ``docs/unit-registry.md``;
reading the files is ``tasks.registry.files``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, select

from models import Contact, Unit, UnitAlias, record_audit
from models.base import ContactRole, UnitKind, nfc, utcnow
from models.registry import CONTACT_DETAILS, unit_name_key
from tasks.registry.files import (
    CONTACT_REQUIRED,
    UNIT_REQUIRED,
    RegistryIssue,
    RegistryRow,
    collect_rows,
    word_key,
)
from tasks.registry.official_codes import check_official_codes
from templates import format_date

KIND_WORDS: dict[str, str] = {
    "so_ban_nganh": UnitKind.department, "department": UnitKind.department, "so": UnitKind.department,
    "su_nghiep": UnitKind.public_service, "don_vi_su_nghiep": UnitKind.public_service,
    "public_service": UnitKind.public_service,
    "xa_phuong": UnitKind.commune, "xa": UnitKind.commune, "phuong": UnitKind.commune,
    "commune": UnitKind.commune,
    "huyen": UnitKind.district, "district": UnitKind.district,
    "lanh_dao_tinh": UnitKind.provincial_leadership, "provincial_leadership": UnitKind.provincial_leadership,
    "khac": UnitKind.other, "other": UnitKind.other,
    "tap_the": UnitKind.collective, "nhieu_don_vi": UnitKind.collective, "collective": UnitKind.collective,
}  # fmt: skip
ROLE_WORDS: dict[str, str] = {
    "chuyen_vien": ContactRole.officer, "dau_moi": ContactRole.officer, "officer": ContactRole.officer,
    "thu_truong": ContactRole.head, "lanh_dao": ContactRole.head, "head": ContactRole.head,
    "dieu_phoi": ContactRole.coordinator, "tong_hop": ContactRole.coordinator,
    "coordinator": ContactRole.coordinator,
    "phe_duyet": ContactRole.approver, "tham_dinh": ContactRole.approver, "approver": ContactRole.approver,
}  # fmt: skip
KIND_HINT = "so_ban_nganh, su_nghiep, xa_phuong, huyen, lanh_dao_tinh, khac, tap_the"
ROLE_HINT = "chuyen_vien, thu_truong, dieu_phoi, phe_duyet"
TRUE_WORDS = {"co", "x", "1", "true", "yes", "dang_hoat_dong"}
FALSE_WORDS = {"khong", "0", "false", "no", "ngung"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^(84|0)\d{9,10}$")
LIMITS = {
    "code": 64,
    "name": 255,
    "short_name": 120,
    "full_name": 160,
    "position": 160,
    "email": 254,
    "zalo_user_id": 64,
    "alias": 255,
}


class RegistryImportError(Exception):
    """Raised with every problem found; nothing was written."""

    def __init__(self, issues: list[RegistryIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(issue.message("en") for issue in issues[:20]))


class RegistryImportResult(BaseModel):
    units_created: int = 0
    units_updated: int = 0
    units_unchanged: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    contacts_unchanged: int = 0


def _parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _text(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(str(value))


def import_registry(
    *, session: Session, paths: list[Path], actor: str = "registry-import"
) -> RegistryImportResult:
    """Check every row of the files, then create or update units, aliases and contacts in the caller's
    transaction. Raises ``RegistryImportError`` listing every problem, before writing anything."""
    issues: list[RegistryIssue] = []
    unit_rows, contact_rows = collect_rows(paths, issues)
    existing = {u.code: u for u in session.exec(select(Unit))}
    parsed_units = _check_units(unit_rows, issues)
    known_codes = set(existing) | set(parsed_units)
    _check_references(parsed_units, known_codes, issues)
    _check_merger_loops(session, existing, parsed_units, issues)
    _check_names(session, existing, parsed_units, issues)
    check_official_codes(session=session, units=parsed_units, issues=issues)
    parsed_contacts = _check_contacts(contact_rows, known_codes, issues)
    if issues:
        raise RegistryImportError(issues)
    return _write(
        session=session, existing=existing, units=parsed_units, contacts=parsed_contacts, actor=actor
    )


def _word(
    row: RegistryRow, fname: str, words: dict[str, str], key: str, allowed: str, issues: list[RegistryIssue]
) -> str | None:
    """The value a word of the row stands for (``KIND_WORDS``, ``ROLE_WORDS``); None when the cell is
    empty or the word unknown (then an issue, with the words allowed)."""
    raw = _text(row.values.get(fname))
    if not raw:
        return None
    value = words.get(word_key(raw))
    if value is None:
        issues.append(row.issue(row.headers.get(fname), key, value=raw, allowed=allowed))
    return value


def _check_units(rows: list[RegistryRow], issues: list[RegistryIssue]) -> dict[str, dict[str, Any]]:
    """Each unit row checked on its own; the units by code (a code's first row wins)."""
    parsed_units: dict[str, dict[str, Any]] = {}
    first_row: dict[str, int] = {}
    for row in rows:
        v = row.values
        col = row.headers.get
        code = _text(v.get("code"))
        for needed in UNIT_REQUIRED:
            if not _text(v.get(needed)):
                issues.append(row.issue(col(needed, needed), "required"))
        if not code:
            continue
        if code in first_row:
            issues.append(row.issue(col("code"), "duplicate_code", value=code, first_row=first_row[code]))
            continue
        first_row[code] = row.number
        record: dict[str, Any] = {"code": code, "name": _text(v.get("name")), "_row": row}
        for fname in ("name", "short_name"):
            text = _text(v.get(fname))
            if text and len(text) > LIMITS[fname]:
                issues.append(row.issue(col(fname), "too_long", limit=LIMITS[fname]))
        if len(code) > LIMITS["code"]:
            issues.append(row.issue(col("code"), "too_long", limit=LIMITS["code"]))
        record["short_name"] = _text(v.get("short_name"))
        record["kind"] = _word(row, "kind", KIND_WORDS, "bad_kind", KIND_HINT, issues)
        for fname in ("valid_from", "valid_to"):
            try:
                record[fname] = _parse_date(v.get(fname))
            except ValueError:
                issues.append(row.issue(col(fname), "bad_date", value=v.get(fname)))
                record[fname] = None
        if record.get("valid_from") and record.get("valid_to") and record["valid_to"] < record["valid_from"]:
            issues.append(
                row.issue(
                    None,
                    "date_order",
                    valid_from=format_date(record["valid_from"]),
                    valid_to=format_date(record["valid_to"]),
                )
            )
        record["parent"] = _text(v.get("parent"))
        record["successor"] = _text(v.get("successor"))
        aliases_raw = _text(v.get("aliases"))
        record["aliases"] = (
            [a.strip() for a in re.split(r"[;\n]", aliases_raw) if a.strip()] if aliases_raw else None
        )
        record["admin_code"] = _text(v.get("admin_code"))
        record["eid_code"] = _text(v.get("eid_code"))
        record["has"] = {k for k in v if k != "code"}
        parsed_units[code] = record
    return parsed_units


def _check_references(
    parsed_units: dict[str, dict[str, Any]], known_codes: set[str], issues: list[RegistryIssue]
) -> None:
    """A parent or successor is another unit, known already or imported now."""
    for code, record in parsed_units.items():
        row = record["_row"]
        for ref in ("parent", "successor"):
            target = record[ref]
            if not target:
                continue
            if target == code:
                issues.append(row.issue(row.headers.get(ref), "self_reference"))
            elif target not in known_codes:
                issues.append(row.issue(row.headers.get(ref), "unknown_unit", value=target))


def _check_merger_loops(
    session: Session,
    existing: dict[str, Unit],
    parsed_units: dict[str, dict[str, Any]],
    issues: list[RegistryIssue],
) -> None:
    """No chain of successors comes back to where it started, in the registry as it would be after the
    import (each loop reported once)."""
    successor_of = {
        c: (existing[c].successor_id and _code_of(session, existing[c].successor_id)) for c in existing
    }
    for code, record in parsed_units.items():
        if "successor" in record["has"]:
            successor_of[code] = record["successor"]
    reported: set[str] = set()
    for code, record in parsed_units.items():
        chain = [code]
        current = successor_of.get(code)
        while current and current not in chain:
            chain.append(current)
            current = successor_of.get(current)
        if current and current in chain and code not in reported:
            loop = chain[chain.index(current) :] + [current]
            reported.update(loop)
            row = record["_row"]
            issues.append(row.issue(row.headers.get("successor"), "merger_loop", chain=" → ".join(loop)))


def _check_names(
    session: Session,
    existing: dict[str, Unit],
    parsed_units: dict[str, dict[str, Any]],
    issues: list[RegistryIssue],
) -> None:
    """Names and aliases must point at one unit only."""
    key_owner: dict[str, str] = {}
    for unit in existing.values():
        if unit.code not in parsed_units:
            key_owner[unit.name_key] = unit.code
    for alias in session.exec(select(UnitAlias)):
        owner = next((c for c, u in existing.items() if u.id == alias.unit_id), None)
        if owner and owner not in parsed_units:
            key_owner.setdefault(alias.alias_key, owner)
    for code, record in parsed_units.items():
        row = record["_row"]
        names = [("name", record["name"])] if record["name"] else []
        names += [("aliases", a) for a in (record["aliases"] or [])]
        if record["aliases"] is None and code in existing:  # keep aliases already registered
            names += [
                ("aliases", a.alias)
                for a in session.exec(select(UnitAlias).where(UnitAlias.unit_id == existing[code].id))
            ]
        for fname, name in names:
            key = unit_name_key(name)
            owner = key_owner.get(key)
            if owner and owner != code:
                issues.append(
                    row.issue(row.headers.get(fname, fname), "alias_conflict", value=name, other=owner)
                )
            else:
                key_owner[key] = code
            if fname == "aliases" and len(name) > LIMITS["alias"]:
                issues.append(row.issue(row.headers.get(fname), "too_long", limit=LIMITS["alias"]))


def _check_contacts(
    rows: list[RegistryRow], known_codes: set[str], issues: list[RegistryIssue]
) -> list[dict[str, Any]]:
    """Each contact row checked and normalised (email lower case, phone 84…, channels, locale, active)."""
    parsed_contacts: list[dict[str, Any]] = []
    seen_contacts: dict[tuple[str, str, str], int] = {}
    for row in rows:
        v = row.values
        col = row.headers.get
        record: dict[str, Any] = {"_row": row}
        for needed in CONTACT_REQUIRED:
            if not _text(v.get(needed)):
                issues.append(row.issue(col(needed, needed), "required"))
        unit_code = _text(v.get("unit"))
        if unit_code and unit_code not in known_codes:
            issues.append(row.issue(col("unit"), "unknown_unit", value=unit_code))
        record["unit"] = unit_code
        record["full_name"] = _text(v.get("full_name"))
        record["position"] = _text(v.get("position"))
        for fname in ("full_name", "position"):
            if record[fname] and len(record[fname]) > LIMITS[fname]:
                issues.append(row.issue(col(fname), "too_long", limit=LIMITS[fname]))
        record["role"] = _word(row, "role", ROLE_WORDS, "bad_role", ROLE_HINT, issues) or ContactRole.officer
        email = _text(v.get("email"))
        if email:
            email = email.lower()
            if not EMAIL_RE.match(email) or len(email) > LIMITS["email"]:
                issues.append(row.issue(col("email"), "bad_email", value=email))
        record["email"] = email
        record["zalo_user_id"] = _text(v.get("zalo_user_id"))
        phone = _text(v.get("phone"))
        if phone:
            phone = re.sub(r"[\s.\-+()]", "", phone)
            if not PHONE_RE.match(phone):
                issues.append(row.issue(col("phone"), "bad_phone", value=v.get("phone")))
            elif phone.startswith("0"):
                phone = "84" + phone[1:]
        record["phone"] = phone
        channels_raw = _text(v.get("channels"))
        channels = [c.strip().lower() for c in re.split(r"[,;\s]+", channels_raw or "email") if c.strip()]
        for channel in channels:
            if channel not in {"email", "zalo", "zns"}:
                issues.append(row.issue(col("channels"), "bad_channel", value=channel))
        record["preferred_channels"] = ",".join(dict.fromkeys(channels))
        locale = (_text(v.get("locale")) or "vi").lower()
        if locale not in {"vi", "en"}:
            issues.append(row.issue(col("locale"), "bad_locale", value=locale))
        record["locale"] = locale
        active_raw = _text(v.get("active"))
        record["active"] = True
        if active_raw:
            word = word_key(active_raw)
            if word in TRUE_WORDS:
                record["active"] = True
            elif word in FALSE_WORDS:
                record["active"] = False
            else:
                issues.append(row.issue(col("active"), "bad_bool", value=active_raw))
        if unit_code and record["full_name"]:
            identity = (unit_code, unit_name_key(record["full_name"]), record["role"])
            if identity in seen_contacts:
                issues.append(
                    row.issue(
                        None,
                        "duplicate_contact",
                        value=record["full_name"],
                        first_row=seen_contacts[identity],
                    )
                )
            seen_contacts.setdefault(identity, row.number)
        parsed_contacts.append(record)
    return parsed_contacts


def _code_of(session: Session, unit_id: int) -> str | None:
    unit = session.get(Unit, unit_id)
    return unit.code if unit else None


def _write(
    *,
    session: Session,
    existing: dict[str, Unit],
    units: dict[str, dict[str, Any]],
    contacts: list[dict[str, Any]],
    actor: str,
) -> RegistryImportResult:
    result = RegistryImportResult()
    by_code = dict(existing)
    # pass 1: the units themselves
    for code, record in units.items():
        unit = by_code.get(code)
        changes: dict[str, Any] = {"name": record["name"], "name_key": unit_name_key(record["name"])}
        for fname in ("short_name", "valid_from", "valid_to", "admin_code", "eid_code"):
            if fname in record["has"]:
                changes[fname] = record[fname]
        if record.get("kind"):
            changes["kind"] = record["kind"]
        if unit is None:
            unit = Unit(code=code, **changes)
            session.add(unit)
            by_code[code] = unit
            result.units_created += 1
            record["_changed"] = True
        else:
            changed = {k: val for k, val in changes.items() if getattr(unit, k) != val}
            for k, val in changed.items():
                setattr(unit, k, val)
            record["_changed"] = bool(changed)
    session.flush()
    # pass 2: references and aliases, now that every unit has an id
    for code, record in units.items():
        unit = by_code[code]
        changed = record.pop("_changed")
        for ref, attr in (("parent", "parent_id"), ("successor", "successor_id")):
            if ref in record["has"]:
                target_id = by_code[record[ref]].id if record[ref] else None
                if getattr(unit, attr) != target_id:
                    setattr(unit, attr, target_id)
                    changed = True
        if record["aliases"] is not None:
            current = {
                a.alias_key: a for a in session.exec(select(UnitAlias).where(UnitAlias.unit_id == unit.id))
            }
            wanted = {unit_name_key(a): a for a in record["aliases"] if unit_name_key(a) != unit.name_key}
            for key, alias in current.items():
                if key not in wanted:
                    session.delete(alias)
                    changed = True
            session.flush()
            for key, text in wanted.items():
                if key not in current:
                    session.add(UnitAlias(unit_id=unit.id, alias=text, alias_key=key))
                    changed = True
        if changed:
            unit.updated_at = utcnow()
            if code in existing:
                result.units_updated += 1
            record_audit(session=session, actor=actor, action="import", entity="unit", entity_id=code)
        elif code in existing:
            result.units_unchanged += 1
    session.flush()
    # contacts
    for record in contacts:
        unit = by_code[record["unit"]]
        key = unit_name_key(record["full_name"])
        contact = next(
            (
                c
                for c in session.exec(
                    select(Contact).where(Contact.unit_id == unit.id, Contact.role == record["role"])
                )
                if unit_name_key(c.full_name) == key
            ),
            None,
        )
        values = {k: record[k] for k in CONTACT_DETAILS}
        if contact is None:
            session.add(Contact(unit_id=unit.id, **values))
            result.contacts_created += 1
        else:
            changed = {k: val for k, val in values.items() if getattr(contact, k) != val}
            for k, val in changed.items():
                setattr(contact, k, val)
            if changed:
                contact.updated_at = utcnow()
                result.contacts_updated += 1
            else:
                result.contacts_unchanged += 1
    session.flush()
    record_audit(
        session=session, actor=actor, action="registry_import", entity="registry", details=result.model_dump()
    )
    return result
