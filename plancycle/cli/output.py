"""What the command line prints: the sentences live in templates/cli.vi.yaml."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from tasks.excel.issues import ValidationIssue


def say(key: str, **values: object) -> str:
    """The sentence ``key`` of templates/cli.vi.yaml with ``values`` filled in."""
    from templates import load_yaml

    return load_yaml("cli.vi.yaml")[key].format(**values)


def echo_invalid_file(errors: list[ValidationIssue]) -> None:
    """Tell why a received workbook was refused: one line per problem, placed by sheet and cell (or row)."""
    typer.echo(say("file_invalid", count=len(errors)), err=True)
    for error in errors:
        where = ", ".join(str(p) for p in (error.sheet, error.cell or error.row) if p)
        typer.echo(say("file_issue", where=where, message=error.message_vi), err=True)
