"""The JSON report writes the controllers' and the by-controller groups' JSON once per
controller and as ASCII: the same JSON as before, so a report whose other text is ASCII
stays an ASCII string (bench/control.md: one "→" made a 115 MB report a 2-byte string)."""

from __future__ import annotations

import json
from dataclasses import replace

import orjson

from residency.audit.groups import endpoint_groups
from residency.model import AuditResult, Confidence, Controller, OwnerLink
from residency.report import OutputFormat, render, report_dict
from residency.textsafe import json_ascii
from tests.report.sample import unjudged

TELEFONICA = Controller(
    "Telefónica Germany GmbH & Co. OHG",
    "DE",
    "entity-list disconnect 2026-08-07",
    Confidence.LOW,
    "telefonica.de listed",
    parents=(OwnerLink("Telefónica, S.A.", "ES", "organisations.toml"),),
    sources=("entity-list disconnect 2026-08-07",),
)


def controlled(controller: Controller) -> AuditResult:
    result = unjudged()
    endpoints = tuple(replace(e, controller=controller) for e in result.endpoints)
    return replace(result, endpoints=endpoints, groups=endpoint_groups(endpoints))


def plain_json(result: AuditResult) -> str:
    """The report as written before: every dict serialised in place, UTF-8."""
    return orjson.dumps(report_dict(result), option=orjson.OPT_INDENT_2).decode() + "\n"


def test_controllers_and_their_groups_are_ascii_and_the_same_json() -> None:
    result = controlled(TELEFONICA)
    text = render(result, OutputFormat.JSON)
    assert json.loads(text) == json.loads(plain_json(result))
    data = json.loads(text)
    controller = data["endpoints"][0]["controller"]
    assert controller["text"].startswith("Telefónica Germany GmbH & Co. OHG (DE) → Telefónica")
    assert data["groups"][0]["name"] == "Telefónica Germany GmbH & Co. OHG"
    # the controller's and the groups' text is escaped, indented as the rest
    assert "Telef\\u00f3nica" in text and "\\u2192" in text and "→" not in text
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line == '      "controller": {')
    assert lines[at + 1] == '        "entity": "Telef\\u00f3nica Germany GmbH & Co. OHG",'
    # byte for byte the old text once the escapes are read back
    assert json_ascii(plain_json(result).encode()).decode() == json_ascii(text.encode()).decode()


def test_a_lone_surrogate_in_a_controller_is_scrubbed_not_fatal() -> None:
    broken = replace(TELEFONICA, entity="Acme \ud800 GmbH")
    data = json.loads(render(controlled(broken), OutputFormat.JSON))
    assert data["endpoints"][0]["controller"]["entity"] == "Acme \ufffd GmbH"


def test_json_ascii_spells_characters_beyond_the_bmp_as_surrogate_pairs() -> None:
    text = json.dumps({"k": "x→😀"}, ensure_ascii=False).encode()
    escaped = json_ascii(text)
    assert escaped == b'{"k": "x\\u2192\\ud83d\\ude00"}'
    assert json.loads(escaped) == json.loads(text)
    assert json_ascii(b'{"k": "plain"}') == b'{"k": "plain"}'
