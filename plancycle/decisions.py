"""``plancycle decide``: give a decision to the circulation waiting for it, through the Prefect API
(the same ``run_input`` the Prefect UI form sends), so the flow validates and records it itself. The
functions live in ``tasks/approval/steps.py``, shared with the approver's page of the portal."""

from __future__ import annotations

from tasks.approval.steps import input_ready, send_decision, waiting_run

__all__ = ["input_ready", "send_decision", "waiting_run"]
