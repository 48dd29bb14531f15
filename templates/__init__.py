"""Every sentence a person reads lives in this folder. ``environment()`` is the one way to render them."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tasks.common.markdown import Markdown, md_code, md_finalize, md_label, md_text
from tasks.common.money import format_money, format_money_with_unit
from tasks.common.numbers import format_percent

TEMPLATES_DIR = Path(__file__).resolve().parent


def format_date(value: date | datetime | None) -> str:
    """dd/mm/yyyy, the Vietnamese administrative format."""
    if value is None:
        return ""
    return value.strftime("%d/%m/%Y")


def format_local_datetime(value: datetime | None) -> str:
    """dd/mm/yyyy HH:MM in the province's time zone; naive values are UTC (as SQLite returns them)."""
    if value is None:
        return ""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from plancycle.settings import get_settings

    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(get_settings().timezone)).strftime("%d/%m/%Y %H:%M")


class _Environment(Environment):
    """Markdown templates (``*.md.j2``) are read through a twin that escapes every value it prints
    (`md_finalize`): text from users never becomes Markdown (tables, links, images, HTML)."""

    markdown: Environment | None = None

    def get_template(self, name: Any, parent: str | None = None, globals: Any = None) -> Any:  # noqa: A002
        if self.markdown is not None and isinstance(name, str) and name.endswith(".md.j2"):
            return self.markdown.get_template(name, parent, globals)
        return super().get_template(name, parent, globals)


def label(code: object, table: str) -> str:
    """The Vietnamese words for a stored code (``templates/labels.vi.yaml``); an unknown code as it is."""
    words = load_yaml("labels.vi.yaml").get(table, {})
    return str(words.get(str(code), "" if code is None else code))


@lru_cache
def environment() -> Environment:
    """Jinja2 with autoescape for .html (and .html.j2), Markdown escaping for .md.j2, strict undefined,
    and the project's filters."""
    env = _Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["money"] = format_money
    env.filters["money_unit"] = format_money_with_unit
    env.filters["percent"] = format_percent
    env.filters["vndate"] = format_date
    env.filters["vntime"] = format_local_datetime
    env.filters["md"] = md_text  # in a non-Markdown template that writes Markdown
    env.filters["md_code"] = md_code  # a value between backticks
    env.filters["md_label"] = md_label  # the text of a link we write
    env.filters["markdown"] = Markdown  # Markdown written by the project, printed as it is
    markdown = env.overlay(finalize=md_finalize)
    markdown.markdown = None  # type: ignore[attr-defined]
    env.markdown = markdown
    env.filters["label"] = label
    return env


@lru_cache
def load_yaml(relative_path: str) -> Any:
    """A YAML file of this folder (``"workbook/progress.vi.yaml"``), parsed once per process: the one
    loader of every wording, catalogue and default. Callers must not modify what it returns."""
    import yaml

    with (TEMPLATES_DIR / relative_path).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _catalog(name: str) -> dict[str, dict[str, str]]:
    return load_yaml(f"errors/{name}.yaml")


def error_text(catalog: str, key: str, locale: str = "vi", **values: object) -> str:
    """A message from ``templates/errors/<catalog>.yaml`` in the locale, with values filled in."""
    return _catalog(catalog)[key][locale].format(**values)
