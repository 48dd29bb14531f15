"""Which intake takes an uploaded file, and where: large files in a process of their own.

A workbook of thousands of rows takes seconds to parse, validate and store, and that work holds the
interpreter lock of the process it runs in: in the portal's own process, ``/healthz`` and every other
unit's page waited for it in slices (up to a quarter of a second at a time on a 2-core machine,
bench/bench_portal.py), and its memory stayed with the portal. Files from ``portal_apart_bytes`` (128 KB,
about 2,000 rows, by default) up go to one separate process (:class:`Apart`), started on the first such
file and stopped after ``IDLE_SECONDS`` without one; the portal's worker thread only waits for the
answer. Ordinary files (a few hundred rows) stay in the worker thread: handing them to another process
would cost more than it saves.

If that process dies (a parser crash, the kernel's out-of-memory killer), the upload is answered and
recorded as a refused attempt like any other fault, and the next large file starts a new process.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session

if TYPE_CHECKING:
    from models import PlanningCycle, Unit
    from plancycle.settings import Settings
    from tasks.progress.intake import ProgressIntakeResult
    from tasks.submissions.intake import IntakeResult

logger = logging.getLogger("plancycle.portal")
IDLE_SECONDS = 120.0  # the separate process stops after this long without a large file


def take_file(
    *,
    session: Session,
    cycle: PlanningCycle,
    unit: Unit,
    filename: str,
    content: bytes,
    as_of: date,
    settings: Settings,
) -> IntakeResult | ProgressIntakeResult:
    """The uploaded file taken by the intake it belongs to: a progress report (its metadata says so) or
    the unit's proposal. A fault in either intake is recorded as a refused attempt and answered (the
    ``*_or_record`` wrappers); this raises only when even that record cannot be written."""
    from tasks.progress.intake import ingest_progress_or_record
    from tasks.progress.validation import is_progress_workbook
    from tasks.submissions.intake import ingest_or_record

    actor = f"portal:{unit.code}"
    if is_progress_workbook(content):
        return ingest_progress_or_record(
            session=session,
            filename=filename,
            content=content,
            channel="portal",
            as_of=as_of,
            actor=actor,
            unit=unit,
            cycle=cycle,
            settings=settings,
        )
    return ingest_or_record(
        session=session,
        cycle=cycle,
        unit=unit,
        filename=filename,
        content=content,
        channel="portal",
        as_of=as_of,
        actor=actor,
    )


def _take_apart(
    cycle_id: int, unit_id: int, filename: str, content: bytes, as_of: date
) -> IntakeResult | ProgressIntakeResult:
    """:func:`take_file` in the separate process: its own engine and session, the portal's settings (the
    process inherits the portal's environment)."""
    from models import PlanningCycle, Unit
    from models.db import get_engine
    from plancycle.settings import get_settings

    settings = get_settings()
    with Session(get_engine(settings.resolved_database_url), expire_on_commit=False) as session:
        cycle, unit = session.get(PlanningCycle, cycle_id), session.get(Unit, unit_id)
        if cycle is None or unit is None:
            raise LookupError(f"unit {unit_id} or cycle {cycle_id} is not in the database")
        return take_file(
            session=session,
            cycle=cycle,
            unit=unit,
            filename=filename,
            content=content,
            as_of=as_of,
            settings=settings,
        )


def _warm_up() -> None:
    """Load the intakes before the first file arrives (the process is started for a file waiting)."""
    import tasks.progress.intake  # noqa: F401
    import tasks.submissions.intake  # noqa: F401


class Apart:
    """The separate process for large files: at most one, started on demand (a fresh interpreter, not a
    fork of the portal's threads and connections), one file at a time, stopped when idle."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._users = 0
        self._timer: threading.Timer | None = None
        self._closed = False

    def take(
        self, *, cycle_id: int, unit_id: int, filename: str, content: bytes, as_of: date
    ) -> IntakeResult | ProgressIntakeResult:
        """:func:`take_file` for this file in the separate process. Raises what the process raised, and
        ``BrokenProcessPool`` when it died (the next call starts a new one)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the portal is stopping")
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"), initializer=_warm_up
                )
                logger.info("large-file process started")
            pool = self._pool
            self._users += 1
        try:
            return pool.submit(_take_apart, cycle_id, unit_id, filename, content, as_of).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # it died: the next large file starts a new one
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._pool is not None and not self._closed:
                    self._timer = threading.Timer(self._idle_seconds, self._stop_if_idle)
                    self._timer.daemon = True
                    self._timer.start()

    def _stop_if_idle(self) -> None:
        with self._lock:
            if self._users or self._pool is None:
                return
            pool, self._pool = self._pool, None
        pool.shutdown(wait=True)
        logger.info("large-file process stopped (idle)")

    def close(self) -> None:
        """Stop the process (the portal is stopping); a file being taken finishes first."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
