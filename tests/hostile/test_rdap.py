"""A misbehaving RDAP server against the real ``residency ip --rdap`` command.

Each case puts one hostile answer among good ones. The contract: the command exits 0
(a bad registry answer is not bad input), with no traceback, in bounded time, the hostile
address's registration is "unknown (reason)", and the other addresses of the same call
are still located and registered correctly (nothing the hostile answer claimed leaks
into their registration through the cache).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.runner import Run, run_cli
from tests.integration.rdapserver import HOSTILE, RdapServer
from tests.support import FIXTURES

#: Every case must end well inside this (the per-lookup deadline is 10 s).
BOUND = 15.0


def network(start: str, end: str, name: str, org: str, handle: str) -> dict[str, Any]:
    return {
        "objectClassName": "ip network",
        "handle": handle,
        "startAddress": start,
        "endAddress": end,
        "ipVersion": "v4",
        "name": name,
        "port43": "whois.arin.net",
        "entities": [
            {
                "handle": f"{name}-ORG",
                "roles": ["registrant"],
                "vcardArray": [
                    "vcard",
                    [["fn", {}, "text", org], ["adr", {"cc": "US"}, "text", ""]],
                ],
            }
        ],
    }


GOOD = [
    network("13.228.0.0", "13.229.255.255", "AT-88-Z", "Amazon Technologies Inc.", "NET-13-228"),
    network("8.8.8.0", "8.8.8.255", "LVLT-GOGL-8-8-8", "Google LLC", "NET-8-8-8-0-1"),
]

#: The address each behaviour answers for (public, distinct networks).
TARGETS = {
    "whole-internet": "13.240.1.1",
    "whole-ipv6": "2600:1f18::1",
    "somewhere-else": "13.241.1.1",
    "deep-nesting": "13.242.1.1",
    "deep-entities": "13.248.1.1",
    "wrong-types": "13.243.1.1",
    "wrong-types-inside": "13.249.1.1",
    "huge-body": "13.244.1.1",
    "slow-drip": "13.250.1.1",
    "redirect-off-list": "13.245.1.1",
    "redirect-loop": "13.246.1.1",
}

#: What the reason must say for each behaviour.
REASONS = {
    "whole-internet": "implausibly wide",
    "whole-ipv6": "implausibly wide",
    "somewhere-else": "does not contain 13.241.1.1",
    "deep-nesting": "nested too deeply",
    "deep-entities": "",  # decodable and parsed: the registration may be known
    "wrong-types": "startAddress is a number, not a string",
    "wrong-types-inside": "name is a list, not a string",
    "huge-body": "larger than 1 MiB",
    "slow-drip": "deadline of 10s",
    "redirect-off-list": "redirect to https://rdap.invalid/ip/13.245.1.1 refused",
    "redirect-loop": "redirect",
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Only the test's own GeoIP and ASN files: enough to locate, no shared snapshots.
    from residency.datasets.importer import import_files
    from tests.locate.fixtures import write_ipdb_layout, write_maxmind_layout

    tmp = tmp_path_factory.mktemp("rdap-hostile")
    directory = tmp / "datasets"
    plan = [
        ("dbip-country", write_maxmind_layout(tmp / "GeoLite2-Country-test.mmdb")),
        ("geo-whois-asn-country", write_ipdb_layout(tmp / "ipdb-country-test.mmdb")),
        ("ipdb-asn", FIXTURES / "locate" / "asn-ipv4.csv"),
    ]
    for dataset, path in plan:
        report = import_files([path], as_dataset=dataset, directory=directory)
        assert report.ok, report.outcomes
    return directory


@pytest.fixture(scope="module")
def server() -> Iterator[RdapServer]:
    running = RdapServer(GOOD, behaviours={TARGETS[name]: b for name, b in HOSTILE.items()})
    try:
        yield running
    finally:
        running.stop()


def audit_ip(
    dataset: Path, server: RdapServer, tmp_path: Path, *addresses: str, **env: str
) -> tuple[Run, float]:
    started = time.monotonic()
    run = run_cli(
        "ip",
        "--json",
        "--rdap",
        "--rdap-url",
        server.base_url,
        *addresses,
        data_dir=dataset,
        env={"RESIDENCY_GEOIP": "", "RESIDENCY_RDAP_CACHE": str(tmp_path / "rdap.sqlite3"), **env},
        timeout=60,
    )
    return run, time.monotonic() - started


def registrations(run: Run) -> dict[str, dict[str, Any]]:
    doc = json.loads(run.stdout)
    return {a["ip"]: a["registration"] for a in doc["addresses"]}


def assert_good_ones_answered(found: dict[str, dict[str, Any]]) -> None:
    amazon, google = found["13.228.0.1"], found["8.8.8.8"]
    assert (amazon["status"], amazon["org"], amazon["cidr"]) == (
        "known",
        "Amazon Technologies Inc.",
        "13.228.0.0/15",
    )
    assert (google["status"], google["org"], google["cidr"]) == (
        "known",
        "Google LLC",
        "8.8.8.0/24",
    )


@pytest.mark.parametrize("behaviour", sorted(TARGETS))
def test_hostile_answer_is_unknown_and_the_rest_is_answered(
    behaviour: str, dataset: Path, server: RdapServer, tmp_path: Path
) -> None:
    target = TARGETS[behaviour]
    # The hostile address first, so a poisoned cache would answer for the good ones.
    run, took = audit_ip(dataset, server, tmp_path, target, "13.228.0.1", "8.8.8.8")
    assert not run.traceback, run.stderr[-2000:]
    assert run.code == 0, (run.code, run.stderr[-2000:])
    assert took < BOUND, took
    found = registrations(run)
    assert_good_ones_answered(found)
    hostile = found[target]
    if behaviour == "deep-entities":
        # Deep but decodable: parsed to the depth entities are read, nothing more.
        assert hostile["status"] == "known" and hostile["cidr"] == "13.248.0.0/16"
        return
    assert hostile["status"] == "unknown", hostile
    assert REASONS[behaviour] in hostile["reason"], hostile["reason"]


def test_whole_internet_answer_is_not_cached_for_a_second_run(
    dataset: Path, server: RdapServer, tmp_path: Path
) -> None:
    first, _ = audit_ip(dataset, server, tmp_path, TARGETS["whole-internet"])
    assert registrations(first)[TARGETS["whole-internet"]]["status"] == "unknown"
    # Same cache file: 13.228.0.1 must come from its own network, not 0.0.0.0/0.
    second, _ = audit_ip(dataset, server, tmp_path, "13.228.0.1", "8.8.8.8")
    assert_good_ones_answered(registrations(second))


def test_stage_budget_bounds_the_whole_rdap_stage(
    dataset: Path, server: RdapServer, tmp_path: Path
) -> None:
    run, took = audit_ip(
        dataset,
        server,
        tmp_path,
        TARGETS["slow-drip"],
        "13.228.0.1",
        "8.8.8.8",
        RESIDENCY_RDAP_BUDGET="2",
    )
    assert not run.traceback and run.code == 0, run.stderr[-2000:]
    assert took < 10, took
    found = registrations(run)
    spent = "RDAP stage time budget of 2s spent"
    assert found[TARGETS["slow-drip"]]["status"] == "unknown"
    assert spent in found[TARGETS["slow-drip"]]["reason"]
    assert (found["13.228.0.1"]["status"], found["13.228.0.1"]["reason"]) == ("unknown", spent)
    # Located all the same: the budget bounds registration, not the audit.
    doc = json.loads(run.stdout)
    assert [a["ip"] for a in doc["addresses"]] == [TARGETS["slow-drip"], "13.228.0.1", "8.8.8.8"]
    assert doc["addresses"][1]["location"]["place"]["country"] == "SG"


def test_bad_stage_budget_setting_is_one_line(
    dataset: Path, server: RdapServer, tmp_path: Path
) -> None:
    run, _ = audit_ip(dataset, server, tmp_path, "13.228.0.1", RESIDENCY_RDAP_BUDGET="soon")
    assert not run.traceback
    assert run.code == 2
    assert run.error_lines() == [
        "residency: $RESIDENCY_RDAP_BUDGET='soon': must be a number of seconds above 0"
    ]


def test_text_output_never_prints_none_for_a_missing_part(
    dataset: Path, server: RdapServer, tmp_path: Path
) -> None:
    # The recorded network for 13.228.0.0/15 names no RIR by its port43 once removed.
    unnamed = RdapServer(
        [{k: v for k, v in GOOD[0].items() if k not in ("port43", "handle")} | {"handle": "X"}]
    )
    try:
        run = run_cli(
            "ip",
            "--rdap",
            "--rdap-url",
            unnamed.base_url,
            "13.228.0.1",
            data_dir=dataset,
            env={"RESIDENCY_GEOIP": "", "RESIDENCY_RDAP_CACHE": str(tmp_path / "c.sqlite3")},
        )
    finally:
        unnamed.stop()
    assert run.code == 0, run.stderr
    line = next(x for x in run.stdout.splitlines() if x.strip().startswith("registered"))
    assert "None" not in line
    assert line.split(None, 1)[1] == "Amazon Technologies Inc., US (13.228.0.0/15)"
