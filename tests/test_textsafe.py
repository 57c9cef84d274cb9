"""The escapers of residency.textsafe, one output kind at a time."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from markdown_it import MarkdownIt

from residency import textsafe


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain ASCII", "plain ASCII"),
        ("Zürich 東京", "Zürich 東京"),
        ("a\x1b[2Jb", "a<U+001B>[2Jb"),
        ("line\nnext\r", "line<U+000A>next<U+000D>"),
        ("Good \u202eLTD\u202c", "Good <U+202E>LTD<U+202C>"),
        ("C\u200bN\ufeff", "C<U+200B>N<U+FEFF>"),
        ("\x85\u2028\u2029", "<U+0085><U+2028><U+2029>"),
        ("lone \ud800", "lone <U+D800>"),
        ("\ufffe\uffff\ufdd0\U0001fffe", "<U+FFFE><U+FFFF><U+FDD0><U+1FFFE>"),
    ],
)
def test_visible_writes_hidden_characters_as_code_points(text: str, shown: str) -> None:
    assert textsafe.visible(text) == shown


def test_cap_marks_the_cut() -> None:
    assert textsafe.cap("abcdef", 4) == "abc…" and textsafe.cap("abcd", 4) == "abcd"
    assert len(textsafe.terminal("A" * 5000)) == textsafe.LIMIT


@pytest.mark.parametrize(
    "cell", ["=1+1", "+Net & Telecom", "-Reserved AS-", "@Inet", "\t=1", "\r=1", "  =1"]
)
def test_csv_cells_that_would_be_formulas_are_prefixed(cell: str) -> None:
    safe = textsafe.csv_cell(cell)
    # prefixed, or (tab, CR) made visible first: either way no spreadsheet reads a formula
    assert isinstance(safe, str) and safe.startswith(("'", "<U+0009>", "<U+000D>"))
    out = io.StringIO()
    csv.writer(out).writerow([safe])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [safe]


def test_csv_leaves_numbers_and_plain_text() -> None:
    assert textsafe.csv_cell(64500) == 64500
    assert textsafe.csv_cell("Example Ltd") == "Example Ltd"
    assert textsafe.csv_cell("x=1") == "x=1"


def _inline_types(text: str) -> set[str]:
    tokens = MarkdownIt("commonmark").parse(text)
    return {t.type for t in tokens} | {c.type for t in tokens for c in t.children or ()}


@pytest.mark.parametrize(
    "text",
    [
        "![x](http://evil.example/t.png)",
        "[click](http://evil.example)",
        "<img src=x onerror=alert(1)>",
        "</details>",
        "<http://evil.example>",
        "&lt;script&gt;",
        "*bold* _em_ `code`",
        "| cell |",
    ],
)
def test_markdown_text_is_only_text(text: str) -> None:
    safe = textsafe.markdown(text)
    assert _inline_types(f"- {safe}") <= {
        "bullet_list_open", "list_item_open", "paragraph_open", "inline", "text",
        "paragraph_close", "list_item_close", "bullet_list_close",
    }  # fmt: skip
    rendered = MarkdownIt("commonmark").renderInline(safe)
    assert "<" not in rendered.replace("&lt;", "")


@pytest.mark.parametrize("text", ["a`b", "``x``", "`", "plain", "ends with `"])
def test_markdown_code_span_holds_any_backticks(text: str) -> None:
    tokens = MarkdownIt("commonmark").parseInline(textsafe.markdown_code(text))[0].children
    assert tokens is not None
    assert [t.type for t in tokens] == ["code_inline"] and tokens[0].content == text


def test_a_code_span_in_a_table_cell_keeps_its_pipes_in_the_cell() -> None:
    """GitHub's tables split on ``|`` even inside a code span; ``\\|`` stays in the cell."""
    cell = textsafe.markdown_code("a|b`c", table=True)
    table = f"| x | y |\n|---|---|\n| {cell} | z |\n"
    tokens = MarkdownIt("commonmark").enable("table").parse(table)
    cells = [t for t in tokens if t.type == "inline"]
    assert [t.content for t in cells] == ["x", "y", "``a|b`c``", "z"]
    code = cells[2].children or []
    assert [(t.type, t.content) for t in code] == [("code_inline", "a|b`c")]


def test_xml_holds_only_what_xml_can() -> None:
    element = ET.Element("x", value=textsafe.xml("a\x01\x08\x0b\x0c\ufffe\uffff]]>"))
    element.text = textsafe.xml("\x1b[31m<![CDATA[")
    parsed = ET.fromstring(ET.tostring(element, encoding="utf-8"))
    assert parsed.get("value") == "a<U+0001><U+0008><U+000B><U+000C><U+FFFE><U+FFFF>]]>"


def test_slack_escapes_its_three_characters() -> None:
    assert textsafe.slack("<!channel> <http://evil|click> & co") == (
        "&lt;!channel&gt; &lt;http://evil|click&gt; &amp; co"
    )


def test_html_escapes_after_making_bidi_visible() -> None:
    assert textsafe.html('Good \u202e<b>"x"') == "Good &lt;U+202E&gt;&lt;b&gt;&quot;x&quot;"


def test_terminal_markup_is_not_rich_markup() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=200, highlight=False)
    console.print(textsafe.terminal_markup("[link=http://evil.example]x[/link] regio[.NET]"))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert out == "[link=http://evil.example]x[/link] regio[.NET]\n"  # no OSC 8, no style


def test_json_line_keeps_one_object_on_one_line() -> None:
    text = textsafe.json_line(json.dumps({"a": "x\x85\u2028\u2029y"}, ensure_ascii=False))
    assert len(text.splitlines()) == 1 and json.loads(text) == {"a": "x\x85\u2028\u2029y"}
