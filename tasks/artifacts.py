"""What a flow run shows the coordinator in the Prefect UI: Markdown and table artifacts rendered from
``templates/reports/``. One way to publish them, for every stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from plancycle.settings import get_settings
from templates import environment


def publish_markdown(template: str, key: str, description: str, **context: object) -> None:
    """Render ``templates/<template>`` with ``context`` and publish it as the artifact ``key``."""
    create_markdown_artifact(
        environment().get_template(template).render(**context), key=key, description=description
    )


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
        if values.get("as_of") is None:
            values["as_of"] = get_settings().today().strftime("%d/%m/%Y")
        return template.format_map(
            _Blank({key: "" if value is None else value for key, value in values.items()})
        )

    return name
