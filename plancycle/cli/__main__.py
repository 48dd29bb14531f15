"""`python -m plancycle.cli up|doctor …`: the same command as the `plancycle` script."""

from plancycle.cli import app

app()
