"""Where the portal's slow work runs, so the event loop only reads requests and writes answers.

Parsing, validating and storing an upload runs in a small pool of worker threads (``portal_workers``,
default 2): a bounded number of workbooks is in memory at once, whatever the number of units uploading,
and the event loop stays free for every other page and ``/healthz``. A thread pool rather than processes:
the work is mostly openpyxl and the database driver, a process per upload would load the whole stack again,
and a pool of two keeps the portal's peak memory bounded by two files being read. The intake notice runs
after the answer, in its own pool, so a slow or hanging mail relay never delays a unit's page nor takes a
thread the pages need.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable

import anyio

logger = logging.getLogger("plancycle.portal")
SWITCH_INTERVAL_S = 0.001


def settle_memory() -> None:
    """Once the portal has loaded everything it uses, move those objects out of the garbage collector's
    sight (``gc.freeze``). The portal's modules (FastAPI, SQLAlchemy, openpyxl, Jinja, the templates) are
    a few hundred thousand objects that live as long as the process; left in the oldest generation, every
    full collection walks them all while holding the GIL: 50–120 ms each during the deadline rush, which
    ``/healthz`` and every other unit's page waited for, and a third of the portal's CPU. Frozen, a full
    collection walks only what uploads created (5–10 ms)."""
    # The modules the upload route imports on first use, and the templates it renders, are loaded now.
    import tasks.progress.intake  # noqa: F401
    import tasks.progress.validation  # noqa: F401
    import tasks.submissions.intake  # noqa: F401
    import tasks.submissions.workbook  # noqa: F401
    from templates import environment

    for name in ("portal/unit.html.j2", "portal/error.html.j2"):
        environment().get_template(name)
    gc.collect()
    gc.freeze()


class Pools:
    """The intake and notice limiters of one portal (created on first use, inside the event loop)."""

    def __init__(self, intake_workers: Callable[[], int], notice_workers: int = 4) -> None:
        self._intake_workers = intake_workers
        self._notice_workers = notice_workers
        self._intake: anyio.CapacityLimiter | None = None
        self._notices: anyio.CapacityLimiter | None = None

    def intake(self) -> anyio.CapacityLimiter:
        if self._intake is None:
            self._intake = anyio.CapacityLimiter(self._intake_workers())
            # A worker parsing a workbook holds the GIL; the event loop asks for it at every step of a
            # request. Handing it over every 1 ms instead of 5 keeps /healthz and the pages quick.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        return self._intake

    def notices(self) -> anyio.CapacityLimiter:
        if self._notices is None:
            self._notices = anyio.CapacityLimiter(self._notice_workers)
        return self._notices

    async def send_later(self, notice: Callable[[], object]) -> None:
        """Run ``notice`` after the answer was sent. A failure is logged: the delivery log keeps the
        message's outcome, and the unit already read the same answer on its page."""
        try:
            await anyio.to_thread.run_sync(notice, limiter=self.notices(), abandon_on_cancel=True)
        except Exception:
            logger.exception("intake notice failed")
