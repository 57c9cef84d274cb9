"""Misbehaving resolvers on 127.0.0.1: each name gets its own outcome; literals still located."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rrset
import pytest

from residency.locate.locator import Locator
from tests.hostile.runner import Run, run_cli
from tests.hostile.stubdns import StubDns
from tests.locate.fixtures import imported_dataset
from tests.support import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")

LITERAL = "1.1.1.1"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = imported_dataset(tmp_path_factory.mktemp("dns-hostile"))
    Locator.load(directory)
    return directory


class SlowServer(StubDns):
    """Answers every query with an A record after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__("192.0.2.7", delay)


@pytest.fixture
def slow() -> Iterator[SlowServer]:
    server = SlowServer(6.0)
    yield server
    server.sock.close()


def _audit(dataset: Path, port: int, timeout: str) -> tuple[Run, dict[str, dict[str, object]]]:
    run = run_cli(
        "audit",
        "--nameserver",
        f"127.0.0.1:{port}",
        "--timeout",
        timeout,
        "--format",
        "json",
        "--data-dir",
        str(dataset),
        "name.test",
        LITERAL,
        timeout=30,
    )
    assert not run.traceback, run.stderr[-2000:]
    report = json.loads(run.stdout)
    by_host = {e["host"]: e for e in report["endpoints"]}
    return run, by_host


def _outcomes(entry: dict[str, object]) -> list[str]:
    return [r["outcome"] for r in entry["resolutions"]]  # type: ignore[attr-defined, index]


def test_slow_resolver_within_the_budget_is_answered(dataset: Path, slow: SlowServer) -> None:
    run, by_host = _audit(dataset, slow.port, "10")
    assert run.code == 0, run.stderr
    assert _outcomes(by_host["name.test"]) == ["resolved"], by_host["name.test"]
    assert _outcomes(by_host[LITERAL]) == ["ip-literal"]
    assert by_host[LITERAL]["addresses"]


def test_silent_port_is_an_outcome_per_name_and_literals_are_located(dataset: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: port unreachable
    run, by_host = _audit(dataset, port, "1")
    assert run.code == 0, run.stderr
    assert _outcomes(by_host["name.test"]) == ["resolver-unreachable"]
    assert _outcomes(by_host[LITERAL]) == ["ip-literal"]
    assert by_host[LITERAL]["addresses"]


class ScriptServer(SlowServer):
    """Replies built by ``build(query wire) -> datagrams``, sent at once."""

    def __init__(self, build: object) -> None:
        self.build = build
        super().__init__(0.0)

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            for out in self.build(wire):  # type: ignore[operator]
                self._send(out, peer)


def _flood(wire: bytes) -> list[bytes]:
    junk = [wire[:2] + b"\x81\x80\x00\x01" + bytes(6) + b"\x40abc" for _ in range(100)]
    return [*junk, b"\xff" * 40, wire[:2] + b"\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\x40"]


def _referral(wire: bytes) -> list[bytes]:
    response = dns.message.make_response(dns.message.from_wire(wire))
    response.flags &= ~0x0400
    ns = dns.rrset.from_text("name.test.", 60, "IN", "NS", "ns.other.example.")
    response.authority.append(ns)
    return [response.to_wire()]


def test_flooding_resolver_is_an_outcome_not_an_abort(dataset: Path) -> None:
    server = ScriptServer(_flood)
    try:
        run, by_host = _audit(dataset, server.port, "1")
    finally:
        server.sock.close()
    assert run.code == 0, run.stderr
    assert "unknown label type" not in run.stderr
    assert _outcomes(by_host["name.test"]) in (["timeout"], ["resolver-unreachable"])
    assert by_host[LITERAL]["addresses"]


def test_referral_is_delegated_naming_the_servers(dataset: Path) -> None:
    server = ScriptServer(_referral)
    try:
        run, by_host = _audit(dataset, server.port, "2")
    finally:
        server.sock.close()
    assert run.code == 0, run.stderr
    [resolution] = by_host["name.test"]["resolutions"]  # type: ignore[misc]
    assert resolution["outcome"] == "delegated"
    assert "ns.other.example" in resolution["error"]
    assert by_host[LITERAL]["addresses"]
