"""What a flow run shows the coordinator in the Prefect UI: Markdown and table artifacts rendered from
``templates/reports/``. One way to publish them, for every stage."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact

from templates import environment


def publish_markdown(template: str, key: str, description: str, **context: object) -> None:
    """Render ``templates/<template>`` with ``context`` and publish it as the artifact ``key``."""
    create_markdown_artifact(
        environment().get_template(template).render(**context), key=key, description=description
    )
