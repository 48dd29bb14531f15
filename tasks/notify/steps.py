"""The Prefect face of notifications: one task for a whole batch (never one task per message)."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from models.db import session_scope
from plancycle.settings import get_settings
from tasks.notify.deliveries_table import delivery_rows, outbox_count
from tasks.notify.delivery import BatchResult, DeliveryPolicy, Message, retry_deliveries, send_batch
from tasks.notify.render import resolve_locale
from tasks.notify.team import notify_team_of_failures
from templates import environment


def _run_name() -> str:
    from prefect.runtime import task_run

    return f"gửi {len(task_run.parameters.get('messages') or [])} thông báo"


# cache_policy=NO_CACHE: idempotency lives in NotificationLog, not in Prefect's result cache.
@task(name="deliver-notifications", task_run_name=_run_name, cache_policy=NO_CACHE)
def deliver(
    messages: list[Message],
    policy: DeliveryPolicy | None = None,
    as_of: date | None = None,
) -> BatchResult:
    """Send a batch with :func:`send_batch`, publish a table artifact of every delivery, and tell the team
    channel when something failed. Idempotent: re-running the task sends only what is not yet delivered."""
    settings = get_settings()
    result = send_batch(messages, settings=settings, policy=policy, as_of=as_of)
    _publish(result)
    return result


@task(name="redeliver-notifications", task_run_name="gửi lại thông báo đến hạn", cache_policy=NO_CACHE)
def redeliver(policy: DeliveryPolicy | None = None) -> BatchResult:
    """Send again what failed transiently and is due, and what a dead run had claimed
    (:func:`tasks.notify.delivery.retry_deliveries`); same artifact and team message as :func:`deliver`.
    The daily send-reminders run starts with it."""
    result = retry_deliveries(settings=get_settings(), policy=policy)
    if result.deliveries:
        _publish(result)
    return result


def _publish(result: BatchResult) -> None:
    settings = get_settings()
    description = (
        environment()
        .get_template(f"messages/_ops/{resolve_locale(settings.locale)}/artifact.md.j2")
        .render(
            total=len(result.deliveries),
            summary=result.summary(),
            seconds=result.seconds,
            outbox=outbox_count(result, settings),
        )
    )
    with session_scope() as session:
        table = delivery_rows(result, session=session, settings=settings)
    create_table_artifact(table=table, key="notification-deliveries", description=description)
    if result.failed:
        ctx = FlowRunContext.get()
        notify_team_of_failures(
            result, settings=settings, flow_run_name=ctx.flow_run.name if ctx and ctx.flow_run else None
        )
