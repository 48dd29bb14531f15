"""Where a value sits in a generated workbook, and how its labels are written.

One `ColumnSpec` list per sheet serves both directions: the generator writes the cells it names and the
validation reads the same cells back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template
from openpyxl.utils import get_column_letter

from templates import environment


@dataclass(frozen=True)
class ColumnSpec:
    key: str  # stt, name, …, "amount" for a funding source, total, basis, previous_ref
    index: int  # 1-based
    header: str
    width: float
    required: bool = False
    source_code: str | None = None  # for amount columns

    @property
    def letter(self) -> str:
        return get_column_letter(self.index)


@lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    return environment().from_string(text)


def render_text(text: str, **values: Any) -> str:
    """Render one YAML text through the project's Jinja environment (filters: money, vndate…)."""
    return _compiled(text).render(**values)


def plain_columns(
    headers: dict[str, str], plan: list[tuple[str, float]], *, required: str, **values: Any
) -> list[ColumnSpec]:
    """One column per ``(key, width)`` of ``plan``, in order, headed by ``headers[key]`` rendered with
    ``values``; only the ``required`` column must be filled."""
    return [
        ColumnSpec(key, index, render_text(headers[key], **values), width, key == required)
        for index, (key, width) in enumerate(plan, start=1)
    ]
