"""Links we write into Markdown artifacts: the Prefect UI prints a link's text as it is (backslashes
included; checked in the UI: `[KH2027\\_a](…)` shows the backslash), so link text is cleaned, not escaped,
and the address is ours, printed as it is."""

from __future__ import annotations

from markdown_it import MarkdownIt

from templates import environment


def _links(markdown: str) -> list[tuple[str, str]]:
    found = []
    for block in MarkdownIt("commonmark").parse(markdown):
        children = block.children or []
        for i, token in enumerate(children):
            if token.type == "link_open":
                found.append((children[i + 1].content, str(token.attrs["href"])))
    return found


def test_link_text_has_no_backslashes_and_the_address_is_kept() -> None:
    template = environment().markdown.from_string(
        "[{{ name | md_label }}]({{ url | markdown }}) and {{ name }}"
    )
    url = "http://127.0.0.1:8080/files/eyJmIjoi.abc_def"
    shown = template.render(name="KH2027_tong-hop_2026-12-06.xlsx", url=url)
    assert _links(shown) == [("KH2027_tong-hop_2026-12-06.xlsx", url)]
    assert "\\" not in shown.split(")")[0]


def test_a_hostile_name_cannot_open_another_link() -> None:
    template = environment().markdown.from_string("[{{ name | md_label }}]({{ url | markdown }})")
    shown = template.render(name="x](javascript:alert(1)) [y", url="http://example.org/f")
    assert [href for _text, href in _links(shown)] == ["http://example.org/f"]
