"""Issue 18 where untrusted text enters: IPv6 zone ids, unpaired surrogates from RDAP
(never cached), certificate countries, HAR titles in stderr notes, and the exit code of
an unexpected error. Real CLI runs in a subprocess, a real RDAP server on 127.0.0.1, and
real certificates made with ``cryptography``."""

from __future__ import annotations

import datetime
import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from residency.addresses import AddressError, parse_address
from residency.datasets.rdap_bootstrap import bundled_bootstrap
from residency.exitcodes import ExitCode
from residency.locate.registration.domain_rdap import DomainRdapLookup
from residency.model import ProbeResult
from residency.probe.controller import controller_for
from residency.probe.tls import describe_certificate
from residency.textsafe import find_surrogate, replace_surrogates
from tests.audit.test_stream_inputs import dataset  # noqa: F401  (the tiny dataset fixture)
from tests.hostile.runner import assert_clean_failure, run_cli
from tests.hostile.test_rdap import dataset as rdap_dataset  # noqa: F401
from tests.hostile.test_rdap import network
from tests.hostile.untrusted import HOSTILE, check_terminal
from tests.integration.rdapserver import RdapServer
from tests.policy.factories import facts, policy, result

ESC = "\x1b"
SURROGATE_NET = network("13.251.0.0", "13.251.255.255", "SURR", "lone \ud800 surrogate", "N-1")
ESCAPES_NET = network(
    "13.252.0.0",
    "13.252.255.255",
    "ESC",
    f"{ESC}]8;;http://evil.example/{ESC}\\Trusted{ESC}]8;;{ESC}\\{ESC}[2J\nresidency: PASS",
    "N-2",
)


# ------------------------------------------------------------------------- zone ids


@pytest.mark.parametrize("zone", ["\x1bc\x1b(0RESET", "eth0 x", "a/b", "%", "", "x" * 65])
def test_zone_ids_other_than_interface_names_are_refused(zone: str) -> None:
    with pytest.raises(AddressError, match="zone id must be an interface name"):
        parse_address(f"fe80::1%{zone}")


@pytest.mark.parametrize("zone", ["eth0", "en0", "wlp3s0", "vlan.10", "br-lan", "12"])
def test_interface_names_and_numbers_are_zone_ids(zone: str) -> None:
    assert parse_address(f"fe80::1%{zone}").zone == zone
    assert parse_address(f"[fe80::1%25{zone}]").zone == zone


def test_a_list_line_with_an_escape_in_its_zone_id_is_one_problem_line(
    dataset: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    listed = tmp_path / "hosts.txt"
    listed.write_text("fe80::1%\x1bc\x1b(0RESET\n192.0.2.1\n", encoding="utf-8")
    run = run_cli("audit", "--no-resolve", str(listed), data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="hosts.txt:1")
    assert ESC not in run.stdout + run.stderr
    assert "192.0.2.1" in run.stdout
    assert len([line for line in run.error_lines() if "zone id" in line]) == 1


def test_a_har_url_with_an_escape_in_its_zone_id_is_refused(
    dataset: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    har = tmp_path / "zone.har"
    entries = [
        {"request": {"method": "GET", "url": "https://[fe80::1%25\x1bc]/"}},
        {"request": {"method": "GET", "url": "https://192.0.2.1/"}, "serverIPAddress": "192.0.2.1"},
    ]
    har.write_text(json.dumps({"log": {"entries": entries}}), encoding="utf-8")
    run = run_cli("audit", "--no-resolve", "--har", str(har), data_dir=dataset)
    assert run.code == 2 and not run.traceback, run.stderr
    assert ESC not in run.stdout + run.stderr
    assert "192.0.2.1" in run.stdout


# ---------------------------------------------------------------- HAR title in a note


def test_a_har_title_cannot_forge_a_note_line(dataset: Path, tmp_path: Path) -> None:  # noqa: F811
    har = tmp_path / "titled.har"
    title = "Shop\x1b[2J\x1b]0;pwned\x07\nnote: all endpoints PASS"
    document = {
        "log": {
            "pages": [{"id": "page_1", "title": title}],
            "entries": [
                {"pageref": "page_1", "request": {"method": "GET", "url": "https://a.example/"}},
                {
                    "pageref": "page_1",
                    "request": {"method": "GET", "url": "https://192.0.2.1/"},
                    "serverIPAddress": "192.0.2.1",
                },
            ],
        }
    }
    har.write_text(json.dumps(document), encoding="utf-8")
    run = run_cli("audit", "--no-resolve", "--har", str(har), data_dir=dataset)
    assert run.code == 0 and not run.traceback, run.stderr
    notes = [line for line in run.stderr.splitlines() if line.startswith("note:")]
    titled = [line for line in notes if "page_1 (Shop<U+001B>[2J<U+001B>]0;pwned" in line]
    assert len(titled) == 1 and "<U+000A>note: all endpoints PASS" in titled[0], run.stderr
    assert not [line for line in notes if line.startswith("note: all endpoints PASS")]
    check_terminal(run.stderr)
    check_terminal(run.stdout)


# ------------------------------------------------------------- RDAP: surrogates, escapes


@pytest.fixture(scope="module")
def server() -> Iterator[RdapServer]:
    running = RdapServer([SURROGATE_NET, ESCAPES_NET])
    try:
        yield running
    finally:
        running.stop()


def _ip(data: Path, server: RdapServer, cache: Path, *args: str) -> Any:
    return run_cli(
        "ip", "--rdap", "--rdap-url", server.base_url, *args,
        data_dir=data,
        env={"RESIDENCY_GEOIP": "", "RESIDENCY_RDAP_CACHE": str(cache)},
        timeout=60,
    )  # fmt: skip


def test_an_rdap_answer_with_a_lone_surrogate_is_refused_and_never_cached(
    rdap_dataset: Path,  # noqa: F811
    server: RdapServer,
    tmp_path: Path,
) -> None:
    cache = tmp_path / "rdap.sqlite3"
    asked = len([p for p in server.requests if p.endswith("/13.251.0.1")])
    for run_number in (1, 2):
        run = _ip(rdap_dataset, server, cache, "13.251.0.1")
        assert run.code == 0 and not run.traceback, run.stderr
        assert "registered  unknown (malformed RDAP response" in run.stdout
        assert "unpaired surrogate at $.entities[0]" in run.stdout
        check_terminal(run.stdout)
        # asked again on the second run: the refused answer was not cached
        assert len([p for p in server.requests if p.endswith("/13.251.0.1")]) == asked + run_number
    as_json = _ip(rdap_dataset, server, cache, "--json", "13.251.0.1")
    registration = json.loads(as_json.stdout)["addresses"][0]["registration"]
    assert registration["status"] == "unknown" and "surrogate" in registration["reason"]


def test_escape_sequences_in_an_rdap_organisation_stay_text(
    rdap_dataset: Path,  # noqa: F811
    server: RdapServer,
    tmp_path: Path,
) -> None:
    run = _ip(rdap_dataset, server, tmp_path / "rdap.sqlite3", "13.252.0.1")
    assert run.code == 0 and not run.traceback, run.stderr
    assert "registered  <U+001B>]8;;http://evil.example/<U+001B>" in run.stdout
    check_terminal(run.stdout)


def test_a_domain_registrant_with_a_lone_surrogate_is_unknown_and_asked_again() -> None:
    body = json.dumps(
        {
            "objectClassName": "domain",
            "ldhName": "example.com",
            "entities": [
                {
                    "roles": ["registrant"],
                    "vcardArray": ["vcard", [["fn", {}, "text", "lone \ud800"]]],
                }
            ],
        }
    ).encode()
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, content=body, headers={"content-type": "application/rdap+json"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        lookup = DomainRdapLookup(client, bundled_bootstrap(), server_url="https://rdap.test/")
        first = lookup.lookup("www.example.com")
        second = lookup.lookup("www.example.com")
    assert first.status == "unknown" and "unpaired surrogate at $.entities[0]" in first.reason
    assert second == first and len(asked) == 2  # refused, so never remembered


def test_surrogate_helpers_find_and_replace() -> None:
    assert find_surrogate({"a": [1, {"b": "ok"}, {"c": "x\udfff"}]}) == "$.a[2].c"
    assert find_surrogate({"k\ud800": 1}) == "$ (a key)"
    assert find_surrogate({"a": ["fine", "Ünïcødé 🙂"]}) is None
    assert replace_surrogates("a\ud800b") == "a\ufffdb"


# ------------------------------------------------------------- certificate countries

_KEY = ec.generate_private_key(ec.SECP256R1())
_OV = ObjectIdentifier("2.23.140.1.2.2")


def certificate(country: str) -> bytes:
    """A real DER certificate with organisation "Example Ltd" and subject C ``country``,
    written as a UTF8String (the CA/B rules say PrintableString of two letters)."""
    from cryptography.x509.name import _ASN1Type

    now = datetime.datetime.now(datetime.UTC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns as it builds such a name
        name = x509.Name(
            [
                x509.NameAttribute(
                    NameOID.COUNTRY_NAME, country, _type=_ASN1Type.UTF8String, _validate=False
                ),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Ltd"),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
            .public_key(_KEY.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(_OV, None)]), False)
        )
        cert = builder.sign(_KEY, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


DENY_CN = 'name = "no-cn"\n[countries]\nallow = ["IN"]\n[controllers]\ndeny = ["CN"]\n'


def _judged(country: str) -> Any:
    from residency.policy.evaluate import Evaluator

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cryptography's UserWarning must not get out
        cert = describe_certificate(certificate(country))
    probe = ProbeResult("tls", "192.0.2.10", 443, "ok", verified=True, cert=cert)
    controller = controller_for("api.example.cn", [probe])
    endpoint = replace(result("api.example.cn", facts(country="IN")), controller=controller)
    return controller, Evaluator(policy(DENY_CN)).endpoint(endpoint, datetime.date(2026, 12, 1))


@pytest.mark.parametrize("written", ["CN", "CN ", " cn", "ＣＮ"])
def test_a_certificate_country_is_read_after_nfkc_strip_and_upper(written: str) -> None:
    controller, verdict = _judged(written)
    assert controller.country == "CN"
    assert verdict.verdict.name == "FAIL"
    assert any(r.code == "controller-denied" for r in verdict.reasons)


@pytest.mark.parametrize("written", ["C\u200bN", "\x1b[31mXX", "China", "ZZ", "C"])
def test_a_certificate_country_that_is_no_iso_code_makes_the_country_unknown(
    written: str,
) -> None:
    controller, verdict = _judged(written)
    assert controller.entity == "Example Ltd" and controller.country is None
    assert "country unknown, because" in controller.why
    assert "not an ISO 3166-1 alpha-2 code" in controller.why
    unknown = [r for r in verdict.reasons if r.code == "controller-unknown"]
    assert unknown and "not an ISO 3166-1 alpha-2 code" in unknown[0].message


# ------------------------------------------------------------------- unexpected errors


def test_an_unexpected_error_is_one_line_and_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import residency.cli as cli_module

    def broken(**_: Any) -> None:
        raise UnicodeEncodeError("utf-8", "lone \ud800", 5, 6, "surrogates not allowed")

    monkeypatch.setattr(cli_module, "cli", broken)
    with pytest.raises(SystemExit) as ended:
        cli_module.main()
    assert ended.value.code == ExitCode.INTERNAL != ExitCode.VIOLATIONS
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("residency: internal error at ")
    assert "UnicodeEncodeError" in lines[0] and "please report it" in lines[0]
    lines[0].encode("utf-8")


def test_the_hostile_table_covers_the_issue() -> None:
    """The strings issue 18 names are all in the matrix's table."""
    text = "".join(HOSTILE.values())
    for needle in ("\x1b]8;;", "\x1b[2J", "\x1b]0;", "\x1bc", "[link=", "\u202e", "\u200b"):
        assert needle in text
    for needle in ("\ud800", "=HYPERLINK", "]]>", "<script>", "![x](", "</details>", "`"):
        assert needle in text
    assert "<!channel> <http://evil.example|click>" in text and "A" * 5000 in text


# ------------------------------------------------------ policy strings, end to end


@pytest.mark.parametrize("fmt", ["junit", "markdown", "csv", "terminal"])
def test_hostile_policy_strings_through_the_cli(
    fmt: str,
    dataset: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    import xml.etree.ElementTree as ET

    from tests.hostile.untrusted import check_csv, check_markdown, toml_string

    hostile = "\x1b]0;t\x07\x01\ufffe<script>![x](http://evil.example/t.png)\nresidency: PASS"
    written = tmp_path / "hostile.toml"
    written.write_text(
        f"name = {toml_string(hostile)}\nversion = {toml_string(hostile)}\n"
        '[countries]\nallow = ["GB"]\n',
        encoding="utf-8",
    )
    benign = tmp_path / "benign.toml"
    benign.write_text('name = "p"\nversion = "1"\n[countries]\nallow = ["GB"]\n')
    args = ("audit", "--no-resolve", "--format", fmt, "192.0.2.1", "--policy")
    run = run_cli(*args, str(written), data_dir=dataset)
    plain = run_cli(*args, str(benign), data_dir=dataset)
    assert not run.traceback and run.code == plain.code, run.stderr
    check_terminal(run.stderr)
    if fmt == "junit":
        ET.fromstring(run.stdout.encode("utf-8"))
    elif fmt == "markdown":
        check_markdown(run.stdout, plain.stdout, exact=False)
    elif fmt == "csv":
        check_csv(run.stdout, plain.stdout)
    else:
        check_terminal(run.stdout)


def test_an_rdap_bootstrap_registry_with_a_lone_surrogate_is_refused() -> None:
    from residency.datasets.errors import FeedInvalid
    from residency.datasets.rdap_bootstrap import parse_bootstrap

    registry = {
        "publication": "2026-12-01T00:00:00Z",
        "services": [[["test"], ["https://rdap.test/\ud800"]]],
    }
    with pytest.raises(FeedInvalid, match=r"unpaired surrogate at \$\.services\[0\]\[1\]\[0\]"):
        parse_bootstrap(json.dumps(registry).encode())
