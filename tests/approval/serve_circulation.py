"""Serve the circulate-for-approval flow as a deployment against the API in PREFECT_API_URL (run by the
approval tests in a subprocess, and stopped and started again between stages)."""

from __future__ import annotations

if __name__ == "__main__":
    from flows.circulate_for_approval import circulate_for_approval

    circulate_for_approval.serve(name="test", pause_on_shutdown=False)
