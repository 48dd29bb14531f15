"""Official codes in the registry: the administrative-unit code (mã đơn vị hành chính, Decision
19/2025/QĐ-TTg: 2 digits for a province, 5 for a commune, 3 for the former districts; never reused, merges
and splits are dated events) and the agency e-ID code (mã định danh điện tử, Decision 20/2020/QĐ-TTg, e.g.
"000.00.00.H21"). A merger is the registry's dated event: the merged unit's ``valid_to`` and its
``successor``; ``models.registry.predecessor_ids`` finds a unit's history through it."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, select

from models.registry import Unit

ADMIN_CODE = re.compile(r"^(\d{2}|\d{3}|\d{5})$")
EID_CODE = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[0-9A-Z]{3}$")


def check_official_codes(*, session: Session, units: dict[str, dict[str, Any]], issues: list[Any]) -> None:
    """Each code well formed, and held by one unit only, ever: a code of a unit that no longer exists is
    not given to another (Decision 19/2025: codes are never reused)."""
    holders: dict[tuple[str, str], str] = {}
    for unit in session.exec(select(Unit)):
        for field in ("admin_code", "eid_code"):
            value = getattr(unit, field)
            if value:
                holders[(field, value)] = unit.code
    for code, record in units.items():
        row = record["_row"]
        for field, pattern, key in (
            ("admin_code", ADMIN_CODE, "bad_admin_code"),
            ("eid_code", EID_CODE, "bad_eid_code"),
        ):
            value = record.get(field)
            if not value:
                continue
            column = row.headers.get(field, field)
            if not pattern.match(value):
                issues.append(row.issue(column, key, value=value))
                continue
            holder = holders.get((field, value))
            if holder is not None and holder != code:
                issues.append(row.issue(column, "code_reused", value=value, other=holder))
            holders[(field, value)] = code
