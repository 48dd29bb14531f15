"""The contract of a suspended approval run: what the flows, ``plancycle decide`` and the approvers'
reminders must agree on to find a waiting run and answer it. Plain values, no Prefect here (the flows and
``tasks/approval/steps.py`` hand them to Prefect).

A run waits once per question it asks, under a *pause key* (Prefect accepts only lowercase letters, digits
and dashes): ``v<version>-<stage slug>-<attempt>`` in circulate-for-approval (``v2-stc-1``), and
``amendment-<number>-<attempt>`` in amend-plan. A re-executed run asks again under the same key, so Prefect
hands it the answer it already has; a refused answer is asked again with the next attempt. The decision it
records is keyed ``<flow run id>:<pause key>``. These spellings are stored in suspended runs and recorded
decisions: changing them would strand every run waiting today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CIRCULATION_FLOW = "circulate-for-approval"
AMENDMENT_FLOW = "amend-plan"

_STAGE_PAUSE_KEY = re.compile(r"^v(?P<version>\d+)-(?P<stage>.*)-(?P<attempt>\d+)$")


def stage_slug(stage_code: str) -> str:
    """A stage code as a pause key spells it: ``"STC"`` → ``"stc"``, ``"Sở TC"`` → ``"s-tc"``."""
    return re.sub(r"[^a-z0-9]+", "-", stage_code.lower()).strip("-")


def pause_key(version_number: int, stage_code: str, attempt: int) -> str:
    """One suspension per version, stage and attempt of a circulation: the same key when the run
    re-executes."""
    return f"v{version_number}-{stage_slug(stage_code)}-{attempt}"


@dataclass(frozen=True)
class StagePause:
    """A circulation's pause key read back."""

    version_number: int
    stage_slug: str
    attempt: int


def parse_pause_key(key: str) -> StagePause | None:
    """The version, stage slug and attempt of a circulation's pause key (``None`` for any other key)."""
    match = _STAGE_PAUSE_KEY.match(key)
    if match is None:
        return None
    return StagePause(int(match["version"]), match["stage"], int(match["attempt"]))


def waits_for_stage(key: str, stage_code: str) -> bool:
    """Whether a run paused under ``key`` is asking the stage ``stage_code``."""
    pause = parse_pause_key(key)
    return pause is not None and pause.stage_slug == stage_slug(stage_code)


def amendment_pause_key(number: int, attempt: int) -> str:
    """One suspension per amendment and attempt."""
    return f"amendment-{number}-{attempt}"


def decision_key(flow_run_id: str, key: str) -> str:
    """The idempotency key of the decision answered under pause ``key``: recorded once per question."""
    return f"{flow_run_id}:{key}"


def input_schema_key(key: str) -> str:
    """Where Prefect saves the form a run paused under ``key`` waits for (saved just after it suspends)."""
    return f"suspended-{key}-schema"


def run_url(flow_run_id: str | None, ui_url: str) -> str:
    """The address of a flow run in the Prefect UI at ``ui_url`` (where an approver decides); the UI's
    home without an id."""
    return f"{ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}" if flow_run_id else ui_url
