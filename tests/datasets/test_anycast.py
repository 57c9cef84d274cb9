"""bgp.tools' measured anycast list: the parser, its source entry, update offline, import."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from residency.datasets.errors import FeedInvalid
from residency.datasets.importer import import_files
from residency.datasets.manifest import load_manifest
from residency.datasets.parsers import PARSERS
from residency.datasets.sources import all_sources
from residency.datasets.status import data_status
from residency.datasets.update import Status, update
from residency.model import EvidenceKind
from tests.support import shared

parse = PARSERS["bgptools-anycast"]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def networks(data: bytes) -> set[str]:
    return {r.network for r in parse(data).records}


def test_one_cidr_a_line_measured_anycast_without_provider_or_place() -> None:
    feed = parse(b"1.1.1.0/24\n2001:500:1::/48\n\n# comment\n8.8.8.0/24\n1.1.1.0/24\n")
    assert [r.network for r in feed.records] == ["1.1.1.0/24", "2001:500:1::/48", "8.8.8.0/24"]
    assert all(r.anycast and r.kind is EvidenceKind.ANYCAST for r in feed.records)
    assert all(r.provider is None and r.place is None for r in feed.records)
    assert feed.version.startswith("sha256:") and feed.notes == ()


def test_junk_lines_are_counted_and_dropped_with_one_note() -> None:
    good = "".join(f"10.{i}.0.0/16\n" for i in range(40))
    feed = parse(f"{good}not-a-prefix\n10.99.0.0/33\n".encode())
    assert len(feed.records) == 40
    assert feed.notes == (
        "dropped 2 lines that are not IP networks "
        "(line 41: 'not-a-prefix', line 42: '10.99.0.0/33')",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html>\n<html><body>rate limited</body></html>\n",
        b"1.1.1.0/24\n<html>\n<body>\n",  # mostly junk: not this list
        b"\n\n",
    ],
)
def test_a_file_that_is_not_the_list_is_refused(body: bytes) -> None:
    with pytest.raises(FeedInvalid, match=r"^bgptools-anycast: "):
        parse(body)


def test_real_snapshots_six_months_apart() -> None:
    older = networks(shared("anycast", "bgptools-anycatch-v4_2026-02-22.txt").read_bytes())
    newer = networks(shared("anycast", "bgptools-anycatch-v4_2026-08-22.txt").read_bytes())
    v6 = networks(shared("anycast", "bgptools-anycatch-v6_2026-08-22.txt").read_bytes())
    assert len(newer) > 4000 and len(v6) > 1500
    assert {"1.1.1.0/24", "8.8.8.0/24"} <= older & newer
    assert all(ipaddress.ip_network(n).version == 6 for n in v6)
    # the list moves: prefixes come and go between the snapshots
    assert newer - older and older - newer


def test_source_entry_official_urls_only() -> None:
    source = all_sources()["bgptools-anycast"]
    assert source.kind == "anycast" and source.parser == "bgptools-anycast"
    assert source.mirror is None  # no package registry carries it
    assert all("bgptools/anycast-prefixes" in url for url in source.urls)
    assert [u.rsplit("/", 1)[1] for u in source.urls] == [
        "anycatch-v4-prefixes.txt",
        "anycatch-v6-prefixes.txt",
    ]
    assert source.attribution and source.licence


def test_offline_update_fails_fast_and_status_says_no_mirror(tmp_path: Path) -> None:
    source = all_sources()["bgptools-anycast"]

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host", request=request)

    client = httpx.Client(transport=httpx.MockTransport(unreachable))
    report = update(
        directory=tmp_path,
        sources={source.id: source},
        client=client,
        mirrors={},
        now=NOW,
    )
    (outcome,) = report.outcomes
    assert outcome.status is Status.FAILED and outcome.seconds < 5
    assert "no mirror exists" in outcome.detail
    assert "--as bgptools-anycast" in outcome.detail
    assert "bgptools-anycast" not in load_manifest(tmp_path).entries
    (row,) = [d for d in data_status(tmp_path).datasets if d.dataset == "bgptools-anycast"]
    assert not row.present
    assert "no mirror exists" in row.line() and "--as bgptools-anycast" in row.line()


def test_import_for_air_gapped_sites(tmp_path: Path) -> None:
    v4 = shared("anycast", "bgptools-anycatch-v4_2026-08-22.txt")
    v6 = shared("anycast", "bgptools-anycatch-v6_2026-08-22.txt")
    report = import_files([v4, v6], as_dataset="bgptools-anycast", directory=tmp_path)
    assert report.ok, report.outcomes
    entry = load_manifest(tmp_path).entries["bgptools-anycast"]
    assert entry.kind == "anycast"
    assert [f.name for f in entry.files] == [
        "anycatch-v4-prefixes.txt",
        "anycatch-v6-prefixes.txt",
    ]


def test_import_recognises_the_file_by_name(tmp_path: Path) -> None:
    # without --as a bare CIDR list would otherwise pass for Cloudflare's ips-v4
    listing = tmp_path / "anycatch-v4-prefixes.txt"
    listing.write_bytes(b"1.1.1.0/24\n8.8.8.0/24\n")
    report = import_files([listing], directory=tmp_path / "data")
    assert report.ok, report.outcomes
    assert "bgptools-anycast" in load_manifest(tmp_path / "data").entries
