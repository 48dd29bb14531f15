"""``plancycle simulate``: a whole planning year in fast forward on the embedded stack.

Every stage runs the real flow against a real Prefect API with an explicit ``as_of``: the same flows the
coordinator triggers from the Prefect UI, in the order of the season. Units are played by
``officers.Officer``: they open the emails in the local outbox, fill the attached workbooks and drop them
in the inbox folder. The approval chain runs as a deployment served by a separate process and waits
suspended, as in production; the approvers answer through the Prefect API, as ``plancycle decide`` does.

The run writes into its own data folder (SQLite database, outbox, inbox, archive, plan files) and prints a
table per stage: messages by channel, submissions or reports, totals, seconds."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from plancycle.settings import PROJECT_ROOT
from plancycle.simulation.texts import simulation_texts


class SimulationError(RuntimeError):
    """A stage did not do what the season needs; the message names the stage and where to look."""


@dataclass
class StageResult:
    key: str
    label: str
    dates: str
    email: int
    zalo: int
    counts: str
    total_dong: int | None
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimulationResult:
    year: int
    units: int
    data_dir: str
    stages: list[StageResult] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    flow_runs: int = 0
    prefect_api: str = ""
    wall_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _environment(data_dir: Path) -> None:
    """Point every setting at the simulation's own folder before anything reads them."""
    os.environ.update(
        {
            "PLANCYCLE_DATA_DIR": str(data_dir),
            "PLANCYCLE_DATABASE_URL": f"sqlite:///{data_dir / 'plancycle.db'}",
            "PLANCYCLE_ZALO_ENABLED": "true",  # no app id: Zalo messages go to the outbox too
            "PLANCYCLE_PROJECT_DIR": str(PROJECT_ROOT),
            "PLANCYCLE_PORTAL_PORT": str(_free_port()),  # the approver's page the emails link to
        }
    )
    unused = ("PLANCYCLE_SMTP_URL", "PLANCYCLE_ZALO_APP_ID", "PLANCYCLE_INBOX_URL", "PLANCYCLE_OUTBOX_DIR")
    for name in unused:
        os.environ.pop(name, None)
    from models.db import get_engine
    from plancycle.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()


def _quiet_console() -> None:
    """Flow-run logs still reach the Prefect API (and the UI); the terminal shows warnings and the summary."""
    from prefect.logging.configuration import setup_logging
    from prefect.logging.handlers import PrefectConsoleHandler

    setup_logging()
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.WARNING)


class _Child:
    """A child process of the season in its own process group, stopped with everything it started."""

    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class ServedApproval(_Child):
    """The circulate-for-approval flow served as a deployment by a child process (as a worker would run
    it): a suspended run has no process waiting, and resumes when an approver answers."""

    def __init__(self, api_url: str, log: Path) -> None:
        env = dict(os.environ)
        env.update({"PREFECT_API_URL": api_url, "PREFECT_RUNNER_POLL_FREQUENCY": "1"})
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "plancycle.simulation.serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedPortal(_Child):
    """The portal (uvicorn) in a child process, as ``plancycle up`` runs it: the approver of the first stage
    decides from the page their email links to."""

    def __init__(self, api_url: str, log: Path) -> None:
        from plancycle.settings import get_settings

        settings = get_settings()
        env = dict(os.environ)
        env.update({"PREFECT_API_URL": api_url})
        log.parent.mkdir(parents=True, exist_ok=True)
        self.url = settings.local_portal_url
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "portal.app:app", "--host", "127.0.0.1"]
            + ["--port", str(settings.portal_port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"the portal did not start; see {log}")


class Season:
    """The driver: runs each stage, measures it, keeps the officers' state between stages."""

    def __init__(self, *, year: int, units: int, data_dir: Path, seed: int, echo: Callable[[str], None]):
        from plancycle.settings import get_settings
        from plancycle.simulation.officers import Officer, assign_behaviours
        from plancycle.simulation.province import build_province, write_registry

        self.year, self.data_dir, self.echo = year, data_dir, echo
        self.rng = random.Random(seed)
        self.settings = get_settings()
        self.province = build_province(units, seed)
        self.registry_files = write_registry(self.province, data_dir / "registry")
        behaviours = assign_behaviours(self.province.codes, self.rng)
        self.officers = {
            u.code: Officer(u.code, u.short_name, behaviours[u.code])
            for u in self.province.requested
            if u.code in behaviours
        }
        self.inbox = self.settings.resolved_data_dir / "inbox"
        self.result = SimulationResult(year=year, units=units, data_dir=str(data_dir))
        self.texts_all = simulation_texts()
        self.texts = self.texts_all["summary"]
        self._mark = 0
        from tasks.common.calendar import WorkingCalendar

        self.calendar = WorkingCalendar()

    # ------------------------------------------------------------------ measuring

    def flow(self, function: Callable[..., Any], **parameters: Any) -> Any:
        """Run a flow in this process against the Prefect API (it appears in the UI like any run)."""
        self.result.flow_runs += 1
        return function(**parameters)

    @contextlib.contextmanager
    def stage(self, key: str, dates: list[date], **label_values: Any) -> Iterator[dict[str, Any]]:
        """Measure one stage: seconds, messages sent by channel since the stage began."""
        started = time.perf_counter()
        record: dict[str, Any] = {"counts": "", "total": None, "details": {}}
        label = self.texts["stages"][key].format(**label_values)
        self.echo(f"… {label}")
        try:
            yield record
        except Exception as error:
            raise SimulationError(f"{label}: {type(error).__name__}: {error}") from error
        email, zalo, self._mark = self._messages_since(self._mark)
        self.result.stages.append(
            StageResult(
                key=key,
                label=label,
                dates=_dates_text(dates),
                email=email,
                zalo=zalo,
                counts=record["counts"],
                total_dong=record["total"],
                seconds=round(time.perf_counter() - started, 1),
                details=record["details"],
            )
        )

    def _messages_since(self, mark: int) -> tuple[int, int, int]:
        from sqlmodel import col, func, select

        from models.db import session_scope
        from models.notifications import NotificationLog

        with session_scope() as session:
            rows = session.exec(
                select(NotificationLog.channel, func.count())
                .where(col(NotificationLog.id) > mark, NotificationLog.status == "sent")
                .group_by(NotificationLog.channel)
            ).all()
            newest = session.exec(select(func.max(NotificationLog.id))).one() or mark
        counts = dict(rows)
        return counts.get("email", 0), counts.get("zalo", 0), newest

    def submission_counts(self, year: int | None = None) -> str:
        from sqlmodel import func, select

        from models import IntakeAttempt, Submission
        from models.cycle import get_cycle_by_year
        from models.db import session_scope

        with session_scope() as session:
            cycle = get_cycle_by_year(session=session, year=year or self.year)
            assert cycle is not None
            statuses = dict(
                session.exec(
                    select(Submission.status, func.count())
                    .where(Submission.cycle_id == cycle.id)
                    .group_by(Submission.status)
                ).all()
            )
            invalid = session.exec(
                select(func.count())
                .select_from(IntakeAttempt)
                .join(Submission, IntakeAttempt.submission_id == Submission.id)  # type: ignore[arg-type]
                .where(Submission.cycle_id == cycle.id, IntakeAttempt.accepted == False)  # noqa: E712
            ).one()
        requested = sum(statuses.values())
        received = (
            requested
            - statuses.get("requested", 0)
            - statuses.get("exempted", 0)
            - statuses.get("no_proposal", 0)
        )
        return self.texts["counts"]["submissions"].format(
            received=received,
            requested=requested,
            accepted=statuses.get("accepted", 0),
            returned=statuses.get("returned", 0),
            invalid=invalid,
        )

    # ------------------------------------------------------------------ the officers

    def answer_call(self, codes: list[str], on: date, *, broken: bool = False) -> int:
        """Each unit's officer fills the workbook attached to its call and drops it in the inbox."""
        from models.cycle import get_cycle_by_year
        from models.db import session_scope
        from models.registry import get_unit_by_code
        from plancycle.simulation.officers import fill_submission, propose_items, received_attachment
        from tasks.submissions.workbook import load_workbook_context

        with session_scope() as session:
            cycle = get_cycle_by_year(session=session, year=self.year)
            assert cycle is not None
            for code in codes:
                officer = self.officers[code]
                unit = get_unit_by_code(session=session, code=code)
                assert unit is not None and unit.id is not None
                context = load_workbook_context(session=session, cycle=cycle, unit=unit)
                blank = received_attachment(
                    session=session, settings=self.settings, unit_id=unit.id, template="call_for_submissions"
                )
                if not officer.items:
                    officer.items = propose_items(officer, context, self.rng, self.year)
                officer.last_file = fill_submission(blank, context, officer.items, self.rng, broken=broken)
                self._drop(f"de-xuat_{code}_{on:%Y%m%d}{'_loi' if broken else ''}.xlsx", officer.last_file)
        return len(codes)

    def declare_no_proposal(self, codes: list[str], on: date) -> int:
        """Each unit's officer opens its portal link and declares that it has nothing to propose, the way
        a browser posts the unit page's form (the portal app in this process, the day set to ``on``)."""
        from fastapi.testclient import TestClient

        from models.cycle import get_cycle_by_year
        from models.db import session_scope
        from models.registry import get_unit_by_code
        from portal.app import create_app
        from tasks.common.links import issue_link_token

        texts = self.texts_all["no_proposal"]

        class SettingsOn(type(self.settings)):  # type: ignore[misc]
            def today(self) -> date:  # the portal judges the declaration on the simulated day
                return on

        client = TestClient(create_app(SettingsOn.model_validate(self.settings.model_dump())))
        for code in codes:
            with session_scope() as session:
                cycle = get_cycle_by_year(session=session, year=self.year)
                unit = get_unit_by_code(session=session, code=code)
                assert cycle is not None and unit is not None
                token = issue_link_token(session=session, unit=unit, cycle=cycle, settings=self.settings)
            answer = client.post(
                f"/u/{token}/no-proposal",
                data={"confirm": "1", "officer_name": texts["officer"], "reason": texts["reason"]},
            )
            if answer.status_code != 200:
                raise AssertionError(f"{code}: the portal refused the declaration ({answer.status_code})")
        return len(codes)

    def _drop(self, filename: str, content: bytes) -> None:
        from plancycle.simulation.officers import drop_in_inbox

        drop_in_inbox(self.inbox, filename, content)

    def collect(self, on: date) -> dict[str, int]:
        from flows.collect_submissions import collect_submissions

        summary = self.flow(collect_submissions, year=None, as_of=on)
        return dict(summary)

    def remind(self, on: date) -> dict[str, int]:
        from flows.send_reminders import send_reminders

        return dict(self.flow(send_reminders, year=None, as_of=on))

    def codes(self, *behaviours: str) -> list[str]:
        return [c for c, o in self.officers.items() if o.behaviour in behaviours]

    def wd(self, day: date, n: int) -> date:
        return self.calendar.add_working_days(day, n)


def _dates_text(dates: list[date]) -> str:
    if not dates:
        return ""
    first, last = min(dates), max(dates)
    return f"{first:%d/%m/%Y}" if first == last else f"{first:%d/%m}–{last:%d/%m/%Y}"


def simulate(
    *,
    year: int,
    units: int,
    data_dir: Path,
    seed: int = 2025,
    prefect_api: str | None = None,
    echo: Callable[[str], None] = print,
) -> SimulationResult:
    """Run the whole season for plan year ``year`` with ``units`` units; returns what each stage did."""
    from plancycle.simulation.season import run_season

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if any(data_dir.iterdir()):
        raise SimulationError(
            f"Thư mục {data_dir} đã có dữ liệu: mô phỏng cần một thư mục trống. "
            f"/ {data_dir} is not empty: the simulation needs an empty folder."
        )
    _environment(data_dir)
    started = time.perf_counter()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from models.db import upgrade_database
    from plancycle.settings import get_settings
    from plancycle.stack import Stack

    upgrade_database()
    stack = Stack(get_settings())
    try:
        api = prefect_api or stack.start_prefect()
        with temporary_settings(updates={PREFECT_API_URL: api}):
            _quiet_console()
            served = ServedApproval(api, data_dir / "logs" / "serve-approval.log")
            portal = ServedPortal(api, data_dir / "logs" / "portal.log")
            try:
                season = Season(year=year, units=units, data_dir=data_dir, seed=seed, echo=echo)
                season.result.prefect_api = api
                run_season(season, served)
            finally:
                portal.stop()
                served.stop()
    finally:
        stack.stop()
    result = season.result
    result.files = sorted(
        str(p) for p in (data_dir / "plans").rglob("*") if p.is_file() and p.suffix in (".xlsx", ".docx")
    )
    outbox = get_settings().resolved_outbox_dir
    result.outbox = {
        "email": sum(1 for _ in (outbox / "email").glob("*.eml")),
        "zalo": sum(1 for _ in (outbox / "zalo").glob("*.json")),
    }
    result.wall_seconds = round(time.perf_counter() - started, 1)
    return result


def render_summary(result: SimulationResult) -> str:
    """The summary table and the files, as the command prints them."""
    texts = simulation_texts()["summary"]
    from tasks.common.money import format_money

    header = texts["columns"]
    rows = [
        [
            s.label,
            s.dates,
            str(s.email),
            str(s.zalo),
            s.counts,
            format_money(s.total_dong, "dong") if s.total_dong is not None else "",
            f"{s.seconds:.1f}",
        ]
        for s in result.stages
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    right = {2, 3, 5, 6}

    def line(cells: list[str]) -> str:
        cells_widths = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in cells_widths)

    out = [texts["title"].format(year=result.year, units=result.units), "", line(header)]
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in rows)
    out.append("")
    out.append(texts["outbox"].format(**result.outbox, path=Path(result.data_dir) / "outbox"))
    out.append(texts["prefect"].format(url=result.prefect_api.removesuffix("/api"), runs=result.flow_runs))
    out.append(texts["wall"].format(seconds=f"{result.wall_seconds:.1f}"))
    out.append("")
    out.append(texts["files"])
    out.extend(f"  {f}" for f in result.files)
    return "\n".join(out)


def write_json(result: SimulationResult, path: Path) -> None:
    path.write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
