"""Units (đơn vị), their aliases and contacts: the registry every cycle addresses."""

from __future__ import annotations

import re
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from models.base import ContactRole, UnitKind, created_at_field, updated_at_field
from tasks.common.text import strip_accents

# Abbreviations that real plans use interchangeably with the full words. Both sides are matched
# after normalisation, so "VP.UBND tỉnh" and "Văn phòng UBND tỉnh" give the same key.
_ABBREVIATIONS: list[tuple[str, str]] = [
    (r"\bvp\b", "van phong"),
    (r"\bubnd\b", "uy ban nhan dan"),
    (r"\bhdnd\b", "hoi dong nhan dan"),
    (r"\btt\s*&\s*tt\b", "thong tin va truyen thong"),
    (r"\bkh\s*&\s*dt\b", "ke hoach va dau tu"),
    (r"\bkh\s*&\s*cn\b", "khoa hoc va cong nghe"),
    (r"\btn\s*&\s*mt\b", "tai nguyen va moi truong"),
    (r"\bld\s*-?\s*tb\s*&\s*xh\b", "lao dong thuong binh va xa hoi"),
    (r"\bgd\s*&\s*dt\b", "giao duc va dao tao"),
    (r"\bnn\s*&\s*ptnt\b", "nong nghiep va phat trien nong thon"),
    (r"\bvhttdl\b", "van hoa the thao va du lich"),
    (r"\bcntt\b", "cong nghe thong tin"),
    (r"\btx\b", "thi xa"),
    (r"\btp\b", "thanh pho"),
]


def unit_name_key(name: str) -> str:
    """A matching key for a unit name that survives case, spacing, punctuation, NFC/NFD and the usual
    abbreviations. Diacritics are dropped only for the key; stored names keep them."""
    text = strip_accents(name).lower()
    text = re.sub(r"\s*&\s*", " & ", text)
    text = re.sub(r"[.\-,;:()/'\"]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    for pattern, replacement in _ABBREVIATIONS:
        text = re.sub(pattern, replacement, text)
    text = text.replace("&", " va ")
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- Unit


class UnitBase(SQLModel):
    code: str = Field(max_length=64, index=True, unique=True, description="Mã định danh")
    name: str = Field(max_length=255, description="Tên chính thức")
    short_name: str | None = Field(default=None, max_length=120)
    kind: str = Field(default=UnitKind.department, max_length=32, index=True)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    valid_from: date | None = None
    valid_to: date | None = None
    successor_id: int | None = Field(default=None, foreign_key="unit.id")
    admin_code: str | None = Field(
        default=None, max_length=16, unique=True, index=True, description="Mã ĐVHC (QĐ 19/2025/QĐ-TTg)"
    )
    eid_code: str | None = Field(
        default=None, max_length=32, unique=True, index=True, description="Mã định danh điện tử (QĐ 20/2020)"
    )


class Unit(UnitBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name_key: str = Field(max_length=255, index=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class UnitAlias(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("alias_key", name="uq_unitalias_key"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    alias: str = Field(max_length=255)
    alias_key: str = Field(max_length=255)


# ---------------------------------------------------------------- Contact


class ContactBase(SQLModel):
    unit_id: int = Field(foreign_key="unit.id", index=True)
    full_name: str = Field(max_length=160)
    position: str | None = Field(default=None, max_length=160, description="Chức vụ")
    role: str = Field(default=ContactRole.officer, max_length=32, index=True)
    email: str | None = Field(default=None, max_length=254, index=True)
    zalo_user_id: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=20, description="E.164 without +, e.g. 84912345678")
    preferred_channels: str = Field(default="email", max_length=64, description="comma list: email,zalo,zns")
    locale: str = Field(default="vi", max_length=8)
    active: bool = True


# What a registry file sets for a contact: every field of ContactBase but the unit it belongs to.
CONTACT_DETAILS: tuple[str, ...] = (
    "full_name",
    "position",
    "role",
    "email",
    "zalo_user_id",
    "phone",
    "preferred_channels",
    "locale",
    "active",
)


class Contact(ContactBase, table=True):
    __table_args__ = (sa.UniqueConstraint("unit_id", "full_name", "role", name="uq_contact_unit_name_role"),)
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @property
    def channels(self) -> list[str]:
        return [c.strip() for c in self.preferred_channels.split(",") if c.strip()]


# ---------------------------------------------------------------- queries


def get_unit_by_code(*, session: Session, code: str) -> Unit | None:
    return session.exec(select(Unit).where(Unit.code == code)).first()


def find_unit_by_name(*, session: Session, name: str) -> Unit | None:
    """Resolve a unit from a name as written in a real document: official name or any registered alias."""
    key = unit_name_key(name)
    unit = session.exec(select(Unit).where(Unit.name_key == key)).first()
    if unit is not None:
        return unit
    alias = session.exec(select(UnitAlias).where(UnitAlias.alias_key == key)).first()
    return session.get(Unit, alias.unit_id) if alias else None


def list_active_units(*, session: Session, on: date, kinds: list[str] | None = None) -> list[Unit]:
    """Units valid on a date (valid_from ≤ on ≤ valid_to, open ends allowed), ordered by code."""
    query = select(Unit).where(
        sa.or_(col(Unit.valid_from).is_(None), col(Unit.valid_from) <= on),
        sa.or_(col(Unit.valid_to).is_(None), col(Unit.valid_to) >= on),
    )
    if kinds:
        query = query.where(col(Unit.kind).in_(kinds))
    return list(session.exec(query.order_by(col(Unit.code))))


def list_unit_contacts(*, session: Session, unit_id: int, roles: list[str] | None = None) -> list[Contact]:
    query = select(Contact).where(Contact.unit_id == unit_id, col(Contact.active).is_(True))
    if roles:
        query = query.where(col(Contact.role).in_(roles))
    return list(session.exec(query.order_by(col(Contact.id))))


def current_successor(*, session: Session, unit: Unit) -> Unit:
    """Follow successor links after mergers to the unit that exists now. Loops are refused on import."""
    seen = {unit.id}
    while unit.successor_id is not None:
        nxt = session.get(Unit, unit.successor_id)
        if nxt is None or nxt.id in seen:
            break
        seen.add(nxt.id)
        unit = nxt
    return unit


def predecessor_ids(*, session: Session, unit: Unit) -> list[int]:
    """The unit and every unit merged into it, directly or through earlier mergers (its history)."""
    ids = [unit.id] if unit.id is not None else []
    frontier = list(ids)
    while frontier:
        found = [
            u.id
            for u in session.exec(select(Unit).where(col(Unit.successor_id).in_(frontier)))
            if u.id is not None and u.id not in ids
        ]
        ids += found
        frontier = found
    return ids


def list_unit_recipients(*, session: Session, unit_id: int) -> list[Contact]:
    """Who receives a unit's messages: its active officers, or its head when it has no officer."""
    return list_unit_contacts(session=session, unit_id=unit_id, roles=[ContactRole.officer]) or (
        list_unit_contacts(session=session, unit_id=unit_id, roles=[ContactRole.head])
    )
