"""Why a progress step cannot go on (a period that does not exist, a year that cannot be closed…)."""

from __future__ import annotations

from tasks.errors import PlancycleError


class ProgressError(PlancycleError):
    """The reporting calendar, the progress report or the year end refused; ``message_vi`` says why, for
    the coordinator (texts in ``templates/errors/progress_report.yaml``)."""

    catalog = "progress_report"
