"""User text inside Markdown (Prefect artifacts, the approval form's description, reports): shown as the
words it is, never as Markdown.

An item named ``A | B`` would add a column to the table approvers read; ``![x](http://…)`` would make the
browser fetch an outside address when the run page opens; ``[a](javascript:…)`` would put a script link
on the page. `md_text` escapes every character that starts a Markdown construct inline (emphasis, code,
links, images, HTML, tables, strikethrough), breaks bare URLs so no autolink forms, escapes what would
start a block at the beginning of a line, and turns line breaks into spaces so a value stays in its table
cell or list item.

Markdown templates (``*.md.j2``) apply `md_text` to every ``{{ … }}`` they print (``templates.environment``);
text written by us that must stay Markdown is wrapped in `Markdown`.
"""

from __future__ import annotations

import re

from tasks.common.text import normalize_text


class Markdown(str):
    """Markdown written by the project itself: printed as it is by the Markdown templates."""


_INLINE = re.compile(r"([\\`*_\[\]<>|~!()])")
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(//)")  # http://, javascript://: no autolink
_WWW = re.compile(r"(?i)\b(www)\.")
_BLOCK_START = re.compile(r"^(\s*)([#+\-=>]|\d+[.)])(?=\s|$)")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c]+")


def md_text(value: object) -> Markdown:
    """``value`` as literal text inside Markdown: one line, every Markdown character escaped."""
    if isinstance(value, Markdown):
        return value
    text = _LINE_BREAKS.sub(" ", normalize_text(str(value)))
    text = _INLINE.sub(r"\\\1", text)
    text = _URL.sub(r"\1\\:\2", text)
    text = _WWW.sub(r"\1\\.", text)
    text = _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return Markdown(text)


def md_code(value: object) -> Markdown:
    """``value`` for inside a code span (between backticks, where escapes are not read): one line, no
    backtick."""
    return Markdown(_LINE_BREAKS.sub(" ", normalize_text(str(value))).replace("`", "'"))


_LABEL_BREAKERS = re.compile(r"[\\\[\]<>`]")


def md_label(value: object) -> Markdown:
    """``value`` as the text of a link we write (``[label](url)``): one line, without the characters that
    could close or nest the link (brackets, backslash, angle brackets, backticks). Not backslash-escaped:
    the Prefect UI prints a link's text as it is, backslashes included."""
    return Markdown(_LABEL_BREAKERS.sub("", _LINE_BREAKS.sub(" ", normalize_text(str(value)))))


def md_finalize(value: object) -> object:
    """What a Markdown template prints for ``{{ value }}``: text escaped by `md_text`; numbers, None and
    `Markdown` as they are."""
    if isinstance(value, Markdown) or not isinstance(value, str):
        return value
    return md_text(value)
