"""``--probe-connect-to``: probes go to a stand-in address, still presenting the endpoint's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location
from residency.probe import ConnectTo, ProbeError, Prober, ProbeSettings
from tests.probe.certs import OV, Authority
from tests.probe.servers import answer, tls_server

HOST = "api.account.kitephone.example"
REAL = "13.228.64.17"  # never contacted: the mapping sends the probe to 127.0.0.1


def endpoint_result() -> EndpointResult:
    facts = IpFacts(REAL, True, Location(None, Confidence.NONE, "none"))
    return EndpointResult(Endpoint(HOST, HOST), (), (facts,))


def test_parse_forms() -> None:
    assert ConnectTo.parse(f"{HOST}:443:127.0.0.1:8443") == ConnectTo(HOST, 443, "127.0.0.1", 8443)
    assert ConnectTo.parse("::[::1]:9") == ConnectTo("", None, "::1", 9)
    anything = ConnectTo.parse("::127.0.0.1:9")
    assert anything.matches("x.example", 443) and anything.matches("y.example", 8443)
    only = ConnectTo.parse("a.example::127.0.0.1:9")
    assert only.matches("A.example.", 1) and not only.matches("b.example", 1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("127.0.0.1:9", "expected HOST:PORT:ADDRESS:PORT (HOST, PORT may be empty)"),
        ("a::localhost:9", "'localhost' is not an IP address"),
        ("a:99999:127.0.0.1:9", "'99999' is not a TCP port"),
        ("a::127.0.0.1:", "'' is not a TCP port"),
        # issue 18 item 20: only ASCII digits, balanced brackets
        ("::127.0.0.1:\u00b2", "'\u00b2' is not a TCP port"),
        ("::127.0.0.1:\u0664\u0664\u0663", "'\u0664\u0664\u0663' is not a TCP port"),
        ("a:\u0664\u0664\u0663:127.0.0.1:9", "'\u0664\u0664\u0663' is not a TCP port"),
        ("::[::1:443", "'[::1': unbalanced brackets"),
        ("::::1]:443", "'::1]': unbalanced brackets"),
        ("::[]:443", "'[]': unbalanced brackets"),
        ("::::1:443", "IPv6 address '::1' must be in brackets: [::1]"),
    ],
)
def test_bad_mapping_is_one_clear_error(text: str, problem: str) -> None:
    with pytest.raises(ProbeError) as caught:
        ConnectTo.parse(text)
    assert str(caught.value) == f"--probe-connect-to {text!r}: {problem}"


def test_rtt_with_connect_to_is_refused() -> None:
    from residency.probe.rtt import ProbeOrigin

    with pytest.raises(ProbeError, match="--probe rtt cannot be combined with --probe-connect-to"):
        ProbeSettings(
            kinds=("rtt",),
            origin=ProbeOrigin.parse("DE"),
            connect_to=(ConnectTo.parse("::127.0.0.1:9"),),
        )


def test_probes_connect_to_the_stand_in_with_the_endpoint_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = Authority(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.pem))
    pair = ca.leaf("api", [HOST], org="Beijing Kitephone Ltd.", country="CN", policy=OV)
    with tls_server(pair, answer("200 OK", {"x-amz-cf-pop": "BOM78-P1"})) as port:
        settings = ProbeSettings(
            kinds=("tls", "http"),
            timeout=2.0,
            connect_to=(ConnectTo.parse(f"::127.0.0.1:{port}"),),
        )
        prober = Prober(settings)
        try:
            (probed,) = prober.probe_many([endpoint_result()])
        finally:
            prober.close()
    tls, http = probed.probes
    # verified against the name, so the server was given HOST as SNI
    assert tls.outcome == "ok" and tls.verified, tls.detail
    assert (tls.ip, tls.port, tls.connected_to) == (REAL, 443, f"127.0.0.1:{port}")
    assert http.outcome == "ok" and http.edge_pop == "BOM" and http.connected_to
    assert probed.controller is not None and probed.controller.country == "CN"


@pytest.mark.parametrize(
    "text", ["::127.0.0.1:\u00b2", "::[::1:443", "::127.0.0.1:\u0664\u0664\u0663"]
)
def test_cli_non_ascii_port_or_bad_bracket_is_a_usage_error(tmp_path: Path, text: str) -> None:
    from tests.hostile.runner import run_cli

    run = run_cli(
        "audit", "a.example", "--probe", "tls", "--probe-connect-to", text, data_dir=tmp_path
    )
    assert run.code == 2 and not run.traceback
    (line,) = run.error_lines()
    assert line.startswith(f"residency: --probe-connect-to {text!r}: ")


def test_cli_bad_mapping_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from tests.hostile.runner import run_cli

    run = run_cli(
        "audit", "a.example", "--probe", "tls", "--probe-connect-to", "bogus", data_dir=tmp_path
    )
    assert run.code == 2 and not run.traceback
    assert run.error_lines() == [
        "residency: --probe-connect-to 'bogus': "
        "expected HOST:PORT:ADDRESS:PORT (HOST, PORT may be empty)"
    ]


def test_cli_connect_to_without_probe_is_refused(tmp_path: Path) -> None:
    from tests.hostile.runner import run_cli

    run = run_cli("audit", "a.example", "--probe-connect-to", "::127.0.0.1:9", data_dir=tmp_path)
    assert run.code == 2 and not run.traceback
    assert run.error_lines() == [
        "residency: --probe-connect-to redirects probes: give --probe tls,http too"
    ]
