"""``plancycle decide``: give a decision to the circulation waiting for it, through the Prefect API
(the same ``run_input`` the Prefect UI form sends), so the flow validates and records it itself."""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.flow_runs import resume_flow_run

from tasks.approval.chain import ApprovalError
from tasks.approval.decisions import DecisionData
from tasks.approval.suspension import CIRCULATION_FLOW, input_schema_key, waits_for_stage


def waiting_run(*, year: int, stage_code: str) -> FlowRun | None:
    """The suspended circulation of ``year`` whose pause key names ``stage_code`` (newest first)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[CIRCULATION_FLOW])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
        )
    for run in sorted(runs, key=lambda r: r.created or 0, reverse=True):  # type: ignore[arg-type,return-value]
        key = str(run.state.state_details.pause_key) if run.state else ""
        if int(run.parameters.get("year", 0)) == year and waits_for_stage(key, stage_code):
            return run
    return None


def input_ready(run: FlowRun, timeout: float = 0) -> bool:
    """Whether the suspended run has saved the form it waits for. Prefect marks the run suspended first
    and saves the form's schema just after, so a decision sent in between would not be checked against
    it; wait up to ``timeout`` seconds for it."""
    import time

    from prefect.exceptions import ObjectNotFound

    key = str(run.state.state_details.pause_key) if run.state else ""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                client.read_flow_run_input(run.id, input_schema_key(key))
                return True
            except ObjectNotFound:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.2)


def send_decision(*, year: int, stage_code: str, data: DecisionData) -> str:
    """Resume the waiting run with ``data`` as its input; returns the run's name. ``ApprovalError`` when no
    run waits for the stage or Prefect refuses the answer."""
    run = waiting_run(year=year, stage_code=stage_code)
    if run is None or not input_ready(run, timeout=30):
        raise ApprovalError("no_waiting_run", year=year, stage=stage_code)
    answer: dict[str, Any] = data.model_dump(mode="json")
    try:
        resume_flow_run(run.id, run_input=answer)
    except RuntimeError as error:
        raise ApprovalError("resume_refused", reason=str(error)) from None
    return run.name
