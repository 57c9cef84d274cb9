"""Feed test: two real AWS ip-ranges snapshots six months apart move an address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest

from residency.datasets.interface import ParsedFeed
from residency.datasets.parsers.aws import parse
from residency.datasets.regions import RegionTable
from residency.drift import DriftKind
from residency.model import (
    AuditResult,
    ChainStep,
    Confidence,
    DataVersion,
    Endpoint,
    EndpointResult,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Outcome,
    Resolution,
    ResolvedAddress,
)
from residency.store import Store
from tests.support import shared


@dataclass(frozen=True)
class Snapshot:
    feed: ParsedFeed
    by_network: dict[ipaddress.IPv4Network, tuple[str, str | None]]  # -> (region, service)


@pytest.fixture(scope="module")
def snapshots() -> tuple[Snapshot, Snapshot]:
    out = []
    for name in ("aws-ip-ranges_2026-02-21.json", "aws-ip-ranges_2026-08-22.json"):
        feed = parse(shared("feeds", "aws", name).read_bytes())
        table: dict[ipaddress.IPv4Network, tuple[str, str | None]] = {}
        for r in feed.records:
            net = ipaddress.ip_network(r.network)
            if isinstance(net, ipaddress.IPv4Network) and r.region:
                table[net] = (r.region, r.service)
        out.append(Snapshot(feed, table))
    return out[0], out[1]


def locate(ip: str, snap: Snapshot, regions: RegionTable) -> IpFacts:
    """Longest-prefix match in one snapshot: the seam standing in for the Locator."""
    addr = ipaddress.ip_address(ip)
    best = max((n for n in snap.by_network if addr in n), key=lambda n: n.prefixlen, default=None)
    assert best is not None
    region, service = snap.by_network[best]
    place = regions.place_of("aws", region)
    evidence = Evidence(
        source="aws-ip-ranges",
        kind=EvidenceKind.PROVIDER_FEED,
        version=snap.feed.version,
        prefix=str(best),
        place=place,
        provider="aws",
        region=region,
        service=service,
    )
    return IpFacts(
        ip=ip,
        routable=True,
        location=Location(place, Confidence.HIGH, "provider-feed"),
        provider="aws",
        region=region,
        service=service,
        evidence=(evidence,),
    )


def run(run_id: str, when: str, facts: IpFacts, snap: Snapshot) -> AuditResult:
    name = "files.example.com"
    resolution = Resolution(
        name=name,
        outcome=Outcome.RESOLVED,
        chain=(ChainStep(name, "A", facts.ip, 60),),
        addresses=(ResolvedAddress(facts.ip, 60, "A"),),
    )
    endpoint = EndpointResult(Endpoint(name, name), (resolution,), (facts,))
    return AuditResult(
        run_id=run_id,
        started=when,
        finished=when,
        endpoints=(endpoint,),
        data_versions=(DataVersion("aws-ip-ranges", snap.feed.version),),
    )


def test_data_update_moves_an_address_between_regions(
    store: Store, snapshots: tuple[Snapshot, Snapshot]
) -> None:
    old, new = snapshots
    regions = RegionTable.load()
    moved = sorted(
        (
            n
            for n in old.by_network
            if n in new.by_network
            and old.by_network[n][0] != new.by_network[n][0]
            and regions.place_of("aws", new.by_network[n][0]) is not None
        ),
        key=lambda n: int(n.network_address),
    )
    assert moved, "the two snapshots should move at least one prefix between regions"
    ip = str(next(moved[0].hosts()))
    before, after = locate(ip, old, regions), locate(ip, new, regions)
    assert before.region != after.region

    store.record(run("feb", "2026-02-21T12:00:00+00:00", before, old))
    same = store.record(run("mar", "2026-03-21T12:00:00+00:00", before, old))
    assert same.events == ()
    out = store.record(run("aug", "2026-08-22T18:00:00+00:00", after, new))

    assert [c.kind for c in out.events] == [DriftKind.MOVED_BY_DATA_UPDATE]
    event = store.history("files.example.com").events[0]
    assert event.ip == ip and event.run_id == "aug"
    assert str(before.region) in (event.before or "")
    assert str(after.region) in (event.after or "")
    # Both versions of the evidence stay in the history.
    with store.backend.transaction(write=False) as tx:
        bodies = [r[0] for r in tx.query("SELECT body FROM facts")]
    assert any(old.feed.version in b for b in bodies) and any(new.feed.version in b for b in bodies)
