"""One way to render a message: ``templates/messages/<template>/<locale>/`` through the project's Jinja
environment (``templates.environment()``), one file per part."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, get_args

from jinja2 import Environment, Template

from templates import TEMPLATES_DIR, environment

TemplateName = Literal[
    "call_for_submissions",
    "due_soon",
    "due_today",
    "overdue",
    "escalation",
    "submission_received",
    "submission_invalid",
    "submission_returned",
    "approval_requested",
    "approval_reminder",
    "plan_approved",
    "plan_amended",
    "progress_report_requested",
    "progress_report_overdue",
    "coordinator_digest",
]
TEMPLATE_NAMES: tuple[str, ...] = get_args(TemplateName)
LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
ZALO_MAX_CHARS = 2000


class RenderError(ValueError):
    """A template that cannot produce a valid message (a programming error, never a delivery failure)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str
    zalo: str


def resolve_locale(locale: str | None) -> str:
    """The contact's locale if we have templates in it, else Vietnamese."""
    short = (locale or "").split("-")[0].split("_")[0].lower()
    return short if short in LOCALES else DEFAULT_LOCALE


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """The project's environment (same loader, filters, autoescape, undefined), with templates held once
    per process: the shared one re-checks every template file (``os.stat``) at every ``get_template``,
    and ``{% extends %}`` and ``{% import %}`` call it at every render: 40 % of a message's rendering
    time went there. Top-level templates were already held once per process (below)."""
    return environment().overlay(auto_reload=False)


@lru_cache(maxsize=512)
def _template(path: str) -> Template:
    return _environment().get_template(path)


def _render(path: str, context: dict[str, Any]) -> str:
    return unicodedata.normalize("NFC", _template(path).render(context))


def render_message(
    template: str, locale: str | None, context: dict[str, Any], *, zalo: bool = True
) -> Rendered:
    """Subject, HTML body, plain-text twin and (if asked) the short Zalo text of ``template`` in ``locale``.

    Raises :class:`RenderError` for an unknown template, a missing context value or a Zalo text longer than
    2,000 characters.
    """
    if template not in TEMPLATE_NAMES:
        raise RenderError(f"unknown message template {template!r}")
    lang = resolve_locale(locale)
    base = f"messages/{template}/{lang}"
    ctx = {**context, "lang": lang}
    try:
        subject = " ".join(_render(f"{base}/subject.txt.j2", ctx).split())
        ctx["subject"] = subject
        html = _render(f"{base}/body.html.j2", ctx)
        text = _render(f"{base}/body.txt.j2", ctx).strip() + "\n"
        short = " ".join(_render(f"{base}/zalo.txt.j2", ctx).split()) if zalo else ""
    except Exception as exc:  # jinja2 UndefinedError, TypeError in a filter, …
        raise RenderError(f"{template}/{lang}: {exc}") from exc
    if len(short) > ZALO_MAX_CHARS:
        raise RenderError(
            f"{template}/{lang}: Zalo text has {len(short)} characters (at most {ZALO_MAX_CHARS})"
        )
    return Rendered(subject=subject, html=html, text=text, zalo=short)


def template_files() -> list[str]:
    """Every message template file, for checks that all templates exist in all locales."""
    root = TEMPLATES_DIR / "messages"
    return sorted(str(p.relative_to(TEMPLATES_DIR)) for p in root.rglob("*.j2"))
