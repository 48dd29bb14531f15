"""What the command line prints: the sentences live in templates/cli.vi.yaml."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Protocol

import typer

from plancycle.settings import get_settings

if TYPE_CHECKING:
    from tasks.excel.issues import ValidationIssue

# The ``--as-of`` option of the commands that take in a file received outside the portal.
ReceivedOn = Annotated[
    datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Ngày nhận (mặc định hôm nay)"),
]


class Received(Protocol):
    """What an intake answers for a received workbook (submissions and progress reports)."""

    accepted: bool
    duplicate: bool
    errors: list[ValidationIssue]


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


def received_day(as_of: datetime | None) -> date:
    """The day a file was received: ``--as-of``, or today in the province."""
    return as_of.date() if as_of else get_settings().today()


def received_state(result: Received, key: str, **values: object) -> str:
    """What became of an accepted file: "same as last time" for a duplicate, else the sentence ``key``.
    A refused file is not accepted: its problems are printed and the command exits with code 1."""
    if not result.accepted:
        echo_invalid_file(result.errors)
        raise typer.Exit(1)
    return say("same_as_last_time") if result.duplicate else say(key, **values)
