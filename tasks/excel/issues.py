"""One problem found in a workbook, located by sheet, row and column, in Vietnamese and English.

The shared messages (file, metadata, cells) live in ``templates/workbook/messages.yaml``; a kind of workbook
may add its own catalogue and build its issues with `issue_from`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tasks.excel.layout import ColumnSpec, render_text
from templates import load_yaml


class ValidationIssue(BaseModel):
    """One problem, located as precisely as the workbook allows."""

    key: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None  # letter, e.g. "K"
    column_name: str | None = None  # header text of that column
    message_vi: str
    message_en: str

    @property
    def cell(self) -> str | None:
        return f"{self.column}{self.row}" if self.column and self.row else None


def validation_messages() -> dict[str, dict[str, str]]:
    """The shared messages, by key: ``{"vi": …, "en": …}`` (Jinja texts); with the intake's limits."""
    return load_yaml("workbook/messages.yaml") | load_yaml("workbook/limits.yaml")


def issue_from(
    key: str,
    texts: dict[str, str],
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: ColumnSpec | None = None,
    values: dict[str, Any],
) -> ValidationIssue:
    """The issue ``key`` with its ``texts`` rendered with ``values``, at ``sheet``, ``row`` and ``column``."""
    return ValidationIssue(
        key=key,
        sheet=sheet,
        row=row,
        column=column.letter if column else None,
        column_name=column.header if column else None,
        message_vi=render_text(texts["vi"], **values),
        message_en=render_text(texts["en"], **values),
    )


def make_issue(
    key: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: ColumnSpec | None = None,
    **params: Any,
) -> ValidationIssue:
    """The shared message ``key`` (the texts may name the ``sheet`` and ``row``)."""
    return issue_from(
        key,
        validation_messages()[key],
        sheet=sheet,
        row=row,
        column=column,
        values={"sheet": sheet, "row": row, **params},
    )


MAX_REPORTED_ISSUES = 50


def cap_issues(issues: list[ValidationIssue], limit: int = MAX_REPORTED_ISSUES) -> list[ValidationIssue]:
    """The first ``limit`` issues and, when there are more, one ``more_errors`` line with their count: what
    the page, the notice and the database keep (thousands of bad rows are one mistake repeated)."""
    if len(issues) <= limit:
        return issues
    rest = len(issues) - limit
    return [*issues[:limit], make_issue("more_errors", count=f"{rest:,}".replace(",", "."))]
