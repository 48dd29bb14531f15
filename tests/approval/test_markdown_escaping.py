"""User text in the approval form's Markdown stays text (issue 16, finding 5): a ``|`` keeps the table's
columns, ``![x](http://…)`` is no image, ``[a](javascript:…)`` no link, ``<img …>`` no HTML. Checked with
a real Markdown parser (markdown-it-py, CommonMark with tables, HTML allowed as Prefect's renderer does)."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from sqlmodel import Session, select

from models import PlanItem
from tasks.approval.chain import configure_chain, list_stages
from tasks.approval.reports import decision_request_markdown
from tasks.approval.versions import freeze_version
from tasks.common.markdown import md_text
from tests.approval.world import build_world, chain

HOSTILE = [
    "Phần mềm A | B | C",
    "![x](http://attacker.invalid/p.png)",
    "[bấm vào đây](javascript:alert(1))",
    '<img src="http://attacker.invalid/q.png" onerror="alert(1)">',
    "Tên *nhấn* _x_ `mã` ~~gạch~~\n# Tiêu đề giả\n| a | b |",
    "Xem www.attacker.invalid hoặc http://attacker.invalid/x",
]


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _all(tokens: list[Token]) -> list[Token]:
    out = []
    for token in tokens:
        out.append(token)
        out.extend(_all(token.children or []))
    return out


def _tables(tokens: list[Token]) -> list[list[list[str]]]:
    """Every table as rows of cell texts (header row first)."""
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            tables[-1].append(row or [])
        elif token.type in ("th_open", "td_open"):
            inline = tokens[index + 1]
            text = "".join(
                t.content for t in _all(inline.children or []) if t.type in ("text", "code_inline")
            )
            assert row is not None
            row.append(text)
    return tables


@pytest.fixture
def markdown(session: Session) -> str:
    world = build_world(session)
    items = session.exec(select(PlanItem).where(PlanItem.cycle_id == world.cycle.id)).all()
    for item, name in zip(items, HOSTILE, strict=False):
        item.name = name
        session.add(item)
    session.commit()
    configure_chain(session=session, cycle=world.cycle, stages=chain(world), actor="test")
    version = freeze_version(session=session, cycle=world.cycle, reason="circulation", actor="test")
    stage = list_stages(session=session, cycle=world.cycle)[0]
    return decision_request_markdown(
        session=session,
        cycle=world.cycle,
        version=version,
        stage=stage,
        problems=["Dòng 3: «![y](http://attacker.invalid/r.png)» không hợp lệ"],
        findings=[],
        workbook_name="phu_luc_[1].xlsx",
    )


def test_user_text_in_the_approval_form_is_text(markdown: str) -> None:
    tokens = _parser().parse(markdown)
    kinds = {t.type for t in _all(tokens)}
    assert not kinds & {"image", "link_open", "html_inline", "html_block", "s_open", "em_open"}, kinds
    assert "attacker.invalid" in markdown  # shown as words
    for table in _tables(tokens):
        widths = {len(row) for row in table}
        assert len(widths) == 1, table  # no row has more or fewer cells than the header
    items_table = next(t for t in _tables(tokens) if len(t[0]) > 3 and "Nhiệm vụ, dự án" in t[0])
    names = [row[1] for row in items_table[1:]]
    assert "Phần mềm A | B | C" in names
    assert "![x](http://attacker.invalid/p.png)" in names
    headings = [t for t in tokens if t.type == "heading_open"]
    assert len(headings) == len([line for line in markdown.splitlines() if line.startswith("#")])


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_is_one_line_of_literal_text(text: str) -> None:
    rendered = _parser().render(f"| a |\n|---|\n| {md_text(text)} |\n")
    assert "<img" not in rendered and "<a " not in rendered and "<em>" not in rendered
    assert rendered.count("<td>") == 1
