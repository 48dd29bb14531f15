"""The `plancycle` command: the local stack and the coordinator's command-line tools. One module per group
of commands; what they print is in templates/cli.vi.yaml (``output.say``)."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from plancycle.cli import links, plan, plans, progress, registry, stack, submissions
from tasks.common.text import normalize_text


class _Typer(typer.Typer):
    """Every argument typed or pasted on the command line is normalised like any other intake (NFC, no
    zero-width or bidi controls), except a path that exists as written."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and "args" not in kwargs:
            kwargs["args"] = [a if os.path.exists(a) else normalize_text(a) for a in sys.argv[1:]]
        return super().__call__(*args, **kwargs)


app = _Typer(help="Chu trình kế hoạch CNTT / chuyển đổi số của tỉnh trên Prefect.", no_args_is_help=True)
app.command()(stack.up)
app.command("doctor")(stack.doctor_command)
app.command("simulate")(plan.simulate_command)
app.command("check-plan")(plan.check_plan)
app.command("decide")(plan.decide)
app.add_typer(registry.units_app, name="units")
app.add_typer(registry.db_app, name="db")
app.add_typer(submissions.submissions_app, name="submissions")
app.add_typer(progress.progress_app, name="progress")
app.add_typer(plans.plans_app, name="plans")
app.add_typer(links.links_app, name="links")

__all__ = ["app"]
