"""The project's one way to send a message: email and Zalo through Apprise, from templates, logged in
``NotificationLog``, idempotent, fast. See docs/notifications.md.

    from tasks.notify.steps import deliver             # in a flow: deliver(messages) (one Prefect task)
    from tasks.notify import Message, send_batch       # anywhere else: a plain function
"""

from tasks.notify.delivery import BatchResult, Delivery, DeliveryPolicy, Message, log_key, send_batch
from tasks.notify.render import TEMPLATE_NAMES, Rendered, RenderError, TemplateName, render_message
from tasks.notify.team import notify_team, notify_team_of_failures, notify_team_on_flow_failure
from tasks.notify.zalo_tokens import DatabaseZaloTokens, save_zalo_credentials

__all__ = [
    "TEMPLATE_NAMES",
    "BatchResult",
    "DatabaseZaloTokens",
    "Delivery",
    "DeliveryPolicy",
    "Message",
    "RenderError",
    "Rendered",
    "TemplateName",
    "log_key",
    "notify_team",
    "notify_team_of_failures",
    "notify_team_on_flow_failure",
    "render_message",
    "save_zalo_credentials",
    "send_batch",
]
