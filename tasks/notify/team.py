"""The coordinators' own team channel: any Apprise URLs in ``PLANCYCLE_TEAM_NOTIFY_URLS``."""

from __future__ import annotations

import logging
from typing import Any

import apprise

import apprise_zalo  # noqa: F401  (zalo:// URLs work for the team channel too)
from plancycle.settings import Settings, get_settings
from tasks.notify.redact import redact, secret_values
from tasks.notify.render import resolve_locale
from templates import environment

logger = logging.getLogger(__name__)


def _render_ops(name: str, settings: Settings, context: dict[str, Any]) -> tuple[str, str]:
    lang = resolve_locale(settings.locale)
    ctx = {"province_name": settings.province_name, **context}
    env = environment()
    subject = " ".join(env.get_template(f"messages/_ops/{lang}/{name}.subject.txt.j2").render(ctx).split())
    body = env.get_template(f"messages/_ops/{lang}/{name}.body.txt.j2").render(ctx).strip()
    return subject, body


def notify_team(subject: str, body: str, *, settings: Settings | None = None) -> bool:
    """Send a short text to every team URL. False when none is configured or any of them failed."""
    settings = settings or get_settings()
    if settings.team_notify_urls is None:
        logger.info("no team channel configured; not sent: %s", subject)
        return False
    team = apprise.Apprise()
    for url in settings.team_notify_urls.get_secret_value().replace("\n", ",").split(","):
        if url.strip() and not team.add(url.strip()):
            logger.warning("team channel URL not understood by Apprise (hidden)")
    if not len(team):
        return False
    return bool(team.notify(body=body, title=subject, body_format=apprise.NotifyFormat.TEXT))


def notify_team_of_failures(
    result: Any, *, settings: Settings | None = None, flow_run_name: str | None = None
) -> bool:
    """Tell the team which deliveries of a batch failed (a :class:`BatchResult`)."""
    settings = settings or get_settings()
    failed = result.failed
    if not failed:
        return True
    secrets = secret_values(settings.smtp_url, settings.zalo_secret_key, settings.team_notify_urls)
    rows = [
        {
            "template": d.template,
            "channel": d.channel,
            "contact_id": d.contact_id,
            "status": d.status.value,
            "error": redact(d.error, secrets),
        }
        for d in failed
    ]
    subject, body = _render_ops(
        "batch_failed",
        settings,
        {
            "failed": rows,
            "total": len(result.deliveries),
            "flow_run_name": flow_run_name,
            "template_names": sorted({d.template for d in failed}),
        },
    )
    return notify_team(subject, body, settings=settings)


def notify_team_on_flow_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """A Prefect flow hook: ``@flow(on_failure=[notify_team_on_flow_failure], on_crashed=[…])``."""
    settings = get_settings()
    secrets = secret_values(settings.smtp_url, settings.zalo_secret_key, settings.team_notify_urls)
    try:
        from prefect.settings import PREFECT_UI_URL

        ui = PREFECT_UI_URL.value()
        run_url = f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else None
    except Exception:  # the hook must never fail the flow a second time
        run_url = None
    subject, body = _render_ops(
        "flow_failed",
        settings,
        {
            "flow_run_name": flow_run.name,
            "flow_name": getattr(flow, "name", ""),
            "state_name": state.name,
            "message": redact(str(state.message or ""), secrets)[:500],
            "run_url": run_url,
        },
    )
    notify_team(subject, body, settings=settings)


# Every flow of the cycle takes these, so a failed or crashed run reaches the coordinators' team channel.
OPERATOR_HOOKS: dict[str, list[Any]] = {
    "on_failure": [notify_team_on_flow_failure],
    "on_crashed": [notify_team_on_flow_failure],
}
