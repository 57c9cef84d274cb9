"""The step driver the prober runs on: one thread, many probes, each its own connection."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location
from residency.probe import Prober, ProbeSettings
from residency.probe.multiplex import READ, Handoff, Multiplexer, Steps, drive, sleep_until
from tests.probe.certs import OV, Authority
from tests.probe.servers import answer, tls_server


def _result(host: str) -> EndpointResult:
    facts = IpFacts(ip="127.0.0.1", routable=False, location=Location(None, Confidence.NONE, "-"))
    return EndpointResult(Endpoint(host, host), (), (facts,))


def test_results_in_order_and_never_more_than_the_limit_at_once() -> None:
    active, peak = 0, 0

    def task(i: int) -> Steps[int | Handoff[int]]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        yield from sleep_until(time.monotonic() + 0.002 * (i % 3))

        def blocking() -> int:
            nonlocal active
            time.sleep(0.005)
            active -= 1
            return i * 10

        if i % 2:  # half finish on a worker thread, still counted against the limit
            return Handoff(blocking)
        active -= 1
        return i

    with ThreadPoolExecutor(4) as pool:
        got = Multiplexer(3, pool).run(20, task)
    assert got == [i * 10 if i % 2 else i for i in range(20)]
    assert peak == 3


def test_a_silent_socket_times_out_and_the_others_finish() -> None:
    quiet, _peer = socket.socketpair()
    talks, peer = socket.socketpair()
    peer.send(b"hi")

    def task(i: int) -> Steps[str | Handoff[str]]:
        sock = quiet if i == 0 else talks
        try:
            yield sock, READ, time.monotonic() + 0.05
        except TimeoutError:
            return "timeout"
        return sock.recv(10).decode()

    with ThreadPoolExecutor(1) as pool:
        assert Multiplexer(2, pool).run(2, task) == ["timeout", "hi"]
    for end in (quiet, _peer, talks, peer):
        end.close()


def test_drive_runs_one_alone_with_the_same_timeout() -> None:
    quiet, peer = socket.socketpair()

    def wait() -> Steps[str]:
        try:
            yield quiet, READ, time.monotonic() + 0.05
        except TimeoutError:
            return "timeout"
        return "ready"

    assert drive(wait()) == "timeout"
    peer.send(b"x")
    assert drive(wait()) == "ready"
    quiet.close()
    peer.close()


def test_each_endpoint_gets_its_own_handshake_with_its_own_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = Authority(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.pem))
    pair = ca.leaf("w", ["*.wire.test"], org="Wire Ltd", country="GB", policy=OV)
    hosts = [f"n{i}.wire.test" for i in range(12)]
    handshakes: list[tuple[str | None, bool]] = []
    with tls_server(pair, answer("200 OK", {"cf-ray": "1-LHR"}), handshakes=handshakes) as port:
        settings = ProbeSettings(kinds=("tls", "http"), port=port, rate=1e6, concurrency=4)
        prober = Prober(settings)
        done = prober.probe_many([_result(h) for h in hosts])
        prober.close()
    assert [r.endpoint.host for r in done] == hosts
    assert all([p.outcome for p in r.probes] == ["ok", "ok"] for r in done)
    assert all(r.probes[1].edge_pop == "LHR" for r in done)
    # one handshake per endpoint (the request rides on it), its own SNI, never resumed
    assert sorted(handshakes) == sorted((h, False) for h in hosts)


def test_later_requests_and_a_silent_answer_on_the_shared_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = Authority(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.pem))
    pair = ca.leaf("w", ["get.wire.test", "mute.wire.test"], org="Wire Ltd", policy=OV)

    def handler(request: bytes) -> bytes:
        if b"mute.wire.test" in request:
            time.sleep(1.0)  # answers nothing within the probe's timeout
            return b""
        if request.startswith(b"HEAD"):
            return answer("405 Method Not Allowed", {})(request)
        return answer("200 OK", {"cf-ray": "1-SIN"})(request)

    with tls_server(pair, handler) as port:
        settings = ProbeSettings(kinds=("tls", "http"), port=port, timeout=0.3, rate=1e6)
        prober = Prober(settings)
        got, mute = prober.probe_many([_result("get.wire.test"), _result("mute.wire.test")])
        prober.close()
    assert [p.outcome for p in got.probes] == ["ok", "ok"]  # GET went on a worker thread
    assert (got.probes[1].status, got.probes[1].edge_pop) == (200, "SIN")
    assert [p.outcome for p in mute.probes] == ["ok", "timeout"]


def test_rate_and_time_box_hold_on_the_shared_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = Authority(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.pem))
    pair = ca.leaf("w", ["*.wire.test"], org="Wire Ltd", country="GB", policy=OV)
    hosts = [f"r{i}.wire.test" for i in range(5)]
    with tls_server(pair, answer("200 OK", {})) as port:
        polite = Prober(ProbeSettings(kinds=("tls", "http"), port=port, rate=20.0))
        start = time.monotonic()
        done = polite.probe_many([_result(h) for h in hosts])
        took = time.monotonic() - start
        polite.close()
        boxed = Prober(
            ProbeSettings(kinds=("tls", "http"), port=port, total=0.001),
            clock=iter([0, 1, 1]).__next__,
        )
        (skipped,) = boxed.probe_many([_result(hosts[0])])
        boxed.close()
    assert all([p.outcome for p in r.probes] == ["ok", "ok"] for r in done)
    assert took >= 4 / 20.0 - 0.01  # five connections to one address, 20 per second at most
    assert [p.outcome for p in skipped.probes] == ["skipped", "skipped"]


def test_items_that_never_wait_finish_the_run() -> None:
    def task(i: int) -> Steps[int | Handoff[int]]:
        if False:
            yield None, 0, 0.0  # a generator that returns at once
        return i

    with ThreadPoolExecutor(1) as pool:
        assert Multiplexer(2, pool).run(5, task) == [0, 1, 2, 3, 4]


def test_literal_addresses_only_are_not_probed_and_do_not_hang() -> None:
    literal = EndpointResult(Endpoint("192.0.2.1", "192.0.2.1", is_ip=True), (), ())
    prober = Prober(ProbeSettings(kinds=("tls", "http"), timeout=0.5))
    (done,) = prober.probe_many([literal])
    prober.close()
    assert done.probes == ()
