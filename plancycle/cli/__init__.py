"""The `plancycle` command: the local stack and the coordinator's command-line tools. One module per group
of commands; what they print is in templates/cli.vi.yaml (``output.say``)."""

from __future__ import annotations

import typer

from plancycle.cli import links, plan, progress, registry, stack, submissions

app = typer.Typer(help="Chu trình kế hoạch CNTT / chuyển đổi số của tỉnh trên Prefect.", no_args_is_help=True)
app.command()(stack.up)
app.command("doctor")(stack.doctor_command)
app.command("simulate")(plan.simulate_command)
app.command("check-plan")(plan.check_plan)
app.command("decide")(plan.decide)
app.add_typer(registry.units_app, name="units")
app.add_typer(registry.db_app, name="db")
app.add_typer(submissions.submissions_app, name="submissions")
app.add_typer(progress.progress_app, name="progress")
app.add_typer(links.links_app, name="links")

__all__ = ["app"]
