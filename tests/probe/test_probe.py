"""TLS and HTTP-edge probes against real local servers, and the controller they give."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location
from residency.probe import ProbeError, Prober, ProbeSettings, controller_for
from residency.probe.http_edge import HttpEdgeProbe
from residency.probe.pops import edge_from_headers, place_of_pop
from residency.probe.tls import TlsProbe
from tests.probe.certs import DV, EV, OV, Authority
from tests.probe.servers import answer, tls_server

HOST = "api.example.test"


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Authority:
    authority = Authority(tmp_path)
    # The probes build their default trust store from this, as OpenSSL does everywhere.
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.pem))
    return authority


def tls() -> TlsProbe:
    return TlsProbe(timeout=1.0)


def test_ov_certificate_names_controller(ca: Authority) -> None:
    pair = ca.leaf(
        "ov", [HOST], org="Beijing Xiaomi Mobile Software Co., Ltd.", country="CN", policy=OV
    )
    with tls_server(pair, answer("200 OK", {})) as port:
        result = tls().run(HOST, "127.0.0.1", port)
    assert result.outcome == "ok" and result.verified is True
    assert result.cert is not None and result.cert.validation == "ov"
    assert result.cert.san == (HOST,)
    assert result.tls_version in ("TLSv1.2", "TLSv1.3")
    controller = controller_for(HOST, [result])
    assert controller.entity == "Beijing Xiaomi Mobile Software Co., Ltd."
    assert (controller.country, controller.basis) == ("CN", "OV certificate")


def test_ev_certificate_gives_jurisdiction_and_serial(ca: Authority) -> None:
    pair = ca.leaf(
        "ev",
        [HOST],
        org="Example Pvt Ltd",
        country="SG",
        policy=EV,
        jurisdiction="IN",
        serial="U7299",
    )
    with tls_server(pair, answer("200 OK", {})) as port:
        result = tls().run(HOST, "127.0.0.1", port)
    assert result.cert is not None
    assert (result.cert.validation, result.cert.jurisdiction_c, result.cert.serial_number) == (
        "ev",
        "IN",
        "U7299",
    )
    controller = controller_for(HOST, [result])
    assert (controller.country, controller.basis, controller.confidence) == (
        "IN",
        "EV certificate",
        Confidence.HIGH,
    )


def test_dv_certificate_names_no_organisation(ca: Authority) -> None:
    pair = ca.leaf("dv", [HOST], org="Claimed Org", country="US", policy=DV)
    with tls_server(pair, answer("200 OK", {})) as port:
        result = tls().run(HOST, "127.0.0.1", port)
    assert result.cert is not None and result.cert.subject_o is None
    controller = controller_for(HOST, [result], {"example.test": ("Example Ltd", "GB")})
    assert (controller.entity, controller.basis) == ("Example Ltd", "first-party table")


def test_cdn_certificate_is_not_the_controller(ca: Authority) -> None:
    pair = ca.leaf("cf", [HOST], org="Cloudflare, Inc.", country="US", policy=OV)
    with tls_server(pair, answer("200 OK", {})) as port:
        result = tls().run(HOST, "127.0.0.1", port)
    assert result.cert is not None and result.cert.cdn == "cloudflare"
    controller = controller_for(HOST, [result])
    assert controller.entity is None and "CDN" in controller.why


@pytest.mark.parametrize(
    ("kwargs", "reason"), [({"self_signed": True}, "self-signed"), ({"expired": True}, "expired")]
)
def test_invalid_certificate_is_read_but_not_trusted(
    ca: Authority, kwargs: dict[str, bool], reason: str
) -> None:
    pair = ca.leaf("bad", [HOST], org="Evil Corp", country="CN", policy=OV, **kwargs)
    with tls_server(pair, answer("200 OK", {})) as port:
        result = tls().run(HOST, "127.0.0.1", port)
    assert (result.outcome, result.verified, result.verify_error) == ("cert-invalid", False, reason)
    assert result.cert is not None and result.cert.subject_o == "Evil Corp"
    assert controller_for(HOST, [result]).entity is None


def test_faults_are_outcomes(ca: Authority) -> None:
    with tls_server(None, mode="stall") as port:
        assert tls().run(HOST, "127.0.0.1", port).outcome == "timeout"
    with tls_server(None, mode="garbage") as port:
        assert tls().run(HOST, "127.0.0.1", port).outcome == "tls-error"
    with tls_server(None, mode="stall") as port:
        pass
    assert tls().run(HOST, "127.0.0.1", port).outcome == "refused"


CDN_HEADERS = [
    ({"cf-ray": "8c1f2a3b4c5d6e7f-FRA", "server": "cloudflare"}, "cloudflare", "FRA", "DE"),
    ({"x-amz-cf-pop": "SIN52-P2", "x-cache": "Miss from cloudfront"}, "cloudfront", "SIN", "SG"),
    (
        {"x-served-by": "cache-iad-kiad7000001-IAD, cache-bom4734-BOM", "via": "1.1 varnish"},
        "fastly",
        "BOM",
        "IN",
    ),
    ({"x-azure-ref": "0abc Ref A: 1 Ref B: AMS31EDGE0812 Ref C: 2024"}, "azure", "AMS", "NL"),
]


@pytest.mark.parametrize(("headers", "cdn", "pop", "country"), CDN_HEADERS)
def test_edge_headers_map_to_place(
    ca: Authority, headers: dict[str, str], cdn: str, pop: str, country: str
) -> None:
    pair = ca.leaf("edge", [HOST])
    with tls_server(pair, answer("200 OK", headers)) as port:
        result = HttpEdgeProbe(timeout=1.0).run(HOST, "127.0.0.1", port)
    assert (result.outcome, result.edge_cdn, result.edge_pop) == ("ok", cdn, pop)
    assert result.edge_place is not None and result.edge_place.country == country
    assert "IATA" in result.edge_basis


def test_akamai_names_edge_host() -> None:
    cdn, pop, note = edge_from_headers(
        {"x-cache": "TCP_MISS from a23-1-2-3.deploy.akamaitechnologies.com (AkamaiGHost/10)"}
    )
    assert (cdn, pop) == ("akamai", None) and "a23-1-2-3" in note
    assert place_of_pop("ZZZ")[0] is None


def test_head_refused_falls_back_to_get(ca: Authority) -> None:
    def handler(request: bytes) -> bytes:
        if request.startswith(b"HEAD"):
            return answer("405 Method Not Allowed", {})(request)
        return answer("200 OK", {"cf-ray": "1-SIN"})(request)

    with tls_server(ca.leaf("g", [HOST]), handler) as port:
        result = HttpEdgeProbe(timeout=1.0).run(HOST, "127.0.0.1", port)
    assert (result.status, result.edge_pop) == (200, "SIN")


def test_http_faults_are_outcomes(ca: Authority) -> None:
    pair = ca.leaf("f", [HOST])
    probe = HttpEdgeProbe(timeout=1.0, max_header_bytes=4096)
    with tls_server(pair, answer("200 OK", {f"x-pad-{i}": "y" * 200 for i in range(40)})) as port:
        assert probe.run(HOST, "127.0.0.1", port).outcome == "too-large"
    with tls_server(pair, answer("200 OK", {"x-pad": "y" * 300_000})) as port:
        assert probe.run(HOST, "127.0.0.1", port).outcome == "too-large"
    with tls_server(pair, answer("302 Found", {"Location": "/again"})) as port:
        assert probe.run(HOST, "127.0.0.1", port).outcome == "redirect-loop"
    with tls_server(pair, answer("302 Found", {"Location": "https://elsewhere.test/"})) as port:
        other = probe.run(HOST, "127.0.0.1", port)
    assert (other.outcome, other.status) == ("ok", 302)
    with tls_server(pair, lambda _r: b"") as port:
        assert probe.run(HOST, "127.0.0.1", port).outcome in ("protocol-error", "http-error")
    with tls_server(None, mode="stall") as port:
        assert probe.run(HOST, "127.0.0.1", port).outcome == "timeout"


def _result(host: str) -> EndpointResult:
    from residency.model import Confidence as C

    facts = IpFacts(ip="127.0.0.1", routable=False, location=Location(None, C.NONE, "none"))
    return EndpointResult(Endpoint(host, host), (), (facts,))


def test_prober_runs_all_and_time_boxes(ca: Authority) -> None:
    pair = ca.leaf("p", [HOST], org="Example Ltd", country="GB", policy=OV)
    with tls_server(pair, answer("200 OK", {"cf-ray": "1-LHR"})) as port:
        prober = Prober(ProbeSettings(kinds=("tls", "http"), port=port, timeout=1.0, rate=1000))
        done = prober.probe_many([_result(HOST), _result(HOST)])
        prober.close()
    assert [p.outcome for p in done[0].probes] == ["ok", "ok"]
    assert done[1].controller is not None and done[1].controller.entity == "Example Ltd"
    boxed = Prober(
        ProbeSettings(kinds=("tls",), port=port, total=0.001), clock=iter([0, 1, 1]).__next__
    )
    assert boxed.probe_many([_result(HOST)])[0].probes[0].outcome == "skipped"


def test_settings_reject_unknown_probe() -> None:
    with pytest.raises(ProbeError, match="unknown probe"):
        ProbeSettings.parse("tls,ping")
