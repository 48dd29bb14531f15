"""The approver's page: reached through the signed link of their email (one approver, one stage, one plan
version), it shows the version and takes the stage's decision, which resumes the waiting circulation
through the Prefect API with the same input the Prefect UI form gives (``tasks.approval.steps``). Also
the issued plan a unit downloads from its own page once the plan is approved."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from models.db import get_engine
from plancycle.settings import Settings
from tasks.approval.access import ApproverGrant, stage_decision, verify_approver_token
from tasks.approval.approver_page import check_decision, page_context, read_form, version_file
from tasks.approval.chain import ApprovalError
from tasks.common.links import LinkError, verify_link_token
from templates import environment, error_text

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RECORD_WAIT_SECONDS = 60
logger = logging.getLogger(__name__)


def _page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(f"portal/{name}.html.j2").render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _refused(reason: str, catalog: str = "approver_page") -> HTMLResponse:
    """The refusal page: an approver's link in the approvers' words, a unit's in the units'."""
    key = f"link_{reason}" if catalog == "approver_page" else reason
    return _page("error", status_code=403, message=error_text(catalog, key))


def approver_routes(current_settings: Callable[[], Settings]) -> APIRouter:
    """The routes of the approver's page (``/a/<token>``) and of the issued plan (``/u/<token>/ban-hanh``)."""
    router = APIRouter()

    def open_session() -> Session:
        return Session(get_engine(current_settings().resolved_database_url), expire_on_commit=False)

    def show(
        session: Session, grant: ApproverGrant, token: str, status: int = 200, **extra: Any
    ) -> HTMLResponse:
        context = page_context(session=session, grant=grant, settings=current_settings())
        defaults: dict[str, Any] = {"problems": [], "notice": None, "form": {}, "lists": {}}
        return _page("approver", status_code=status, token=token, **(defaults | context | extra))

    @router.get("/a/{token}", response_class=HTMLResponse)
    def approver_page(token: str, sent: int = 0) -> Response:
        with open_session() as session:
            try:
                grant = verify_approver_token(session=session, token=token, settings=current_settings())
            except LinkError as error:
                return _refused(error.reason)
            notice = None
            if sent and stage_decision(session=session, grant=grant) is None:
                notice = error_text("approver_page", "pending")
            return show(session, grant, token, notice=notice)

    @router.get("/a/{token}/{kind}")
    def approver_file(token: str, kind: str) -> Response:
        if kind not in ("du-thao.docx", "phu-luc.xlsx"):
            return _refused("unknown")
        with open_session() as session:
            try:
                grant = verify_approver_token(session=session, token=token, settings=current_settings())
            except LinkError as error:
                return _refused(error.reason)
            path = version_file(
                session=session, grant=grant, kind=kind.rsplit(".", 1)[1], settings=current_settings()
            )
        if path is None:
            return _refused("unknown")
        return _file(path.name, path, DOCX if kind.endswith("docx") else XLSX)

    @router.post("/a/{token}", response_class=HTMLResponse)
    async def approver_decides(token: str, request: Request) -> Response:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        lists = {k: [str(v) for v in form.getlist(k)] for k in ("unit_codes", "rejected_items")}
        # the Prefect client and the wait for the record block: off the event loop
        return await run_in_threadpool(_decide, token, values, lists)

    def _decide(token: str, values: dict[str, str], lists: dict[str, list[str]]) -> Response:
        from tasks.approval.steps import send_decision

        with open_session() as session:
            try:
                grant = verify_approver_token(session=session, token=token, settings=current_settings())
            except LinkError as error:
                return _refused(error.reason)
            if stage_decision(session=session, grant=grant) is not None:  # a second submit: nothing changes
                return show(session, grant, token, notice=error_text("approver_page", "already_decided"))
            names = {i["ref"]: i["name"] for i in grant.version.content["items"] if not i["rejected"]}
            data, problems = read_form(values, lists, grant, names)
            if data is not None:
                problems = check_decision(session=session, grant=grant, data=data)
            if problems or data is None:
                return show(session, grant, token, status=422, problems=problems, form=values, lists=lists)
            try:
                send_decision(
                    year=grant.cycle.year,
                    stage_code=grant.stage.code,
                    data=data,
                    version=grant.version.number,
                )
            except (httpx.HTTPError, OSError) as error:  # the Prefect API is not reachable
                logger.warning("approver page: Prefect API not reachable: %s", type(error).__name__)
                text = error_text("approver_page", "prefect_unreachable")
                return show(session, grant, token, status=503, problems=[text], form=values, lists=lists)
            except ApprovalError as error:
                text = (
                    error_text(
                        "approver_page", "not_waiting", stage=grant.stage.name, version=grant.version.number
                    )
                    if error.key == "no_waiting_run"
                    else error.message_vi
                )
                return show(session, grant, token, status=409, problems=[text], form=values, lists=lists)
        deadline = time.monotonic() + RECORD_WAIT_SECONDS
        while time.monotonic() < deadline:  # the run records the decision when it resumes
            with open_session() as session:
                grant = verify_approver_token(session=session, token=token, settings=current_settings())
                if stage_decision(session=session, grant=grant) is not None:
                    break
            time.sleep(0.5)
        return RedirectResponse(f"/a/{token}?sent=1#y-kien", status_code=303)

    @router.get("/u/{token}/ban-hanh/{kind}")
    def issued_plan(token: str, kind: str) -> Response:
        from tasks.approval.unit_view import issued_file

        with open_session() as session:
            try:
                grant = verify_link_token(session=session, token=token, settings=current_settings())
            except LinkError as error:
                return _refused(error.reason, "links")
            path = issued_file(session=session, cycle_id=grant.cycle_id, kind=kind)
        if path is None:
            return _refused("unknown", "links")
        media = {".docx": DOCX, ".xlsx": XLSX, ".pdf": "application/pdf"}[path.suffix]
        return _file(path.name, path, media)

    return router


def _file(filename: str, path: Any, media_type: str) -> Response:
    return FileResponse(path, media_type=media_type, filename=filename, headers={"Cache-Control": "no-store"})
