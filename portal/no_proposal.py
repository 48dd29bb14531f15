"""The unit page's "nothing to propose this year" form (tasks/submissions/no_proposal.py).

POST /u/{token}/no-proposal with ``confirm``, ``officer_name`` and ``reason``: the declaration is recorded
for the unit and cycle the signed link grants, and the unit page is shown again with the outcome."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from models.db import get_engine
from plancycle.settings import Settings
from tasks.common.links import LinkError, verify_link_token


def no_proposal_router(current_settings: Callable[[], Settings]) -> APIRouter:
    router = APIRouter()

    @router.post("/u/{token}/no-proposal", response_class=HTMLResponse)
    def declare(
        token: str,
        confirm: str | None = Form(None),
        officer_name: str = Form(""),
        reason: str = Form(""),
    ) -> HTMLResponse:
        from portal.app import _page, _refused, _Scope, _view
        from tasks.submissions.no_proposal import NoProposalError, declare_no_proposal

        settings = current_settings()
        with Session(get_engine(settings.resolved_database_url), expire_on_commit=False) as session:
            try:
                scope = _Scope(session, verify_link_token(session=session, token=token, settings=settings))
            except LinkError as error:
                return _refused(error.reason)
            assert scope.cycle is not None and scope.unit is not None
            try:
                declared = declare_no_proposal(
                    session=session,
                    cycle=scope.cycle,
                    unit=scope.unit,
                    confirmed=bool(confirm),
                    officer_name=officer_name,
                    reason=reason,
                    as_of=settings.today(),
                    actor=f"portal:{scope.unit.code}",
                )
                session.commit()
            except NoProposalError as error:
                session.rollback()
                view = _view(session, scope, token, settings)
                return _page("unit", status_code=422, no_proposal_error=error.message_vi, **view)
            session.expire_all()
            scope = _Scope(session, verify_link_token(session=session, token=token, settings=settings))
            view = _view(session, scope, token, settings)
            return _page("unit", no_proposal_result=declared, **view)

    return router
