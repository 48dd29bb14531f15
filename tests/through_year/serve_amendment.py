"""Serve the amend-plan flow as a deployment against the API in PREFECT_API_URL (run by the amendment
flow test in a subprocess: suspending a run needs a deployment)."""

from __future__ import annotations

if __name__ == "__main__":
    from flows.amend_plan import amend_plan

    amend_plan.serve(name="test", pause_on_shutdown=False)
