"""What the draft names depends on its date: the agencies in force, its recipients (its legal bases:
``tasks.consolidation.legal_frame``, on the same reference date).

The reference date is the cycle's setting ``documents.on`` when given, else its decision date, else
31/12 of the year before the plan year (when the draft is written). The data are dated files in
``templates/documents/`` (agencies.yaml, recipients.yaml); a cycle overrides any agency
name (``documents.agencies``) or the whole recipient list (``documents.recipients``) in its settings.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from templates import load_yaml


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def in_force(entry: dict[str, Any], on: date, *, start: str = "from") -> bool:
    """Whether a dated entry holds on ``on`` (``start`` ≤ on ≤ ``until``, open ends allowed)."""
    first, last = _day(entry.get(start)), _day(entry.get("until"))
    return (first is None or first <= on) and (last is None or on <= last)


def reference_date(*, year: int, settings: dict[str, Any] | None, decision_date: date | None) -> date:
    documents = (settings or {}).get("documents") or {}
    return _day(documents.get("on")) or decision_date or date(year - 1, 12, 31)


def agency_names(on: date, settings: dict[str, Any] | None = None) -> dict[str, str]:
    """Each agency key's name in force on ``on``; the cycle's ``documents.agencies`` win."""
    names = {}
    for key, entries in load_yaml("documents/agencies.yaml")["agencies"].items():
        current = [e for e in entries if in_force(e, on)]
        if current:
            names[key] = current[-1]["name"]
    overrides = ((settings or {}).get("documents") or {}).get("agencies") or {}
    return names | {str(k): str(v) for k, v in overrides.items()}


def recipient_lines(on: date, settings: dict[str, Any] | None = None) -> list[str]:
    """The "Nơi nhận" lines (Jinja templates over ``agency``) in force on ``on``, or the cycle's own."""
    own = ((settings or {}).get("documents") or {}).get("recipients")
    if own:
        return [str(line) for line in own]
    return [e["text"] for e in load_yaml("documents/recipients.yaml")["recipients"] if in_force(e, on)]
