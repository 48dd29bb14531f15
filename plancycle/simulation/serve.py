"""Serve the circulate-for-approval flow as the deployment ``circulate-for-approval/simulation`` against
the API in PREFECT_API_URL (started by `plancycle simulate` as a child process)."""

from __future__ import annotations

if __name__ == "__main__":
    from flows.circulate_for_approval import circulate_for_approval

    circulate_for_approval.serve(name="simulation", pause_on_shutdown=False)
