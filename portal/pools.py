"""Where the portal's slow work runs, so the event loop only reads requests and writes answers.

Parsing, validating and storing an upload runs in a small pool of worker threads (``portal_workers``,
default 1): a bounded number of workbooks is in memory at once, whatever the number of units uploading,
and the event loop stays free for every other page and ``/healthz``. A thread pool rather than processes:
the work is mostly openpyxl and the database driver, and a process per upload would load the whole stack
again. One worker by default: the work holds the GIL, so a second thread adds no throughput, only the cost
of the two handing it to each other (measured: a quarter more CPU per upload, bench/bench_portal.py).

The intake notices are sent after the answers (:meth:`Pools.send_later`): at once when no other upload
is being processed, else queued, and the queue leaves as one batch as soon as no upload is being
processed, during a rush at the latest ``NOTICE_MAX_WAIT_S`` after its first notice. A slow or hanging
mail relay never delays a unit's page nor takes a thread the pages need, and a rush of uploads costs one
delivery run every few seconds instead of a sending thread competing with every intake for the GIL
(which cost the intake more than the notice itself). Queued notices are also on disk (:class:`NoticeSpool`)
until sent, so a portal killed outright sends them when it starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

import anyio

from plancycle.settings import Settings
from tasks.notify.delivery import DeliveryPolicy, Loaded, Message, send_batch

logger = logging.getLogger("plancycle.portal")
SWITCH_INTERVAL_S = 0.001  # while a large file is processed
LARGE_FILE_BYTES = 128 * 1024  # about 2,000 rows: seconds of parsing, or an answer page of that many
NOTICE_MAX_WAIT_S = 3.0  # a notice waits at most this long for the uploads being processed to finish
NOTICE_POLL_S = 0.05
NOTICE_SENDERS = 2  # messages of one batch sent at once (threads of the delivery run)


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


class SettleOnce:
    """:func:`settle_memory`'s second half, once, after the first upload: what only a real upload builds
    and keeps for the life of the process (SQLAlchemy's compiled statements, the cycle's workbook layout,
    openpyxl's and Jinja's caches, the delivery code) is frozen too. Measured on the deadline rush: the
    intake thread's full collections then walk only each upload's own objects."""

    def __init__(self, enabled: bool) -> None:
        self._pending = enabled
        self._lock = threading.Lock()

    def after_upload(self) -> None:
        if not self._pending:
            return
        with self._lock:
            if not self._pending:
                return
            self._pending = False
        gc.collect()
        gc.freeze()


@dataclass(frozen=True)
class Notice:
    """An intake notice composed while the upload was answered, to be sent after it."""

    messages: Sequence[Message]
    as_of: date
    settings: Settings
    loaded: Loaded = field(default_factory=Loaded)


def send_notices(notices: Sequence[Notice]) -> None:
    """One delivery run per day and settings for a batch of notices (the log keeps every outcome)."""
    groups: dict[tuple[date, int], list[Notice]] = {}
    for notice in notices:
        groups.setdefault((notice.as_of, id(notice.settings)), []).append(notice)
    for (as_of, _), group in groups.items():
        send_batch(
            [message for notice in group for message in notice.messages],
            settings=group[0].settings,
            as_of=as_of,
            policy=DeliveryPolicy(concurrency=NOTICE_SENDERS),
            loaded=Loaded(
                contacts=[c for n in group for c in n.loaded.contacts],
                units=[u for n in group for u in n.loaded.units],
                cycles=[c for n in group for c in n.loaded.cycles],
            ),
        )


class NoticeSpool:
    """The notices waiting to be sent, also on disk (one JSON line each, appended as they are queued), so
    that a portal stopped outright (``kill -9``, the machine) sends them when it starts again instead of
    losing them: :meth:`replay` at start-up. Each process writes its own file
    (``<data>/portal/notices-waiting-<pid>.jsonl``); a start-up replays the files of processes that are no
    longer running. Sending twice is harmless: the delivery log keys each notice by its intake attempt."""

    def __init__(self, folder: Callable[[], Path]) -> None:
        self._folder = folder  # read when first used: the settings of the process serving the app
        self._file: IO[str] | None = None

    @property
    def folder(self) -> Path:
        return self._folder()

    @property
    def path(self) -> Path:
        return self.folder / f"notices-waiting-{os.getpid()}.jsonl"

    def append(self, notice: Notice) -> None:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        line = {
            "as_of": notice.as_of.isoformat(),
            "messages": [m.model_dump(mode="json") for m in notice.messages],
        }
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._file.flush()  # in the kernel's hands: survives the process, not a power cut

    def keep_only(self, notices: Sequence[Notice]) -> None:
        """The file holds ``notices`` (those still waiting) and nothing else."""
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        for notice in notices:
            self.append(notice)

    def close(self) -> None:
        if self._file is not None:
            path = Path(self._file.name)
            self._file.close()
            self._file = None
            path.unlink(missing_ok=True)

    def left_behind(self) -> list[Path]:
        """The files of portal processes that stopped without sending what they held."""
        found = []
        for path in sorted(self.folder.glob("notices-waiting-*.jsonl")):
            pid = path.stem.rsplit("-", 1)[-1]
            if not pid.isdigit() or int(pid) == os.getpid() or _running(int(pid)):
                continue
            found.append(path)
        return found

    def replay(self, settings: Settings) -> int:
        """Send the notices left behind by stopped portal processes, then remove their files; how many
        notices. A line that cannot be read is logged and skipped."""
        notices: list[Notice] = []
        files = self.left_behind()
        for path in files:
            for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                try:
                    line = json.loads(text)
                    messages = [Message.model_validate(m) for m in line["messages"]]
                    notices.append(
                        Notice(messages=messages, as_of=date.fromisoformat(line["as_of"]), settings=settings)
                    )
                except (ValueError, KeyError, TypeError):
                    logger.warning("%s, line %d: not a notice; skipped", path.name, number)
        if notices:
            send_notices(notices)
            logger.info("sent %d intake notices left waiting by a stopped portal", len(notices))
        for path in files:
            path.unlink(missing_ok=True)
        return len(notices)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Pools:
    """The intake and notice limiters of one portal (created on first use, inside the event loop), and
    the notices waiting to be sent."""

    def __init__(
        self, intake_workers: Callable[[], int], notice_workers: int = 4, spool: NoticeSpool | None = None
    ) -> None:
        self._intake_workers = intake_workers
        self.spool = spool
        self._notice_workers = notice_workers
        self._intake: anyio.CapacityLimiter | None = None
        self._notices: anyio.CapacityLimiter | None = None
        self._waiting: list[Notice] = []
        self._first_waiting_at = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._large = 0  # large files being processed
        self._large_lock = threading.Lock()
        self._default_interval = sys.getswitchinterval()

    def intake(self) -> anyio.CapacityLimiter:
        if self._intake is None:
            self._intake = anyio.CapacityLimiter(self._intake_workers())
        return self._intake

    @contextlib.contextmanager
    def holding_gil_long(self, size: int) -> Iterator[None]:
        """While a large file is processed, the worker hands the GIL over every 1 ms instead of 5: the
        event loop asks for it at every step of a request, and /healthz and the other units' pages would
        otherwise wait in 5 ms steps for what stays in this process (the answer page of thousands of rows;
        the parsing too when the file is not taken apart: portal/apart.py). Not for ordinary files: every
        hand-over costs the worker (about a tenth more CPU per 50-row file at 1 ms, bench/bench_portal.py)."""
        if size < LARGE_FILE_BYTES:
            yield
            return
        with self._large_lock:
            if self._large == 0:
                self._default_interval = sys.getswitchinterval()
                sys.setswitchinterval(min(self._default_interval, SWITCH_INTERVAL_S))
            self._large += 1
        try:
            yield
        finally:
            with self._large_lock:
                self._large -= 1
                if self._large == 0:
                    sys.setswitchinterval(self._default_interval)

    def notices(self) -> anyio.CapacityLimiter:
        if self._notices is None:
            self._notices = anyio.CapacityLimiter(self._notice_workers)
        return self._notices

    async def send_later(self, notice: Notice) -> None:
        """Send ``notice`` (its answer was sent): at once when no other upload is being processed; else
        queue it and return, and the queue leaves as one batch when no upload is being processed, or
        ``NOTICE_MAX_WAIT_S`` after its first notice. Runs on the event loop."""
        if not self._waiting and not self._busy():  # nothing else to do: now, after this answer
            await self._send([notice])
            return
        if not self._waiting:
            self._first_waiting_at = time.monotonic()
        self._waiting.append(notice)
        self._spooled(lambda spool: spool.append(notice))
        loop = asyncio.get_running_loop()
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._flusher = loop.create_task(self._flush_when_quiet())

    async def _flush_when_quiet(self) -> None:
        while self._waiting:
            while self._busy() and time.monotonic() - self._first_waiting_at < NOTICE_MAX_WAIT_S:
                await asyncio.sleep(NOTICE_POLL_S)
            batch, self._waiting = self._waiting, []  # notices queued from now on start a new batch
            await self._send(batch)
            self._spooled(lambda spool: spool.keep_only(self._waiting))

    def _busy(self) -> bool:
        limiter = self.intake()
        return limiter.borrowed_tokens > 0 or limiter.statistics().tasks_waiting > 0

    async def _send(self, batch: list[Notice]) -> None:
        """A failure is logged: the delivery log keeps each message's outcome, and the units already read
        the same answers on their pages."""
        try:
            await anyio.to_thread.run_sync(
                send_notices, batch, limiter=self.notices(), abandon_on_cancel=True
            )
        except Exception:
            logger.exception("intake notices failed (%d)", len(batch))

    async def flush(self) -> None:
        """Send what is waiting now (the portal is stopping)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        batch, self._waiting = self._waiting, []
        if batch:
            await self._send(batch)
        self._spooled(lambda spool: spool.close())

    def _spooled(self, write: Callable[[NoticeSpool], None]) -> None:
        """``write`` to the spool; a disk that refuses is logged, the notices are still sent from memory."""
        if self.spool is None:
            return
        try:
            write(self.spool)
        except OSError:
            logger.exception("the waiting notices could not be written to %s", self.spool.path)
