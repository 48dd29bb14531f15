"""The run forms coordinators fill in the Prefect UI: one way to declare a flow parameter.

Prefect builds a deployment's parameter schema from the flow's signature and titles every field with the
parameter's name (``year``, ``as_of``): the ``title`` and the limits of a ``pydantic.Field`` default are
dropped, only its description and ``json_schema_extra`` are kept. ``form_field`` puts the Vietnamese title
and the limits into ``json_schema_extra`` too, so the form shows "Năm kế hoạch" and refuses 1900; the
``Field`` itself still carries them for validation and for anyone reading the signature.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

# pydantic's constraint names and the JSON Schema keywords the form enforces.
_LIMITS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def form_field(default: Any = ..., *, title: str, description: str | None = None, **constraints: Any) -> Any:
    """A flow parameter's default, with the label (and hint, and limits) the run form shows."""
    extra: dict[str, Any] = {"title": title}  # Prefect keeps the Field's description itself
    extra.update({_LIMITS[key]: value for key, value in constraints.items() if key in _LIMITS})
    return Field(default, title=title, description=description, json_schema_extra=extra, **constraints)
