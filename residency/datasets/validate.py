"""Check downloaded or imported files before they replace anything: parse them for real."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed
from residency.datasets.parsers import PARSERS, make_geofeed_parser
from residency.datasets.parsers.ipdb_asn import parse_ranges
from residency.datasets.sources import Source
from residency.timefmt import iso_day

#: Addresses that any country or ASN database worth the name covers.
PROBE_ADDRESSES = ("8.8.8.8", "1.1.1.1", "13.228.0.1", "81.2.69.142", "2001:4860:4860::8888")


@dataclass(frozen=True)
class Validated:
    """What validation learnt about a dataset's files."""

    version: str  # upstream version or build date
    records: int  # parsed records (feeds, ASN ranges) or search-tree nodes (mmdb)
    layout: str | None = None  # mmdb: "maxmind" or "ip-location-db"
    notes: tuple[str, ...] = ()


def _parser_for(source: Source, parsers: Mapping[str, Callable[[bytes], ParsedFeed]]) -> Any:
    if source.parser and source.parser in parsers:
        return parsers[source.parser]
    if source.kind == "geofeed":
        # User-added geofeeds get a parser that tags records with their own dataset id.
        return make_geofeed_parser(source.id, source.provider)
    raise FeedInvalid(f"{source.id}: no parser {source.parser!r} for this dataset")


def _read(path: Path, label: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise FeedInvalid(f"{label}: cannot read {path} ({err.strerror})") from err


def validate_feed(
    source: Source,
    files: Sequence[tuple[str, Path]],
    parsers: Mapping[str, Callable[[bytes], ParsedFeed]] = PARSERS,
    labels: Mapping[str, str] | None = None,
) -> Validated:
    """Parse every file with the source's parser; refuse a file with no records.

    Each file's notes start with its name (``labels`` maps a stored name to the name
    the user knows, e.g. the imported file's), so a note says which file it is about.
    """
    parse = _parser_for(source, parsers)
    versions: list[str] = []
    notes: list[str] = []
    total = 0
    for name, path in files:
        feed: ParsedFeed = parse(_read(path, source.id))
        if not feed.records:
            raise FeedInvalid(f"{source.id}: {name} has no records")
        total += len(feed.records)
        if feed.version not in versions:
            versions.append(feed.version)
        label = (labels or {}).get(name, name)
        notes.extend(f"{label}: {note}" for note in feed.notes[:5])
    return Validated(version=" + ".join(versions), records=total, notes=tuple(notes))


#: Rows of an ASN CSV parsed at its head and at its tail; the rest is counted.
ASN_SAMPLE_HEAD = 20000
ASN_SAMPLE_TAIL = 200


def validate_asn_csv(source: Source, files: Sequence[tuple[str, Path]]) -> Validated:
    """Check an ip-location-db ASN CSV: parse its head and tail, count its rows.

    The files hold about a million rows; parsing every one would cost seconds of CPU on
    each update and prove little more than head, tail and row count do (a truncated or
    wrong-format file fails at one of them, and the count feeds the shrink check).
    """
    total = 0
    for name, path in files:
        data = _read(path, source.id)
        lines = data.splitlines(keepends=True)
        rows = sum(1 for line in lines if line.strip() and not line.startswith(b"#"))
        head = b"".join(lines[:ASN_SAMPLE_HEAD])
        tail = b"".join(lines[-ASN_SAMPLE_TAIL:])
        parsed_head = sum(1 for _ in parse_ranges(head))
        parsed_tail = sum(1 for _ in parse_ranges(tail))
        if rows == 0 or parsed_head == 0 or parsed_tail == 0:
            raise FeedInvalid(f"{source.id}: {name} has no ASN ranges")
        sampled = min(rows, ASN_SAMPLE_HEAD)
        if parsed_head < sampled * 0.9:
            raise FeedInvalid(
                f"{source.id}: {name}: only {parsed_head} of the first {sampled} rows are "
                "'start_ip,end_ip,asn,org' ranges"
            )
        total += rows
    return Validated(version="unversioned", records=total)


def _layout(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    if "country_code" in record:
        return "ip-location-db"
    if any(k in record for k in ("country", "registered_country", "continent")):
        return "maxmind"
    return None


def _has_claim(record: Any, kind: str) -> bool:
    if not isinstance(record, dict):
        return False
    if kind == "mmdb-asn":
        return "autonomous_system_number" in record or "asn" in record
    if isinstance(record.get("country_code"), str):
        return True
    for key in ("country", "registered_country"):
        value = record.get(key)
        if isinstance(value, dict) and isinstance(value.get("iso_code"), str):
            return True
    return False


def validate_mmdb(source: Source, files: Sequence[tuple[str, Path]]) -> Validated:
    """Open each mmdb, check its metadata and that well-known addresses get an answer."""
    nodes = 0
    build = 0
    layout: str | None = None
    for name, path in files:
        try:
            reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
        except (maxminddb.InvalidDatabaseError, ValueError, OSError) as err:
            raise FeedInvalid(f"{source.id}: {name} is not a valid mmdb ({err})") from err
        try:
            meta = reader.metadata()
            if meta.node_count <= 0:
                raise FeedInvalid(f"{source.id}: {name} is an empty mmdb")
            answered = 0
            for address in PROBE_ADDRESSES:
                if ":" in address and meta.ip_version != 6:
                    continue
                try:
                    record = reader.get(address)
                except (maxminddb.InvalidDatabaseError, ValueError) as err:
                    raise FeedInvalid(f"{source.id}: {name} is corrupt ({err})") from err
                if _has_claim(record, source.kind):
                    answered += 1
                    layout = layout or _layout(record)
            if answered == 0:
                what = "an ASN" if source.kind == "mmdb-asn" else "a country"
                raise FeedInvalid(
                    f"{source.id}: {name} ({meta.database_type}) gives {what} for none of "
                    f"{', '.join(PROBE_ADDRESSES)}; wrong database?"
                )
            nodes += int(meta.node_count)
            build = max(build, int(meta.build_epoch))
        finally:
            reader.close()
    version = iso_day(build) if build else "unknown"
    return Validated(version=version, records=nodes, layout=layout)


def validate_rdap_bootstrap(source: Source, files: Sequence[tuple[str, Path]]) -> Validated:
    """An RDAP bootstrap registry: its publication date and how many labels it lists."""
    from residency.datasets.rdap_bootstrap import parse_bootstrap

    publication, labels = "", 0
    for name, path in files:
        table = parse_bootstrap(_read(path, f"{source.id}: {name}"), str(path))
        publication, labels = table.publication, labels + len(table.services)
    return Validated(version=publication, records=labels)


def validate_suffix_list(source: Source, files: Sequence[tuple[str, Path]]) -> Validated:
    """The public suffix list: its VERSION line (or a content hash) and its ICANN rules."""
    from residency.datasets.suffix_list import check_suffix_list

    version, rules = "", 0
    for name, path in files:
        version, count = check_suffix_list(_read(path, f"{source.id}: {name}"))
        rules += count
    return Validated(version=version, records=rules)


def _date_in_names(files: Sequence[tuple[str, Path]], labels: Mapping[str, str] | None) -> str:
    """A date in the imported files' names (``disconnect-entities_2026-08-07.json``)."""
    import re

    for name, _ in files:
        found = re.search(r"(20\d\d)-?([01]\d)-?([0-3]\d)", (labels or {}).get(name, ""))
        if found:
            return "-".join(found.groups())
    return "unversioned"


def validate_entity_list(
    source: Source, files: Sequence[tuple[str, Path]], labels: Mapping[str, str] | None = None
) -> Validated:
    """A domain-owner table: stream-parse every file (bounded memory); its organisations
    count as records. A file of the wrong shape is ``FeedInvalid`` naming it."""
    from residency.control.entities import parse_files

    parsed = parse_files(source.id, files)
    records = sum(len(p.records) for p in parsed)
    if records == 0:
        raise FeedInvalid(f"{source.id}: no organisations in {', '.join(n for n, _ in files)}")
    notes = tuple(note for p in parsed for note in p.notes)
    return Validated(version=_date_in_names(files, labels), records=records, notes=notes)


def validate_dpf_list(
    source: Source, files: Sequence[tuple[str, Path]], labels: Mapping[str, str] | None = None
) -> Validated:
    from residency.control.dpf import parse_dpf

    names = 0
    for name, path in files:
        names += len(parse_dpf(_read(path, source.id), f"{source.id}: {name}"))
    return Validated(version=_date_in_names(files, labels), records=names)


def validate(
    source: Source,
    files: Sequence[tuple[str, Path]],
    parsers: Mapping[str, Callable[[bytes], ParsedFeed]] = PARSERS,
    labels: Mapping[str, str] | None = None,
) -> Validated:
    """Validate ``(stored name, path)`` pairs the way the source's kind demands.

    Raises ``FeedInvalid`` naming the dataset and what is wrong.
    """
    if not files:
        raise FeedInvalid(f"{source.id}: no files to validate")
    if source.kind in ("mmdb-country", "mmdb-asn"):
        return validate_mmdb(source, files)
    if source.kind == "asn-csv":
        return validate_asn_csv(source, files)
    if source.kind == "rdap-bootstrap":
        return validate_rdap_bootstrap(source, files)
    if source.kind == "suffix-list":
        return validate_suffix_list(source, files)
    if source.kind == "entity-list":
        return validate_entity_list(source, files, labels)
    if source.kind == "dpf-list":
        return validate_dpf_list(source, files, labels)
    return validate_feed(source, files, parsers, labels)
