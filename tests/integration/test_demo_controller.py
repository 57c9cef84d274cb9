"""The real demo, end to end: Knot on 127.0.0.1, the demo TLS server, the defence-personnel
audit with probes. The account API fails on location (SG) and on controller (CN), named in
its verdict; probes went only to 127.0.0.1; CDN names are judged by the edge seen."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from residency.demo.tls_server import KITEPAY, KITEPHONE, DemoTlsServer
from residency.locate.locator import Locator
from residency.probe.tls import TlsProbe
from tests.integration.dnsserver import require_knot
from tests.locate.fixtures import imported_dataset
from tests.support import SHARED_DATA

pytestmark = pytest.mark.integration

ACCOUNT = "api.account.kitephone.demo.residency.test"


def documents(text: str) -> list[dict[str, Any]]:
    """The JSON reports the demo's audits printed one after another."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        doc, at = decoder.raw_decode(text, at)
        out.append(doc)
    return out


def test_demo_tls_server_answers_per_sni(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = DemoTlsServer(tmp_path).start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        probe = TlsProbe(timeout=2.0)
        phone = probe.run(ACCOUNT, "127.0.0.1", server.port)
        pay = probe.run("vault.kitepay.demo.residency.test", "127.0.0.1", server.port)
    finally:
        server.stop()
    assert phone.verified and pay.verified, (phone.detail, pay.detail)
    assert phone.cert and (phone.cert.subject_o, phone.cert.subject_c, phone.cert.validation) == (
        KITEPHONE.organisation,
        "CN",
        "ov",
    )
    assert pay.cert and (pay.cert.subject_o, pay.cert.subject_c) == (KITEPAY.organisation, "IN")
    # only the demo's own audit trusts the demo CA
    monkeypatch.delenv("SSL_CERT_FILE")
    assert ssl.get_default_verify_paths().cafile != str(server.ca_file)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data absent")
    require_knot()
    directory = imported_dataset(tmp_path_factory.mktemp("demo-data"))
    Locator.load(directory)
    return directory


def run_demo(dataset: Path, *audit_args: str) -> str:
    """``python -m residency.demo --no-vantage`` from /, as the wheel smoke test runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESIDENCY_")}
    env["COLUMNS"] = "220"
    command = [sys.executable, "-m", "residency.demo", "--no-vantage", "--data-dir", str(dataset)]
    run = subprocess.run(
        [*command, "--", *audit_args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd="/",
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return run.stdout


def test_demo_terminal_names_both_sides_and_groups(dataset: Path) -> None:
    text = run_demo(dataset)
    (row,) = [line for line in text.splitlines() if line.startswith("FAIL") and ACCOUNT in line]
    # one line: where, host, operator and controller of the endpoint
    assert row.split()[2:] == [
        "SG×2",
        "aws:ap-southeast-1",
        "Amazon",
        "Web",
        "Services",
        "(US)",
        "Beijing",
        "Kitephone",
        "Mobile",
        "Software",
        "(CN)",
    ]
    lines = text.splitlines()
    controlled = next(i for i, line in enumerate(lines) if "controlled from a country" in line)
    group = " ".join(lines[controlled : controlled + 3])
    assert lines[controlled].startswith("FAIL") and "not allowed (IN)" in group
    assert "Beijing Kitephone Mobile Software (CN): api.account…" in group
    assert any(
        line.startswith("FAIL") and "outside the allowed countries (IN)" in line for line in lines
    )
    assert "probes went to 127.0.0.1:" in text
    assert "by controller:" not in text  # the rows name each controller already


def test_demo_judges_controller_and_location(dataset: Path) -> None:
    probed, payments, _control = documents(run_demo(dataset, "--format", "json"))
    assert probed["policy"]["name"] == "defence-personnel"
    assert payments["policy"]["name"] == "india-payments"
    endpoints = {e["host"]: e for e in probed["endpoints"]}

    account = endpoints[ACCOUNT]
    assert account["verdict"] == "FAIL"
    assert account["controller"]["entity"] == KITEPHONE.organisation
    assert account["controller"]["country"] == "CN"
    codes = {r["code"] for r in account["reasons"]}
    codes |= {r["code"] for a in account["addresses"] for r in a["reasons"]}
    assert {"country-not-allowed", "controller-not-allowed"} <= codes
    assert all(a["location"]["country"] == "SG" for a in account["addresses"])
    # every probe went to the demo's server: never to the real-world addresses
    probes = [p for e in probed["endpoints"] for p in e["probes"]]
    assert probes and all(p["connected_to"].startswith("127.0.0.1:") for p in probes)
    assert {p["ip"] for p in account["probes"]} <= {a["ip"] for a in account["addresses"]}

    # cdn = "edge": the CloudFront name is judged by the (demo) Mumbai edge it was served by
    images = endpoints["images.kitephone.demo.residency.test"]
    edge_reasons = [r for a in images["addresses"] for r in a["reasons"]]
    assert any(
        r["code"] == "country-allowed"
        and "judged by the edge seen from this vantage" in r["message"]
        for r in edge_reasons
    ), edge_reasons

    groups = {(g["by"], g["name"]): g for g in probed["groups"]}
    phone = groups[("controller", KITEPHONE.organisation)]
    assert ACCOUNT in phone["endpoints"] and "SG" in phone["hosted_in"]
    assert phone["verdict"] == "FAIL"
    assert ("controller", KITEPAY.organisation) in groups
    # the payments example is unchanged: no probes, the Singapore vault still fails
    second = {e["host"]: e for e in payments["endpoints"]}
    assert second["tokens.kitepay.demo.residency.test"]["verdict"] == "FAIL"
    assert all(not e["probes"] for e in payments["endpoints"])


def test_demo_control_names_owners_and_fails_the_sovereign_cloud_on_its_parent(
    dataset: Path,
) -> None:
    """Issue 19, item 8: DV certificates, so the controller comes from entity evidence; the
    name under amazonaws.eu fails eu-sovereign on its ultimate parent, named in the reason."""
    _, _, control = documents(run_demo(dataset, "--format", "json"))
    assert control["policy"]["name"] == "eu-sovereign"
    endpoints = {e["host"]: e for e in control["endpoints"]}
    adition = endpoints["ad1.adition.com.mirror.residency.test"]
    assert adition["probes"][0]["certificate"]["validation"] == "dv"
    assert adition["controller"]["entity"] == "Adition Technologies AG"
    assert [p["entity"] for p in adition["controller"]["parents"]] == ["Virtual Minds AG"]
    assert "DV certificate: names no organisation" in adition["controller"]["why"]
    esc = endpoints["s3.eusc-de-east-1.amazonaws.eu.mirror.residency.test"]
    assert esc["verdict"] == "FAIL"
    assert esc["sovereign_cloud"]["offering"] == "aws-eusc"
    assert esc["controller"]["ultimate_parent"]["entity"] == "Amazon.com, Inc."
    (reason,) = [r for r in esc["reasons"] if r["code"] == "controller-denied"]
    assert (
        "AWS European Sovereign Cloud GmbH (DE) → Amazon.com, Inc. (US)" in reason["message"]
        and "ultimate parent Amazon.com, Inc. under US jurisdiction" in reason["message"]
    )
