"""The hostile-text matrix: strings an audited party can write, the fields that carry them,
the output kinds that show them, and each output's strict consumer.

A *field* builds a judged ``AuditResult`` whose one endpoint carries the string where
that field lives (through the real parser or model seam where there is one); an
*output* renders it; a *consumer* reads the output as its real reader would (a terminal
emulator, ``csv``, a CommonMark parser, a strict XML parser, ``json``, the SARIF
schema, Slack's escaping rule) and fails on anything the string did to it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import cache
from html.parser import HTMLParser
from typing import Any

from residency.audit.groups import endpoint_groups
from residency.drift import DriftEvent, DriftKind
from residency.endpoints.errors import InvalidEntry
from residency.endpoints.har import read_har
from residency.endpoints.interface import ReadOptions
from residency.endpoints.normalise import normalise_host
from residency.model import (
    AuditResult,
    CertInfo,
    ChainStep,
    Confidence,
    DataVersion,
    Endpoint,
    EndpointResult,
    Evidence,
    EvidenceKind,
    InputProblem,
    IpFacts,
    Location,
    ObservedAddress,
    Operator,
    Outcome,
    Place,
    ProbeResult,
    Registrant,
    Registration,
    Resolution,
    ResolvedAddress,
)
from residency.policy import apply_policy
from residency.policy.errors import PolicyInvalid
from residency.probe.controller import controller_for
from residency.report import OutputFormat, RenderOptions, render
from residency.report.common import chain_text, location_text, operator_text
from residency.report.controller_text import controller_text, registrant_text
from residency.report.ip_output import render_ip_facts
from tests.policy.factories import policy

TODAY = date(2026, 12, 1)
HOST = "app.example.com"
IP = "192.0.2.10"

#: Strings an audited party can write, each a known way to turn text into markup.
HOSTILE: dict[str, str] = {
    "csi-clear": "Evil\x1b[2J\x1b[HCorp",
    "osc8-link": "\x1b]8;;http://evil.example/\x1b\\Trusted Bank\x1b]8;;\x1b\\",
    "osc0-title": "Corp\x1b]0;pwned title\x07",
    "esc-c-reset": "\x1bc\x1b(0RESET",
    "rich-link": "[link=http://evil.example]click[/link] regio[.NET] [bold red]x",
    "bidi": "Good Corp \u202eLTD evil\u202c",
    "zero-width": "C\u200bN\u200d\ufeff\u2060Corp",
    "lone-surrogate": "lone \ud800 surrogate",
    "formula-eq": '=HYPERLINK("http://evil.example","x")',
    "formula-plus": "+Net & Telecom",
    "formula-minus": "-Reserved AS-",
    "formula-at": "@Inet Technology Consultancy B.V.",
    "formula-tab": "\t=1+1",
    "cdata-end": "]]><x/>",
    "script": "<script>alert(1)</script>",
    "md-image": "![x](http://evil.example/t.png)",
    "md-link": "[click](http://evil.example) http://evil.example www.evil.example a@evil.example",
    "details-close": "</details><img src=x onerror=alert(1)>",
    "backticks": "a`b``c```d",
    "newline": "Evil\nresidency: PASS all good\r\n- forged\n# forged",
    "xml-illegal": "x\x01\x08\x0b\x0c\ufffe\uffff\x7f\x85y",
    "long": "A" * 5000,
    "slack": "<!channel> <http://evil.example|click> &amp;",
}

#: What every field carries when the string is harmless: the shape to compare against.
BENIGN = "Benign Org"

_POLICY = """
name = {name}
version = {version}
description = {description}
unknown_controller = "warn"
[countries]
allow = ["GB", "DE", "US"]
[controllers]
deny = ["CN"]
[[rules]]
name = {name}
hosts = ["app.example.com"]
[rules.countries]
allow = ["GB", "DE"]
[[waivers]]
host = "waived.example.com"
justification = {description}
owner = {description}
expires = 2027-03-31
"""


def toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` (JSON's escapes are TOML's)."""
    return json.dumps(text)


def _facts(
    *, org: str = "EXAMPLE-NET", registered: str = "Example Networks Ltd", city: str = "London"
) -> IpFacts:
    place = Place("GB", None, city)
    return IpFacts(
        ip=IP,
        routable=True,
        location=Location(place, Confidence.MEDIUM, "geofeed"),
        asn=64500,
        as_org=org,
        evidence=(
            Evidence("example-geofeed", EvidenceKind.GEOFEED, "2026-11-01", "192.0.2.0/24", place),
            Evidence("asn", EvidenceKind.ASN, "2026-11", asn=64500, org=org),
        ),
        operator=Operator(None),
        registration=Registration(
            "known", org=registered, country="GB", rir="ripencc", cidr="192.0.2.0/24"
        ),
    )


def _endpoint(
    facts: IpFacts | None = None,
    *,
    chain: tuple[ChainStep, ...] = (),
    endpoint: Endpoint | None = None,
    probes: tuple[ProbeResult, ...] = (),
    registrant: Registrant | None = None,
) -> EndpointResult:
    shown = facts or _facts()
    resolution = Resolution(
        HOST,
        Outcome.RESOLVED,
        chain=chain,
        addresses=(ResolvedAddress(IP, 60, "A"),),
        resolver="127.0.0.1:53",
        when="2026-12-01T09:00:00Z",
    )
    return EndpointResult(
        endpoint=endpoint or Endpoint(HOST, HOST, "list.txt:1"),
        resolutions=(resolution,),
        facts=(shown,),
        probes=probes,
        controller=controller_for(HOST, probes, None, registrant),
        registrant=registrant,
    )


def _tls(subject_o: str, subject_c: str) -> tuple[ProbeResult, ...]:
    cert = CertInfo(subject_o=subject_o, subject_c=subject_c, validation="ov", issuer="CN=Test CA")
    return (ProbeResult("tls", IP, 443, "ok", verified=True, cert=cert),)


def _har(title: str) -> tuple[EndpointResult, tuple[str, ...]]:
    document = {
        "log": {
            "pages": [{"id": "page_1", "title": title}],
            "entries": [
                {
                    "pageref": "page_1",
                    "startedDateTime": "2026-12-01T09:00:00Z",
                    "request": {"method": "GET", "url": f"https://{HOST}/"},
                    "serverIPAddress": IP,
                },
                {
                    "pageref": "page_1",
                    "request": {"method": "GET", "url": "https://other.example.com/"},
                },
            ],
        }
    }
    targets = read_har(document, "capture.har", ReadOptions())
    chosen = next(e for e in targets.endpoints if e.host == HOST)
    return _endpoint(endpoint=chosen), targets.notes


def _zone_id(text: str) -> tuple[EndpointResult | None, tuple[InputProblem, ...]]:
    entry = f"fe80::1%{text}"
    try:
        endpoint = normalise_host(entry, origin="list.txt:2")
    except InvalidEntry as err:  # refused where it is read: shown as an input problem
        return None, (InputProblem(entry, "list.txt:2", str(err)),)
    return _endpoint(endpoint=endpoint), ()


def _crawled(field: str, text: str) -> Endpoint:
    """The endpoint as a crawl saw it, ``text`` as the page's URL, its title or the initiator
    (a crawled page writes all three)."""
    seen = ObservedAddress(
        IP,
        context="crawl",
        page=text if field == "crawl-page" else f"https://{HOST}/",
        page_title=text if field == "crawl-title" else "Shop",
        phase="after consent (accept)",
        party="third party",
        initiator=text if field == "crawl-initiator" else f"script https://{HOST}/app.js",
    )
    return Endpoint(HOST, HOST, "crawl", observed=(seen,))


def build(field: str, text: str) -> AuditResult:
    """The judged audit whose endpoint carries ``text`` in ``field``."""
    endpoints: list[EndpointResult] = []
    notes: tuple[str, ...] = ()
    problems: tuple[InputProblem, ...] = ()
    policy_text = _POLICY.format(
        name=toml_string("data-residency"), version=toml_string("3"), description='"x"'
    )
    if field == "rdap-org":
        endpoints.append(_endpoint(_facts(registered=text)))
    elif field == "as-org":
        endpoints.append(_endpoint(_facts(org=text)))
    elif field == "cert-o":
        endpoints.append(_endpoint(probes=_tls(text, "GB")))
    elif field == "cert-c":
        endpoints.append(_endpoint(probes=_tls("Example Ltd", text)))
    elif field == "registrant":
        registrant = Registrant("example.com", "known", org=text, country="GB", server="rdap.test")
        endpoints.append(_endpoint(registrant=registrant))
    elif field == "rdap-error":
        unknown = Registration("unknown", reason=f"RDAP error from rdap.test: {text}")
        endpoints.append(_endpoint(replace(_facts(), registration=unknown)))
    elif field == "geofeed-city":
        endpoints.append(_endpoint(_facts(city=text)))
    elif field == "har-title":
        endpoint, notes = _har(text)
        endpoints.append(endpoint)
    elif field == "cname-target":
        chain = (ChainStep(HOST, "CNAME", text, 300), ChainStep(text, "A", IP, 60))
        endpoints.append(_endpoint(chain=chain))
    elif field == "zone-id":
        found, problems = _zone_id(text)
        endpoints += [found] if found else []
    elif field.startswith("crawl-"):
        endpoints.append(_endpoint(endpoint=_crawled(field, text)))
    elif field == "policy-strings":
        quoted = toml_string(text)
        policy_text = _POLICY.format(name=quoted, version=quoted, description=quoted)
    else:
        raise AssertionError(f"unknown field {field}")
    endpoints.append(_endpoint(endpoint=Endpoint("waived.example.com", "waived.example.com")))
    audit = AuditResult(
        run_id="run-1",
        started="2026-12-01T09:00:00Z",
        finished="2026-12-01T09:00:01Z",
        endpoints=tuple(endpoints),
        data_versions=(DataVersion("example-geofeed", "2026-11-01"),),
        problems=problems,
        notes=notes,
        groups=endpoint_groups(endpoints),
    )
    try:
        judging = policy(policy_text, "hostile.toml")
    except PolicyInvalid:
        # refused where it is read (TOML cannot hold a lone surrogate): judged by a plain one
        judging = policy(_POLICY.format(name='"p"', version='"1"', description='"x"'))
    return apply_policy(judging, audit, TODAY)


FIELDS = (
    "rdap-org",
    "as-org",
    "cert-o",
    "cert-c",
    "registrant",
    "rdap-error",
    "geofeed-city",
    "har-title",
    "cname-target",
    "zone-id",
    "policy-strings",
    "crawl-page",
    "crawl-title",
    "crawl-initiator",
)


@cache
def built(field: str, name: str) -> AuditResult:
    return build(field, HOSTILE[name] if name != "benign" else BENIGN)


# ----------------------------------------------------------------------- outputs


def drift_detail(endpoint: EndpointResult) -> str:
    """A drift event's text carrying the endpoint's texts, as stored drift details do."""
    facts = endpoint.facts[0] if endpoint.facts else None
    texts = [
        chain_text(endpoint),
        location_text(facts) if facts else "",
        operator_text(facts) if facts else "",
        controller_text(endpoint),
        registrant_text(endpoint),
        endpoint.endpoint.display,
    ]
    return "controller changed: " + " · ".join(t for t in texts if t)


def slack_payload(result: AuditResult) -> str:
    """The Slack body for drift events that carry the endpoint's texts."""
    from residency.monitor.alerts import WebhookSink

    events = []
    for index, endpoint in enumerate(result.endpoints):
        detail = drift_detail(endpoint)
        host = endpoint.endpoint.host
        at = "2026-12-01T09:00:00Z"
        kind = DriftKind.VERDICT_CHANGED
        events.append(
            DriftEvent(index + 1, host, host, "run-1", at, kind, IP, "PASS", "FAIL", detail)
        )
    sink = WebhookSink("https://hooks.invalid/x", None, slack=True)  # type: ignore[arg-type]
    return json.dumps(sink.payload(events), ensure_ascii=False)


def compliance_document(result: AuditResult) -> Any:
    """The compliance report's model (``residency report``) over a history holding the
    audit: the same texts, as the store gives them back."""
    from residency.report.compliance import (
        AddressAt,
        ComplianceDocument,
        Drift,
        EndpointSection,
        Stretch,
        Waiver,
    )

    assert result.policy is not None
    policy_name = f"{result.policy.name} {result.policy.version}"
    versions = tuple((v.dataset, v.version) for v in result.data_versions)
    sections = []
    for endpoint in result.endpoints:
        verdict = endpoint.verdict.verdict.name if endpoint.verdict else "NOT JUDGED"
        addresses = tuple(
            AddressAt(
                f.ip,
                f.location.country,
                f.as_org,
                f.location.place and f.location.place.city,
                verdict,
            )
            for f in endpoint.facts
        )
        at = "2026-12-01T09:00:00Z"
        stretch = Stretch(at, at, 1, verdict, policy_name, versions, addresses, ())
        drift = Drift(at, "controller", IP, "a", "b", drift_detail(endpoint), "run-1", versions)
        sections.append(
            EndpointSection(
                endpoint.endpoint.display,
                endpoint.endpoint.host,
                1,
                1,
                1,
                1.0,
                verdict,
                "",
                (stretch,),
                (drift,),
                (Waiver(endpoint.endpoint.display, at, at, policy_name),),
            )
        )
    return ComplianceDocument(at, at, (policy_name,), tuple(sections), "")


def compliance(fmt: str) -> Callable[[AuditResult], str]:
    def render_compliance(result: AuditResult) -> str:
        from residency.report.compliance import render as render_document
        from residency.report.interface import ComplianceFormat

        return render_document(compliance_document(result), ComplianceFormat(fmt))

    return render_compliance


def ip_text(result: AuditResult) -> str:
    return "\n".join(render_ip_facts(f) for e in result.endpoints for f in e.facts) + "\n"


OUTPUTS: dict[str, Callable[[AuditResult], str]] = {
    "terminal": lambda r: render(r, OutputFormat.TERMINAL, RenderOptions(color=True, width=120)),
    "terminal-v": lambda r: render(
        r, OutputFormat.TERMINAL, RenderOptions(color=True, verbose=True)
    ),
    "terminal-details": lambda r: render(
        r, OutputFormat.TERMINAL, RenderOptions(color=True, details=HOST)
    ),
    "ip": ip_text,
    "json": lambda r: render(r, OutputFormat.JSON),
    "jsonl": lambda r: render(r, OutputFormat.JSONL),
    "csv": lambda r: render(r, OutputFormat.CSV),
    "markdown": lambda r: render(r, OutputFormat.MARKDOWN),
    "html": lambda r: render(r, OutputFormat.HTML),
    "sarif": lambda r: render(r, OutputFormat.SARIF),
    "junit": lambda r: render(r, OutputFormat.JUNIT),
    "slack": slack_payload,
    "report-markdown": compliance("markdown"),
    "report-csv": compliance("csv"),
    "report-html": compliance("html"),
    "report-json": compliance("json"),
}


# ---------------------------------------------------------------------- consumers

#: The only escape sequences residency writes itself: colours (SGR).
SGR = re.compile(r"\x1b\[[0-9;]*m")
#: Lines no hostile text may start (forged verdicts, notes, list items, headings).
FORGED = ("residency: PASS", "- forged", "# forged")


def hidden(char: str) -> bool:
    """Controls, format (bidi, zero-width), separators, surrogates and non-characters."""
    code = ord(char)
    return (
        unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp", "Cs"}
        or 0xFDD0 <= code <= 0xFDEF
        or (code & 0xFFFE) == 0xFFFE
    )


def hidden_chars(text: str, allowed: str = "\n") -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if hidden(c) and c not in allowed})


def check_encodable(text: str) -> None:
    text.encode("utf-8")  # strict: an unpaired surrogate raises here, as it would on write


def check_terminal(text: str, exact: bool = True) -> None:
    """Through a terminal emulator: no sequence but residency's colours, no forged line,
    the title and character set untouched, the screen exactly the text's lines."""
    import pyte

    check_encodable(text)
    plain = SGR.sub("", text)
    assert not hidden_chars(plain), f"hidden characters reach the terminal: {hidden_chars(plain)}"
    lines = plain.split("\n")
    screen = pyte.Screen(max(80, *(len(line) + 1 for line in lines)), len(lines) + 1)
    stream = pyte.Stream(screen)
    stream.feed(text.replace("\n", "\r\n"))
    assert screen.title == "" and screen.icon_name == ""
    assert screen.charset == 0 and screen.g0_charset == pyte.charsets.LAT1_MAP
    shown = [row.rstrip() for row in screen.display]
    if exact:  # (wide and combining characters take other than one cell each: not compared)
        assert shown[: len(lines)] == [line.rstrip() for line in lines], "the screen was changed"
    forged = [row for row in shown if row.lstrip().startswith(FORGED)]
    assert not forged, f"forged lines: {forged}"


def check_csv(text: str, benign: str, exact: bool = True) -> None:
    check_encodable(text)
    rows = list(csv.reader(io.StringIO(text)))
    if exact:
        assert len(rows) == len(list(csv.reader(io.StringIO(benign)))), "a forged or lost row"
    assert all(len(row) == len(rows[0]) for row in rows), "a forged cell"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), f"formula {cell!r}"
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@")), f"formula {cell!r}"
            assert not hidden_chars(cell, ""), f"hidden characters in a cell: {cell!r}"


def _markdown_tokens(text: str) -> tuple[list[str], list[str]]:
    """The document's shape (token types, runs of text as one) and its markup: every
    link and image target and every raw HTML piece."""
    from markdown_it import MarkdownIt

    shape: list[str] = []
    markup: list[str] = []
    for token in MarkdownIt("commonmark").parse(text):
        shape.append(token.type)
        for item in (token, *(token.children or ())):
            if item.type in ("html_block", "html_inline"):
                markup.append(item.content.strip())
            elif item.type in ("link_open", "image"):
                markup.append(f"{item.type} {item.attrGet('href') or item.attrGet('src')}")
            if item is not token and (item.type != "text" or shape[-1] != "text"):
                shape.append(item.type)
    return shape, markup


def check_markdown(text: str, benign: str, exact: bool = True) -> None:
    """CommonMark: no link, image or HTML but residency's own (``<details>``), and the
    same blocks, lists, tables and code spans as when the field holds a harmless string."""
    check_encodable(text)
    shape, markup = _markdown_tokens(text)
    benign_shape, benign_markup = _markdown_tokens(benign)
    assert markup == benign_markup, f"markup from text: {set(markup) - set(benign_markup)}"
    assert shape == benign_shape or not exact, "the document's structure changed"
    assert not hidden_chars(text), f"hidden characters: {hidden_chars(text)}"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)


def _html_tags(text: str) -> list[str]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def check_html(text: str, benign: str, exact: bool = True) -> None:
    check_encodable(text)
    tags, benign_tags = _html_tags(text), _html_tags(benign)
    if exact:
        assert tags == benign_tags, "the document's elements changed"
    else:  # another text may leave an element out, never bring one in
        assert set(tags) <= set(benign_tags), f"elements from text: {set(tags) - set(benign_tags)}"
        assert tags.count("script") == benign_tags.count("script"), "a script from text"
    assert not hidden_chars(text), f"hidden characters: {hidden_chars(text)}"


def check_junit(text: str, result: AuditResult) -> None:
    check_encodable(text)
    root = ET.fromstring(text.encode("utf-8"))  # expat: strict about XML 1.0 characters
    assert len(root.findall(".//testcase")) == len(result.endpoints)
    assert not hidden_chars(text), f"hidden characters: {hidden_chars(text)}"


def check_json(text: str) -> Any:
    check_encodable(text)
    return json.loads(text)


def check_jsonl(text: str, result: AuditResult) -> None:
    check_encodable(text)
    lines = text.splitlines()
    assert len(lines) == len(result.endpoints) + 1
    for line in lines:
        json.loads(line)


@cache
def sarif_schema() -> Any:
    from tests.support import shared

    return json.loads(shared("schemas", "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def check_sarif(text: str) -> None:
    import jsonschema

    jsonschema.validate(check_json(text), sarif_schema())


def check_slack(text: str, result: AuditResult) -> None:
    """Slack's rule: ``& < >`` are escaped, so ``<...>`` (links, pings) is only ours."""
    body = check_json(text)["text"]
    assert "<" not in body and ">" not in body, "a Slack control sequence from text"
    assert not re.search(r"&(?!amp;|lt;|gt;)", body), "a bare & from text"
    assert len(body.split("\n")) == len(result.endpoints) + 1, "a forged line"
    assert not hidden_chars(body), f"hidden characters: {hidden_chars(body)}"


#: Shown text is capped: no output for people holds this much of one string.
TOO_LONG = "A" * 2001


def check(output: str, text: str, result: AuditResult, benign: str, exact: bool = True) -> None:
    """The strict consumer of ``output`` (an OUTPUTS key) reading ``text``; ``exact=False``
    (arbitrary text) leaves out the comparisons of shape with ``benign``."""
    if output not in ("json", "jsonl", "sarif", "report-json"):
        assert TOO_LONG not in text, "a 5,000-character text shown whole"
    if output.startswith("terminal") or output == "ip":
        check_terminal(text, exact)
        # the colours are residency's own: the same as with harmless text (arbitrary text
        # may change the verdict, and so its colour; the matrix's rich-markup strings
        # are the ones that would bring colours of their own)
        if exact:
            assert SGR.findall(text) == SGR.findall(benign), "colours from text"
    elif output in ("csv", "report-csv"):
        check_csv(text, benign, exact)
    elif output in ("markdown", "report-markdown"):
        check_markdown(text, benign, exact)
    elif output in ("html", "report-html"):
        check_html(text, benign, exact)
    elif output == "report-json":
        check_json(text)
    elif output == "junit":
        check_junit(text, result)
    elif output == "json":
        check_json(text)
    elif output == "jsonl":
        check_jsonl(text, result)
    elif output == "sarif":
        check_sarif(text)
    elif output == "slack":
        check_slack(text, result)
    else:
        raise AssertionError(f"no consumer for {output}")
