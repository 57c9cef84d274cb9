"""Hostile endpoints for ``--probe``: each fault is an explicit probe outcome, never a failed
audit; a bad ``--probe`` value is one clear line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from residency.locate.locator import Locator
from tests.hostile.runner import assert_clean_failure, run_cli
from tests.hostile.stubdns import StubDns
from tests.locate.fixtures import imported_dataset
from tests.probe.certs import OV, Authority
from tests.probe.servers import answer, tls_server
from tests.support import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = imported_dataset(tmp_path_factory.mktemp("probe-hostile"))
    Locator.load(directory)
    return directory


class LoopbackDns(StubDns):
    """Answers every A query with 127.0.0.1, so each name is probed on this machine."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1")


def _audit(dataset: Path, dns_server: LoopbackDns, port: int, env: dict[str, str], *names: str):  # type: ignore[no-untyped-def]
    return run_cli(
        "audit",
        *names,
        "--nameserver",
        dns_server.address,
        "--probe",
        "tls,http",
        "--probe-port",
        str(port),
        "--probe-timeout",
        "0.5",
        "--format",
        "json",
        data_dir=dataset,
        env=env,
    )


@pytest.mark.parametrize(
    ("mode", "tls_outcome", "http_outcome"),
    [
        ("stall", "timeout", "timeout"),
        ("garbage", "tls-error", "tls-error"),
        ("closed", "refused", "refused"),
    ],
)
def test_faulty_servers_are_outcomes(
    dataset: Path, tmp_path: Path, mode: str, tls_outcome: str, http_outcome: str
) -> None:
    dns_server = LoopbackDns()
    with tls_server(None, mode="stall" if mode == "closed" else mode) as port:
        if mode != "closed":
            run = _audit(dataset, dns_server, port, {}, "a.probe.test", "1.1.1.1")
    if mode == "closed":
        run = _audit(dataset, dns_server, port, {}, "a.probe.test", "1.1.1.1")
    assert run.code == 0 and not run.traceback, run.stderr[-2000:]
    report = json.loads(run.stdout)
    probed, literal = report["endpoints"]
    assert [p["outcome"] for p in probed["probes"]] == [tls_outcome, http_outcome]
    assert probed["controller"]["basis"] == "none"
    assert literal["addresses"] and literal["probes"] == []  # the rest is still audited


@pytest.mark.parametrize(
    ("kwargs", "headers", "tls_outcome", "http_outcome"),
    [
        ({"self_signed": True}, {}, "cert-invalid", "ok"),
        ({"expired": True}, {}, "cert-invalid", "ok"),
        ({}, {"Location": "/loop"}, "ok", "redirect-loop"),
        ({}, {f"x-pad-{i}": "z" * 1000 for i in range(40)}, "ok", "too-large"),
    ],
)
def test_bad_certificates_and_responses(
    dataset: Path,
    tmp_path: Path,
    kwargs: dict[str, bool],
    headers: dict[str, str],
    tls_outcome: str,
    http_outcome: str,
) -> None:
    ca = Authority(tmp_path)
    pair = ca.leaf("leaf", ["a.probe.test"], org="Probe Ltd", country="GB", policy=OV, **kwargs)
    status = "302 Found" if "Location" in headers else "200 OK"
    with tls_server(pair, answer(status, headers)) as port:
        run = _audit(dataset, LoopbackDns(), port, {"SSL_CERT_FILE": str(ca.pem)}, "a.probe.test")
    assert run.code == 0 and not run.traceback, run.stderr[-2000:]
    (probed,) = json.loads(run.stdout)["endpoints"]
    assert [p["outcome"] for p in probed["probes"]] == [tls_outcome, http_outcome]
    trusted = tls_outcome == "ok"
    assert (probed["controller"]["entity"] == "Probe Ltd") is trusted


def test_unknown_probe_is_usage_error(dataset: Path) -> None:
    run = run_cli("audit", "1.1.1.1", "--probe", "tls,ping", data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="unknown probe")
    assert len(run.error_lines()) == 1


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("--probe", "rtt"), "--from"),  # rtt needs to know where the auditor runs
        (("--probe", "rtt", "--from", "Germany"), "--from"),
        (("--probe", "rtt", "--from", "91,0"), "--from"),  # latitude out of range
        (("--probe", "rtt", "--from", "SG"), "SG"),  # too small for the outlines: give LAT,LON
    ],
)
def test_bad_rtt_origin_is_one_line_before_any_probe(
    dataset: Path, args: tuple[str, ...], mentions: str
) -> None:
    run = run_cli("audit", "192.0.2.1", *args, data_dir=dataset)
    assert_clean_failure(run, code=2, mentions=mentions)
    assert len(run.error_lines()) == 1, run.stderr
