"""The coordinator's downloads: the files flows write (annexes, drafts, status and progress workbooks,
audit exports), served from the data folder through the signed links of tasks/common/file_links.py."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from plancycle.settings import Settings
from tasks.common.file_links import FILE_ROUTE, verify_file_token
from tasks.common.links import LinkError
from templates import environment, error_text

_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv; charset=utf-8",
}


def attachment(filename: str) -> str:
    """Content-Disposition for a download under its Vietnamese name (RFC 6266: ASCII fallback + UTF-8)."""
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "") or "tep"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def file_routes(settings: Callable[[], Settings]) -> APIRouter:
    router = APIRouter()

    @router.get(FILE_ROUTE + "/{token}")
    def download_file(token: str) -> Response:
        try:
            path = verify_file_token(token, settings=settings())
        except LinkError as error:
            status = 404 if error.reason == "missing" else 403
            html = (
                environment()
                .get_template("portal/error.html.j2")
                .render(message=error_text("file_links", error.reason))
            )
            return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        media_type = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return FileResponse(
            path,
            media_type=media_type or "application/octet-stream",
            headers={"Content-Disposition": attachment(path.name), "Cache-Control": "no-store"},
        )

    return router
