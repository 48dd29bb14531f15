"""The unit's page: cycle, deadline, status and history; the prefilled workbook; upload with an immediate,
precise answer. Every page is reached through the unit's signed link and shows that unit's data only."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile as StarletteUploadFile

from models import PlanningCycle, Submission, Unit
from models.cycle import list_funding_sources
from models.db import get_engine
from models.items import SubmissionItem, SubmissionItemAmount
from models.registry import list_unit_recipients
from models.submissions import get_submission, list_attempts, list_versions
from plancycle.settings import Settings, checked_settings, get_settings
from portal.apart import Apart, take_file
from portal.approver import approver_routes
from portal.files import file_routes
from portal.open_data import open_data_router
from portal.pools import Notice, NoticeSpool, Pools, SettleOnce, settle_memory
from tasks.approval.unit_view import approved_view
from tasks.common.links import LinkError, LinkGrant, link_url, verify_link_token
from tasks.notify.delivery import Loaded
from tasks.progress.requests import unit_progress_reports
from tasks.submissions.notices import intake_messages
from templates import environment, error_text

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
logger = logging.getLogger("plancycle.portal")
_TOKEN_IN_PATH = re.compile(r"(/(?:u|a|files)/)[^/?#\s]+")


class MaskLinkTokens(logging.Filter):
    """The signed link in a request's path is the unit's (or approver's) key to its page: the access log
    shows ``/u/…/upload``, never the token itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _TOKEN_IN_PATH.sub(r"\1…", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _TOKEN_IN_PATH.sub(r"\1…", record.msg)
        return True


def mask_link_tokens_in_access_log() -> None:
    """Uvicorn's access log (configured before the app is imported) masks link tokens; once per process."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskLinkTokens) for f in access.filters):
        access.addFilter(MaskLinkTokens())


def _page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(f"portal/{name}.html.j2").render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _refused(reason: str) -> HTMLResponse:
    return _page("error", status_code=403, message=error_text("links", reason))


class _Scope:
    """The unit, cycle and submission a valid link grants, loaded in one session (the submission later,
    by :meth:`load_submission`, when ``submission`` is False: an upload reads it after the intake)."""

    def __init__(self, session: Session, grant: LinkGrant, submission: bool = True) -> None:
        self.unit = grant.unit or session.get(Unit, grant.unit_id)
        self.cycle = grant.cycle or session.get(PlanningCycle, grant.cycle_id)
        self.submission: Submission | None = None
        if submission:
            self.load_submission(session)

    def load_submission(self, session: Session, submission_id: int | None = None) -> None:
        """By the unit and cycle; by ``submission_id`` when an intake just wrote it (the object the intake
        left in this session, without a query, when it ran in this thread)."""
        assert self.cycle is not None and self.unit is not None
        if submission_id is not None:
            self.submission = session.get(Submission, submission_id)
            return
        self.submission = get_submission(session=session, cycle_id=self.cycle.id, unit_id=self.unit.id)  # type: ignore[arg-type]


def _view(session: Session, scope: _Scope, token: str, settings: Settings) -> dict[str, Any]:
    cycle, submission = scope.cycle, scope.submission
    assert cycle is not None and cycle.id is not None
    sources = list_funding_sources(session=session, cycle_id=cycle.id)
    versions = (
        list_versions(session=session, submission_id=submission.id) if submission and submission.id else []
    )
    attempts = (
        list_attempts(session=session, submission_id=submission.id) if submission and submission.id else []
    )
    latest = versions[0] if versions else None
    items = _items_shown(session, latest.id) if latest and latest.id else []
    deadline = (submission.deadline if submission else None) or cycle.submission_deadline
    today = settings.today()
    return {
        "token": token,
        "unit": scope.unit,
        "cycle": cycle,
        "submission": submission,
        "deadline": deadline,
        "days_left": (deadline - today).days if deadline else None,
        "sources": sources,
        "versions": versions,
        "attempts": attempts,
        "latest": latest,
        "items": items,
        "money_unit": cycle.money_unit,
        "progress_reports": unit_progress_reports(session=session, cycle=cycle, unit_id=scope.unit.id),  # type: ignore[union-attr]
        "approved": approved_view(session=session, cycle=cycle, unit=scope.unit),  # type: ignore[arg-type]
    }


@dataclass(frozen=True)
class _ItemRow:
    id: int
    row_ref: str | None
    name: str


def _items_shown(session: Session, version_id: int) -> list[tuple[Any, dict[int, int | None]]]:
    """The version's items as the page shows them (number, name, amounts by source id), in one query of
    plain rows: the page is rendered after every upload, so it skips building ORM objects."""
    items: dict[int, tuple[Any, dict[int, int | None]]] = {}
    for item_id, row_ref, name, source_id, amount in session.execute(
        select(
            SubmissionItem.id,
            SubmissionItem.row_ref,
            SubmissionItem.name,
            SubmissionItemAmount.funding_source_id,
            SubmissionItemAmount.amount,
        )
        .outerjoin(SubmissionItemAmount, SubmissionItemAmount.item_id == SubmissionItem.id)  # type: ignore[arg-type]
        .where(SubmissionItem.submission_version_id == version_id)
        .order_by(SubmissionItem.sheet_row, SubmissionItem.id)
    ):
        if item_id not in items:
            items[item_id] = (_ItemRow(item_id, row_ref, name), {})
        if source_id is not None:
            items[item_id][1][source_id] = amount
    return list(items.values())


def create_app(settings: Settings | None = None) -> FastAPI:
    def current_settings() -> Settings:
        return settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        mask_link_tokens_in_access_log()
        if settings is None:
            checked_settings()  # refuse to start on unsafe production settings, not on the first unit's page
            settle_memory()  # the portal as uvicorn serves it (tests build their own apps and keep theirs)
        replaying = asyncio.create_task(replay_notices())  # after start-up: the pages do not wait for it
        yield
        await replaying
        await pools.flush()  # the notices still waiting go before the portal stops
        if apart is not None:
            await anyio.to_thread.run_sync(apart.close)

    app = FastAPI(
        title="plancycle portal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    pools = Pools(
        lambda: current_settings().portal_workers,
        spool=NoticeSpool(lambda: current_settings().resolved_data_dir / "portal"),
    )
    # Large files in a process of their own (portal/apart.py), which reads the settings from the
    # environment: an app given other settings (a test's) takes every file in its worker thread.
    apart = Apart() if settings is None else None
    settle = SettleOnce(enabled=settings is None)  # as settle_memory: the portal as uvicorn serves it
    app.include_router(approver_routes(current_settings))  # approvers' pages, the issued plan

    async def replay_notices() -> None:
        """The notices a portal stopped outright had queued (portal/pools.py: NoticeSpool), sent now."""
        assert pools.spool is not None
        try:
            await anyio.to_thread.run_sync(pools.spool.replay, current_settings())
        except Exception:
            logger.exception("the notices left waiting by a stopped portal could not be sent")

    def open_session() -> Session:
        return Session(get_engine(current_settings().resolved_database_url), expire_on_commit=False)

    def grant_for(session: Session, token: str) -> LinkGrant:
        return verify_link_token(session=session, token=token, settings=current_settings())

    app.include_router(file_routes(current_settings))  # the coordinator's downloads (portal/files.py)

    @app.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        return _page("home")

    app.include_router(open_data_router(open_session))  # published plans as JSON (docs/open-data.md)

    @app.get("/healthz")
    async def health() -> dict[str, str]:  # on the event loop: answers while uploads are processed
        return {"status": "ok"}

    def scoped(token: str, respond: Callable[[Session, _Scope], Response]) -> Response:
        """``respond`` for the unit and cycle the link grants, in one session; the refusal page when the
        link is not valid."""
        with open_session() as session:
            try:
                scope = _Scope(session, grant_for(session, token))
            except LinkError as error:
                return _refused(error.reason)
            return respond(session, scope)

    @app.get("/u/{token}", response_class=HTMLResponse)
    def unit_page(token: str) -> Response:
        return scoped(
            token, lambda session, scope: _page("unit", **_view(session, scope, token, current_settings()))
        )

    @app.get("/u/{token}/workbook")
    def download_workbook(token: str) -> Response:
        from tasks.submissions.workbook import generate_unit_workbook

        def workbook(session: Session, scope: _Scope) -> Response:
            assert scope.cycle is not None and scope.unit is not None
            return _workbook(*generate_unit_workbook(session=session, cycle=scope.cycle, unit=scope.unit))

        return scoped(token, workbook)

    @app.get("/u/{token}/progress/{report_id}/workbook")
    def download_progress_workbook(token: str, report_id: int) -> Response:
        from models import ProgressReport
        from tasks.progress.workbook import generate_progress_workbook

        with open_session() as session:
            try:
                grant = grant_for(session, token)
            except LinkError as error:
                return _refused(error.reason)
            report = session.get(ProgressReport, report_id)
            if report is None or report.unit_id != grant.unit_id:
                return _refused("unknown")
            filename, content = generate_progress_workbook(session=session, report=report)
        return _workbook(filename, content)

    @app.post("/u/{token}/upload", response_class=HTMLResponse)
    async def upload(token: str, request: Request) -> HTMLResponse:
        """Read the body on the event loop (not at all when it declares more than the limit); parse,
        validate and store it in the bounded intake pool (the event loop keeps answering every other unit
        and ``/healthz``); send the notice after the answer. The form is read here rather than declared as
        a FastAPI ``UploadFile`` parameter: a form without a file gets the unit's page and a clear message
        instead of a JSON error, and no per-request validation of a declared body."""
        declared = int(request.headers.get("content-length") or 0)
        filename, content = "", b""
        if declared <= MAX_UPLOAD_BYTES + 64 * 1024:
            async with request.form(max_files=1, max_fields=8) as form:
                file = form.get("file")
                if isinstance(file, StarletteUploadFile):
                    filename, content = file.filename or "", await file.read(MAX_UPLOAD_BYTES + 1)
        try:
            page, notice = await anyio.to_thread.run_sync(
                partial(receive, token, declared, filename, content), limiter=pools.intake()
            )
        except Exception:  # even the record of the attempt failed (the database is away): still a page
            logger.exception("upload could not be recorded")
            return _page("error", status_code=503, message=error_text("portal", "unavailable"))
        if notice is not None:
            page.background = BackgroundTask(pools.send_later, notice)
        return page

    def receive(
        token: str, declared: int, filename: str, content: bytes
    ) -> tuple[HTMLResponse, Notice | None]:
        with pools.holding_gil_long(len(content)):
            answer = receive_file(token, declared, filename, content)
        settle.after_upload()
        return answer

    def receive_file(
        token: str, declared: int, filename: str, content: bytes
    ) -> tuple[HTMLResponse, Notice | None]:
        """The upload's page and the notice to send after it (None when there is none). Whatever goes
        wrong in the intake, the file is recorded as a refused attempt and the unit reads a page; this
        raises only when even that record cannot be written."""
        from tasks.progress.intake import ProgressIntakeResult
        from tasks.submissions.intake import record_failed_intake

        with open_session() as session:
            try:
                grant = grant_for(session, token)  # checked once: the answer page below reuses it
                scope = _Scope(session, grant, submission=False)  # read after the intake, below
            except LinkError as error:
                return _refused(error.reason), None
            if declared > MAX_UPLOAD_BYTES + 64 * 1024 or len(content) > MAX_UPLOAD_BYTES:
                scope.load_submission(session)
                view = _view(session, scope, token, current_settings())
                page = _page("unit", status_code=413, upload_error=error_text("portal", "too_large"), **view)
                return page, None
            assert scope.cycle is not None and scope.unit is not None
            cycle, unit = scope.cycle, scope.unit
            received_on = current_settings().today()
            try:
                if apart is not None and len(content) >= current_settings().portal_apart_bytes:
                    session.commit()  # no read transaction held (SQLite would keep its snapshot) meanwhile
                    result = apart.take(
                        cycle_id=cycle.id,  # type: ignore[arg-type]
                        unit_id=unit.id,  # type: ignore[arg-type]
                        filename=filename,
                        content=content,
                        as_of=received_on,
                    )
                else:
                    result = take_file(
                        session=session,
                        cycle=cycle,
                        unit=unit,
                        filename=filename,
                        content=content,
                        as_of=received_on,
                        settings=current_settings(),
                    )
            except Exception:
                # the large-file process died, or a fault the intakes could not record themselves
                logger.exception("intake failed for %s", unit.code)
                session.rollback()
                result = record_failed_intake(
                    session=session,
                    cycle=cycle,
                    unit=unit,
                    filename=filename,
                    content=content,
                    channel="portal",
                )
            if isinstance(result, ProgressIntakeResult):
                session.expire_all()
                view = _view(session, _Scope(session, grant), token, current_settings())
                status = 200 if result.accepted else 422
                return _page("unit", status_code=status, progress_result=result, **view), None
            # The unit and cycle stand; the submission is read as the intake left it, then the answer page.
            scope.load_submission(session, result.submission_id)
            view = _view(session, scope, token, current_settings())
            link = link_url(token, current_settings()) if grant.still_current() else None
            notice = written_record(session, scope, result, received_on, view["sources"], link)
        return _page("unit", status_code=200 if result.accepted else 422, result=result, **view), notice

    def written_record(
        session: Session, scope: _Scope, result: Any, received_on: Any, sources: Any, link: str | None
    ) -> Notice | None:
        """The unit's written record of what happened to its file: composed now, from what the page just
        loaded (and with the link the unit came through while it is current), and sent after the page was
        answered (a slow mail relay never delays the page)."""
        if result.duplicate:
            return None
        assert scope.unit is not None and scope.unit.id is not None and scope.cycle is not None
        try:
            contacts = list_unit_recipients(session=session, unit_id=scope.unit.id)
            messages = intake_messages(
                session=session,
                cycle=scope.cycle,
                unit=scope.unit,
                result=result,
                received_on=received_on,
                settings=current_settings(),
                submission=scope.submission,
                sources=sources,
                contacts=contacts,
                link=link,
            )
            session.commit()  # the link row, if one was issued, before anything is sent
        except Exception:  # the page stands; the delivery log has nothing to send for this attempt
            logger.exception("intake notice could not be composed for %s", scope.unit.code)
            session.rollback()
            return None
        if not messages:
            return None
        loaded = Loaded(contacts=contacts, units=[scope.unit], cycles=[scope.cycle])
        return Notice(messages=messages, as_of=received_on, settings=current_settings(), loaded=loaded)

    from portal.no_proposal import no_proposal_router

    app.include_router(no_proposal_router(current_settings))
    return app


def _workbook(filename: str, content: bytes) -> Response:
    """A generated .xlsx, downloaded under its own (Vietnamese) file name, never cached."""
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": _attachment(filename), "Cache-Control": "no-store"},
    )


def _attachment(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "ignore").decode() or "workbook.xlsx"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


app = create_app()
