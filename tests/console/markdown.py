"""Artifact Markdown read the way a Markdown renderer reads it (markdown-it-py, tables on): the tables it
really makes, the links it really finds. A table whose rows run together is not a table here."""

from __future__ import annotations

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark").enable("table")


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table: its rows (header first), each a list of the cells' text."""
    found: list[list[list[str]]] = []
    row: list[str] | None = None
    tokens = _PARSER.parse(markdown)
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            inline = tokens[index + 1]
            assert row is not None
            row.append(inline.content if inline.type == "inline" else "")
        elif token.type == "tr_close":
            assert row is not None
            found[-1].append(row)
    return found


def links(markdown: str) -> dict[str, str]:
    """Every link: its text → its address."""
    found: dict[str, str] = {}
    for token in _PARSER.parse(markdown):
        children = token.children or []
        for index, child in enumerate(children):
            if child.type == "link_open":
                text = children[index + 1].content if index + 1 < len(children) else ""
                found[text] = str(child.attrs["href"])
    return found
