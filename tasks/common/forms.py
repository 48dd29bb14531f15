"""The run forms coordinators fill in the Prefect UI: one way to declare a flow parameter.

Prefect builds a deployment's parameter schema from the flow's signature and titles every field with the
parameter's name (``year``, ``as_of``): the ``title`` and the limits of a ``pydantic.Field`` default are
dropped, only its description and ``json_schema_extra`` are kept. ``form_field`` puts the Vietnamese title
and the limits into ``json_schema_extra`` too, so the form shows "Năm kế hoạch" and refuses 1900; the
``Field`` itself still carries them for validation and for anyone reading the signature.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

# pydantic's constraint names and the JSON Schema keywords the form enforces.
_LIMITS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def form_field(default: Any = ..., *, title: str, description: str | None = None, **constraints: Any) -> Any:
    """A flow parameter's default, with the label (and hint, and limits) the run form shows."""
    extra: dict[str, Any] = {"title": title}  # Prefect keeps the Field's description itself
    extra.update({_LIMITS[key]: value for key, value in constraints.items() if key in _LIMITS})
    return Field(default, title=title, description=description, json_schema_extra=extra, **constraints)


# ------------------------------------------------------------------ choices and optional fields
#
# Prefect 3's form draws a select from a field's JSON Schema ``enum`` and labels each option with the value
# itself; ``enumNames`` and titled ``anyOf``/``const`` options are not read. So the schema offers the
# Vietnamese words, and the parameter's type turns the chosen words back into the code the flow works with
# (the code is accepted too, for the CLI, the simulation and API callers).
#
# An optional parameter (``date | None``) has an ``anyOf`` with a ``null`` branch in its schema, which the
# form draws as a "date / None" toggle with the error 'Property is type "None"'. The types below describe
# only the value branch to the form; a field left empty is not sent, and the flow receives its default.


def choice(labels: Mapping[str, str]) -> Any:
    """A parameter type offering ``labels`` (code → Vietnamese words) in the form; the flow receives the code.

    ``units: choice({"all": "Tất cả đơn vị", ...}) = choice_field("all", labels, title=…)``.
    """
    codes = tuple(labels)
    by_label = {label: code for code, label in labels.items()}

    def to_code(value: object) -> object:
        return by_label.get(value, value) if isinstance(value, str) else value

    return Annotated[
        Literal[codes],  # type: ignore[valid-type]
        BeforeValidator(to_code),
        WithJsonSchema({"type": "string", "enum": list(labels.values())}),
    ]


def choice_field(
    default: str | list[str],
    labels: Mapping[str, str],
    *,
    title: str,
    description: str | None = None,
) -> Any:
    """``form_field`` for a ``choice`` (or a list of them): the form shows the default in words."""
    field = form_field(default, title=title, description=description)
    shown = [labels[code] for code in default] if isinstance(default, list) else labels[default]
    field.json_schema_extra["default"] = shown  # type: ignore[index]
    return field


class Blank:
    """The default of an optional run-form field: it has no JSON value, so the schema Prefect stores has no
    ``default`` for the field and the form leaves an untouched field out of the run (a ``null`` default
    would be sent, and refused by Prefect's check of a ``string`` field). The field's type turns it into
    None before the flow sees it (``optional_field`` validates the default)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "BLANK"

    def __reduce__(self) -> str:
        return "BLANK"  # pickled (a paused run's parameters) as a reference to the one BLANK


BLANK = Blank()
# pydantic leaves BLANK out of the JSON schema, as intended, and says so on every schema built.
warnings.filterwarnings("ignore", message="Default value BLANK is not JSON serializable")


# How Prefect stores a parameter it cannot serialize (``Flow.serialize_parameters``): a run that resumes
# after a pause reads its parameters back from there.
_STORED_BLANK = f"<{Blank.__name__}>"


def _blank_to_none(value: object) -> object:
    if isinstance(value, Blank) or value == _STORED_BLANK:
        return None
    return value.strip() or None if isinstance(value, str) else value


def optional_field(*, title: str, description: str | None = None, **constraints: Any) -> Any:
    """``form_field`` for an ``Optional…`` parameter below: empty unless filled, None in the flow."""
    return form_field(BLANK, title=title, description=description, validate_default=True, **constraints)


OptionalDate = Annotated[
    date | None, BeforeValidator(_blank_to_none), WithJsonSchema({"type": "string", "format": "date"})
]
OptionalInt = Annotated[int | None, BeforeValidator(_blank_to_none), WithJsonSchema({"type": "integer"})]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none), WithJsonSchema({"type": "string"})]
OptionalTextList = Annotated[
    list[str] | None,
    BeforeValidator(_blank_to_none),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]


def _blank_to_empty(value: object) -> object:
    return {} if value is None or _blank_to_none(value) is None else value


# A mapping the form shows as one object field (no "value / None" toggle): empty unless filled. None (a
# call from Python, a run stored before this type) is read as empty too.
EmptyIfNone = BeforeValidator(_blank_to_empty)

# The date a flow acts as of: technical, last in every form, with the same words everywhere.
AS_OF_TITLE = "Kỹ thuật — ngày thực hiện (để trống: hôm nay)"
AS_OF_HINT = "Chỉ dùng khi chạy lại cho ngày khác; thường để trống."
TECHNICAL_HINT = "Thiết lập kỹ thuật; thường để trống."
