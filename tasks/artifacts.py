"""What a flow run shows the coordinator in the Prefect UI: Markdown and table artifacts rendered from
``templates/reports/``. One way to publish them, for every stage."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.runtime import flow_run

from plancycle.settings import get_settings
from tasks.common.file_links import FileLink, file_link
from templates import environment, load_yaml


@dataclass(frozen=True)
class NextStep:
    """How a stage's artifact ends: the deployment to run next (with its page in the Prefect UI, when the
    run can reach the server) and what is still waiting."""

    deployment: str
    text: str
    url: str | None = None


def next_step(stage: str, values: Mapping[str, Any]) -> NextStep:
    """The next step after ``stage`` (``templates/reports/next_steps.vi.yaml``), its text filled with the
    cycle's counts (``tasks.submissions.dashboard.CycleCounts.as_values``)."""
    step = load_yaml("reports/next_steps.vi.yaml")[stage]
    text = environment().from_string(step["text"]).render(**values)
    return NextStep(deployment=step["deployment"], text=text, url=deployment_url(step["deployment"]))


def deployment_url(name: str) -> str | None:
    """The deployment's page in the Prefect UI (every flow is deployed under its own name), or None when
    it is not deployed on the server this run talks to."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(f"{name}/{name}")
    except ObjectNotFound:
        return None
    ui = PREFECT_UI_URL.value() or (PREFECT_API_URL.value() or "").removesuffix("/api")
    return f"{ui.rstrip('/')}/deployments/deployment/{deployment.id}" if ui else None


def publish_markdown(
    template: str, key: str, description: str, *, next_step: NextStep | None = None, **context: object
) -> None:
    """Render ``templates/<template>`` with ``context`` and publish it as the artifact ``key``; with
    ``next_step``, the artifact ends with it."""
    markdown = environment().get_template(template).render(**context)
    if next_step is not None:
        markdown += render_next_step(next_step)
    create_markdown_artifact(markdown, key=key, description=description)


def render_next_step(step: NextStep) -> str:
    """The "Bước tiếp theo" paragraph that ends an artifact."""
    return environment().get_template("reports/next_step.md.j2").render(step=step)


class _Blank(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""


def run_name(template: str) -> Callable[[], str]:
    """A flow's ``flow_run_name`` from a template over its parameters, e.g. "tổng hợp kế hoạch {year} ngày
    {as_of}": dates read dd/mm/yyyy, and a date left empty (``as_of`` = today) reads as the day the run acts
    as of, never "None"."""

    def name() -> str:
        values = dict(flow_run.get_parameters())
        for key, value in values.items():
            if isinstance(value, str) and key == "as_of":
                value = date.fromisoformat(value[:10])
            if isinstance(value, date):
                values[key] = value.strftime("%d/%m/%Y")
        if not values.get("as_of"):  # left empty (None, or the form's blank): the day the run acts as of
            values["as_of"] = get_settings().today().strftime("%d/%m/%Y")
        return template.format_map(
            _Blank({key: "" if value is None else value for key, value in values.items()})
        )

    return name


def publish_file_link(path: Path | str, *, key: str, description: str) -> FileLink | None:
    """A link artifact that downloads ``path`` through the portal's signed, expiring file link (never a
    server path). A file written outside the data folder cannot be served: the artifact says so by name."""
    path = Path(path)
    link = file_link(path)
    if link is None:
        create_markdown_artifact(
            environment().get_template("reports/file_outside.md.j2").render(name=path.name),
            key=key,
            description=description,
        )
        return None
    create_link_artifact(link=link.url, link_text=link.name, key=key, description=description)
    return link
