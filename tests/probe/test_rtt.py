"""--probe rtt on given round-trip times: the bound, the origin, refutation and what wins."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from residency.model import (
    Confidence,
    Endpoint,
    EndpointResult,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Place,
)
from residency.probe import ProbeError, Prober, ProbeSettings
from residency.probe.geometry import countries_apart_km, haversine_km, nearest_km
from residency.probe.rtt import (
    ProbeOrigin,
    RttProbe,
    apply_rtt,
    check_country,
    max_distance_km,
    middlebox_answers,
    origin_from_config,
)

FRANKFURT = ProbeOrigin.parse("50.11,8.68")


def _facts(country: str, *others: str) -> IpFacts:
    evidence = [
        Evidence("geoip:a", EvidenceKind.GEOIP, "1", place=Place(c)) for c in (country, *others)
    ]
    return IpFacts(
        "198.51.100.7",
        True,
        Location(Place(country), Confidence.MEDIUM, "geoip-consensus", "2 sources agree"),
        evidence=tuple(evidence),
    )


def test_light_in_fibre_bound() -> None:
    assert max_distance_km(1.0) == 100.0
    assert max_distance_km(80.0) == 8000.0
    assert 600 < haversine_km((52.52, 13.40), (48.86, 2.35)) < 900  # Berlin-Paris ~878


def test_nearest_point_not_centroid() -> None:
    # New York is inside the US outline: 0, however far the US centroid is
    assert nearest_km((40.71, -74.0), "US") == 0.0
    assert nearest_km((50.11, 8.68), "DE") == 0.0
    far = nearest_km((50.11, 8.68), "US")
    assert far is not None and 4500 < far < 6000
    assert nearest_km((50.11, 8.68), "SG") is None  # no outline at 1:110m: no bound
    assert countries_apart_km("DE", "FR") == 0.0  # neighbours
    apart = countries_apart_km("DE", "AU")
    assert apart is not None and apart > 10_000


@pytest.mark.parametrize(
    ("origin", "country", "rtt", "refuted"),
    [
        ("50.11,8.68", "US", 1.0, True),
        ("50.11,8.68", "US", 80.0, False),
        ("50.11,8.68", "DE", 0.2, False),  # the vantage's own country: never
        ("DE", "AU", 10.0, True),
        ("DE", "AU", 150.0, False),
        ("DE", "FR", 0.1, False),  # neighbours: the nearest points touch
        ("US", "CA", 0.1, False),
        ("50.11,8.68", "SG", 0.1, False),  # no outline: never refuted
    ],
)
def test_refutation_on_given_rtts(origin: str, country: str, rtt: float, refuted: bool) -> None:
    assert check_country(ProbeOrigin.parse(origin), country, rtt).refuted is refuted


def test_refuted_place_is_never_kept() -> None:
    facts = apply_rtt(_facts("US"), FRANKFURT, 2.0)
    assert facts.location.place is None
    assert facts.location.basis == "rtt-refuted"
    assert facts.location.why.startswith("unknown, because US REFUTED by RTT 2.0 ms")
    assert any("REFUTED" in d for d in facts.disagreements)
    (rtt,) = [e for e in facts.evidence if e.kind is EvidenceKind.RTT]
    assert "within 200 km" in rtt.note and "REFUTED" in rtt.note


def test_other_claim_the_rtt_allows_wins() -> None:
    facts = apply_rtt(_facts("US", "DE"), FRANKFURT, 2.0)
    assert facts.location.place == Place("DE")
    assert facts.location.confidence is Confidence.LOW
    assert facts.location.basis == "rtt-survivor"
    assert "never prove" in facts.location.why


def test_surviving_claims_that_disagree_give_unknown() -> None:
    facts = apply_rtt(_facts("US", "DE", "NL"), FRANKFURT, 5.0)
    assert facts.location.place is None
    assert "DE, NL" in facts.location.why


def test_compatible_rtt_changes_nothing_but_adds_evidence() -> None:
    before = _facts("US")
    after = apply_rtt(before, FRANKFURT, 90.0)
    assert after.location == before.location
    assert after.disagreements == ()
    assert [e.kind for e in after.evidence][-1] is EvidenceKind.RTT


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("91,0", "out of range"),
        ("Germany", "give a country code"),
        ("SG", "no outline"),
    ],
)
def test_bad_origin_is_one_clear_line(text: str, problem: str) -> None:
    with pytest.raises(ProbeError, match=problem):
        ProbeOrigin.parse(text)


def test_rtt_needs_an_origin_and_config_can_give_it(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="--from"):
        ProbeSettings.parse("rtt")
    config = tmp_path / "config.toml"
    assert origin_from_config(config) is None
    config.write_text('[probe]\nfrom = "de"\n')
    origin = origin_from_config(config)
    assert origin is not None and origin.country == "DE"
    config.write_text("[probe]\nfrom = 5\n")
    with pytest.raises(ProbeError, match="must be a string"):
        origin_from_config(config)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        server.close()


def test_probe_measures_min_connect_and_falls_back(listener: int) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    dead_port = int(closed.getsockname()[1])
    closed.close()
    probe = RttProbe(timeout=1.0, ports=(listener,))
    result = probe.run("x", "127.0.0.1", dead_port)  # refused there, answered on the fallback
    assert result.outcome == "ok" and result.port == listener
    assert result.rtt_ms is not None and 0 <= result.rtt_ms < 100
    failed = RttProbe(timeout=1.0, ports=()).run("x", "127.0.0.1", dead_port)
    assert failed.outcome == "unreachable" and failed.rtt_ms is None
    assert "refused" in failed.detail


def test_prober_measures_every_routable_address(listener: int) -> None:
    facts = _facts("US")
    literal = Endpoint("198.51.100.7", "198.51.100.7", is_ip=True)
    local = IpFacts("10.0.0.1", False, Location(None, Confidence.NONE, "not-routable"))
    settings = ProbeSettings(kinds=("rtt",), port=listener, timeout=1.0, origin=FRANKFURT)
    prober = Prober(settings)
    prober._rtt = RttProbe(1.0, ports=(listener,))
    prober._rtt.run = lambda host, ip, port, until=None: RttProbe(1.0).run(  # type: ignore[method-assign]
        host, "127.0.0.1", listener, until
    )
    (out,) = prober.probe_many([EndpointResult(literal, (), (facts, local))])
    assert [p.kind for p in out.probes] == ["rtt"]
    assert out.facts[0].location.basis == "rtt-refuted"  # loopback answers in < 1 ms
    assert out.facts[1] == local


def test_a_middlebox_answering_for_unrouted_space_makes_public_rtts_unusable(
    listener: int,
) -> None:
    # The canary is a local listener standing in for an intercepting proxy: it "answers"
    # for the unrouted address, so the probe must give no bound for a public address.
    answered = middlebox_answers(canaries=("127.0.0.1",), port=listener, timeout=1.0)
    assert answered is not None and "accepted the connection" in answered
    closed = socket.create_server(("127.0.0.1", 0))
    dead = int(closed.getsockname()[1])
    closed.close()
    refused = middlebox_answers(canaries=("127.0.0.1",), port=dead, timeout=1.0)
    assert refused is not None and "refused the connection" in refused
    calls: list[int] = []

    def guard() -> str | None:
        calls.append(1)
        return answered

    probe = RttProbe(timeout=1.0, ports=(listener,), guard=guard)
    public = probe.run("x", "8.8.8.8", 443)
    assert public.outcome == "unusable" and public.rtt_ms is None
    assert "middlebox" in public.detail and "no RTT bound" in public.detail
    assert probe.run("x", "1.1.1.1", 443).outcome == "unusable"
    assert calls == [1]  # the path is checked once per probe, not per address
    # Loopback and private targets are not behind the Internet path: timed as they are.
    assert probe.run("x", "127.0.0.1", listener).outcome == "ok"


def test_a_clean_path_passes_the_middlebox_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a clean path an unrouted address never answers: a timeout or an ICMP unreachable.
    for silence in (TimeoutError("timed out"), OSError(113, "No route to host")):

        def connect(self: socket.socket, address: object, error: OSError = silence) -> None:
            raise error

        monkeypatch.setattr(socket.socket, "connect", connect)
        assert middlebox_answers(timeout=0.01) is None
