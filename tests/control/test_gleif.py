"""GLEIF LEI records through a real HTTP server on 127.0.0.1, with fixtures written from
GLEIF's documented JSON:API shapes (api.gleif.org/api/v1: lei-records, direct-parent)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from residency.control.evidence import ControlEvidence
from residency.control.gleif import GleifLookup, parse_record
from residency.control.organisations import Organisation, Organisations
from residency.model import Confidence, Controller

CHILD, PARENT, TOP = "5299000J2N45DDNE4Y28", "549300ZFEEJ2IP5VME73", "ZXTILKJKG63JELOEG630"


def record(lei: str, name: str, country: str) -> dict[str, Any]:
    """A ``lei-records`` document in GLEIF's JSON:API shape (trimmed to what is read)."""
    return {
        "data": {
            "type": "lei-records",
            "id": lei,
            "attributes": {
                "lei": lei,
                "entity": {
                    "legalName": {"name": name, "language": "en"},
                    "legalAddress": {"country": country, "city": "X"},
                    "headquartersAddress": {"country": country, "city": "X"},
                    "jurisdiction": country,
                },
                "registration": {"status": "ISSUED"},
            },
            "relationships": {
                "direct-parent": {"links": {"related": f"/lei-records/{lei}/direct-parent"}}
            },
        }
    }


class Answers:
    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, bytes, dict[str, str]]]] = {}
        self.hits: list[str] = []

    def add(self, path: str, status: int, body: Any, **headers: str) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes.setdefault(path, []).append((status, data, headers))


@pytest.fixture
def gleif() -> Iterator[tuple[Answers, str]]:
    answers = Answers()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.removeprefix("/api/v1/")
            answers.hits.append(path)
            queue = answers.routes.get(path) or [(404, b'{"errors":[]}', {})]
            status, body, headers = queue.pop(0) if len(queue) > 1 else queue[0]
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.api+json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield answers, f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    finally:
        server.shutdown()
        server.server_close()


def lookup(url: str, cache: Any = None) -> GleifLookup:
    client = httpx.Client(timeout=5)
    found = GleifLookup(client, url, cache, timeout=5)
    found.transport.backoff = 0.01  # keep 429/5xx retries short in tests
    return found


def test_chain_walks_direct_parents_until_none_is_reported(gleif: tuple[Answers, str]) -> None:
    answers, url = gleif
    answers.add(f"lei-records/{CHILD}/direct-parent", 200, record(PARENT, "Mid Holding GmbH", "DE"))
    answers.add(f"lei-records/{PARENT}/direct-parent", 200, record(TOP, "Amazon.com, Inc.", "US"))
    links, short = lookup(url).chain(CHILD)
    assert [(link.entity, link.country, link.lei) for link in links] == [
        ("Mid Holding GmbH", "DE", PARENT),
        ("Amazon.com, Inc.", "US", TOP),
    ]
    assert short == "" and links[0].source.startswith(f"GLEIF LEI {CHILD} direct parent (")


def test_429_is_waited_out_and_a_persistent_5xx_is_a_reason(gleif: tuple[Answers, str]) -> None:
    answers, url = gleif
    path = f"lei-records/{CHILD}/direct-parent"
    answers.add(path, 429, {"errors": []}, **{"Retry-After": "0"})
    answers.add(path, 200, record(TOP, "Top Corp", "US"))
    links, short = lookup(url).chain(CHILD)
    assert [link.entity for link in links] == ["Top Corp"]
    assert answers.hits.count(path) == 2
    answers.add(f"lei-records/{TOP}/direct-parent", 503, {"errors": []})
    answers.routes[f"lei-records/{TOP}/direct-parent"] = [(503, b"{}", {})]
    links, short = lookup(url).chain(TOP)
    assert links == () and short.startswith("parent unknown: GLEIF server error: HTTP 503")


def test_garbage_and_cycles_stop_with_a_reason(gleif: tuple[Answers, str]) -> None:
    answers, url = gleif
    answers.add(f"lei-records/{CHILD}/direct-parent", 200, b"<html>not json</html>")
    assert lookup(url).chain(CHILD)[1].startswith("parent unknown: malformed GLEIF answer")
    answers.add(f"lei-records/{PARENT}/direct-parent", 200, record(TOP, "B", "US"))
    answers.add(f"lei-records/{TOP}/direct-parent", 200, record(PARENT, "A", "US"))
    links, short = lookup(url).chain(PARENT)
    assert [link.entity for link in links] == ["B"] and "cycle" in short


def test_answers_are_cached(gleif: tuple[Answers, str]) -> None:
    answers, url = gleif
    answers.add(f"lei-records/{CHILD}/direct-parent", 200, record(TOP, "Top Corp", "US"))

    class Kv:
        def __init__(self) -> None:
            self.rows: dict[str, str] = {}

        def cache_get(self, namespace: str, key: str, now: float) -> tuple[str, float] | None:
            return (self.rows[key], 0.0) if key in self.rows else None

        def cache_put(self, namespace: str, key: str, value: str, expires: float) -> None:
            self.rows[key] = value

    kv = Kv()
    first = lookup(url, kv).chain(CHILD)
    hits = len(answers.hits)
    second = lookup(url, kv).chain(CHILD)
    assert [link.entity for link in second[0]] == [link.entity for link in first[0]]
    assert len(answers.hits) == hits  # the second run asked nothing


def test_evidence_uses_gleif_and_falls_back_when_it_names_another_company(
    gleif: tuple[Answers, str],
) -> None:
    answers, url = gleif
    answers.add(f"lei-records/{CHILD}", 200, record(CHILD, "Kite Ads GmbH", "DE"))
    answers.add(f"lei-records/{CHILD}/direct-parent", 200, record(TOP, "Amazon.com, Inc.", "US"))
    answers.add(f"lei-records/{PARENT}", 200, record(PARENT, "Someone Else Ltd", "GB"))
    orgs = Organisations(
        [
            Organisation("kite", "Kite Ads GmbH", "DE", "https://example.invalid/kite", lei=CHILD),
            Organisation("other", "Other AG", "CH", "https://example.invalid/o", lei=PARENT),
        ]
    )
    from residency.control.sovereign import default_sovereign_clouds

    evidence = ControlEvidence(
        organisations=orgs, sovereign=default_sovereign_clouds(), gleif=lookup(url)
    )
    kite = evidence.with_chain(
        Controller("Kite Ads GmbH", "DE", "OV certificate", Confidence.MEDIUM)
    )
    assert [(p.entity, p.country) for p in kite.parents] == [("Amazon.com, Inc.", "US")]
    other = evidence.with_chain(Controller("Other AG", "CH", "OV certificate", Confidence.MEDIUM))
    assert other.parents == ()  # the curated chain (none), not someone else's
    assert any("names Someone Else Ltd" in note for note in evidence.notes)


def test_parse_record_refuses_other_shapes() -> None:
    with pytest.raises(ValueError, match="no 'data' object"):
        parse_record({"errors": [{"status": "404"}]})
    with pytest.raises(ValueError, match="no LEI or legal name"):
        parse_record({"data": {"attributes": {"entity": {"legalName": {}}}}})
