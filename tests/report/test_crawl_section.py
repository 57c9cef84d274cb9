"""The crawl section (issue 22): grouped once by page and consent phase
(report/crawl_section.py), rendered by the terminal, Markdown and HTML formatters."""

from __future__ import annotations

from dataclasses import replace

from markdown_it import MarkdownIt

from residency.model import AuditResult, Endpoint, ObservedAddress
from residency.policy import apply_policy
from residency.report import OutputFormat, RenderOptions, render
from residency.report.crawl_section import crawl_section
from tests.policy.factories import policy
from tests.report.sample import POLICY, TODAY, unjudged

PAGE = "https://www.shop.example.com/"
BEFORE = "before consent"
AFTER = "after consent (accept)"


def crawled() -> AuditResult:
    """The sample audit whose first three endpoints a crawl of one page saw: the first
    before consent (first party), the second before and after, the third only after."""
    audit = unjudged()
    plan = [
        [(BEFORE, "first party")],
        [(BEFORE, "third party"), (AFTER, "third party")],
        [(AFTER, "third party")],
    ]
    changed = []
    for endpoint, seen in zip(audit.endpoints, plan, strict=False):
        ip = endpoint.facts[0].ip if endpoint.facts else "192.0.2.1"
        observed = tuple(
            ObservedAddress(
                ip,
                context="crawl",
                page=PAGE,
                page_title="Shop | home",
                phase=phase,
                party=party,
                initiator=f"script {PAGE}app.js?a|b",
            )
            for phase, party in seen
        )
        changed.append(replace(endpoint, endpoint=replace(endpoint.endpoint, observed=observed)))
    audit = replace(audit, endpoints=(*changed, *audit.endpoints[3:]))
    return apply_policy(policy(POLICY, "shop-residency.toml"), audit, TODAY)


def hosts(result: AuditResult) -> list[str]:
    return [e.endpoint.host for e in result.endpoints[:3]]


def test_the_crawl_is_grouped_by_page_then_phase_before_consent_first() -> None:
    result = crawled()
    first, second, third = hosts(result)
    section = crawl_section(result)
    assert section is not None
    assert [(g.page, g.phase) for g in section.groups] == [(PAGE, BEFORE), (PAGE, AFTER)]
    before, after = section.groups
    assert {s.host for s in before.sightings} == {first, second}
    assert (before.hosts, before.third_party) == (2, 1)
    assert (after.hosts, after.third_party) == (2, 2)
    assert before.title == "Shop | home"
    assert section.only_after_consent == {third}
    assert crawl_section(unjudged()) is None


def test_the_terminal_summary_lists_each_page_and_phase_within_the_width() -> None:
    result = crawled()
    first, second, third = hosts(result)
    for width in (80, 120):
        text = render(result, OutputFormat.TERMINAL, RenderOptions(color=False, width=width))
        lines = text.splitlines()
        start = lines.index("Crawl: by page and consent phase (-v: addresses, initiators)")
        section = lines[start:]
        assert all(len(line) <= width for line in lines)
        assert section[1].startswith(f'{PAGE} "Shop |')  # the page cut first, the counts kept
        assert section[1].endswith(" · before consent: 2 hosts, 1 third party")
        before = " ".join(section[2 : section.index(next(x for x in section[3:] if "·" in x))])
        assert f"third party: {second}" in before and f"first party: {first}" in before
        assert third not in before
        assert f"{third} (" in text and "only after consent)" in text
    unseen = render(unjudged(), OutputFormat.TERMINAL, RenderOptions(color=False, width=80))
    assert "Crawl:" not in unseen


def test_the_verbose_terminal_report_keeps_each_hosts_address_and_initiator() -> None:
    result = crawled()
    text = render(result, OutputFormat.TERMINAL, RenderOptions(color=False, verbose=True))
    third = result.endpoints[2]
    line = next(x for x in text.splitlines() if x.startswith("  ") and third.endpoint.host in x)
    assert "(only after consent)  third party" in line
    assert f"{third.facts[0].ip}  initiator script {PAGE}app.js?a|b" in line


def test_markdown_has_one_table_per_page_and_phase_whose_rows_keep_their_cells() -> None:
    """A pipe in an initiator stays in its cell on GitHub (tables split on pipes even in
    code spans); read with markdown-it's GFM-like tables."""
    result = crawled()
    text = render(result, OutputFormat.MARKDOWN)
    assert "### Crawl: by page and consent phase" in text
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    headings = [
        tokens[i + 1].content
        for i, t in enumerate(tokens)
        if t.type == "heading_open"
        and t.tag == "h4"
        and "shop.example.com/" in tokens[i + 1].content
    ]
    assert headings == [
        f"`{PAGE}` Shop \\| home — before consent: 2 hosts, 1 third party",
        f"`{PAGE}` Shop \\| home — after consent (accept): 2 hosts, 2 third party",
    ]
    rows: list[list[str]] = []
    inside = False
    for token in tokens:
        if token.type in ("tr_open", "tr_close"):
            inside = token.type == "tr_open"
            rows += [[]] if inside else []
        elif token.type == "inline" and inside:
            rows[-1].append(token.content)
    crawl_rows = [r for r in rows if any("initiator" in c or "app.js" in c for c in r)]
    assert len(crawl_rows) == 2 + 4  # a header per table, a row per sighting
    assert all(len(r) == 5 for r in crawl_rows)
    assert any("only after consent" in r[1] for r in crawl_rows)


def test_html_names_the_page_title_escaped() -> None:
    result = crawled()
    first = result.endpoints[0]
    seen = replace(first.endpoint.observed[0], page_title="<b>Shop</b>")
    endpoint: Endpoint = replace(first.endpoint, observed=(seen,))
    page = render(
        replace(result, endpoints=(replace(first, endpoint=endpoint),)), OutputFormat.HTML
    )
    assert "&lt;b&gt;Shop&lt;/b&gt;" in page and "<b>Shop</b>" not in page
