"""Turn each source (parsed feed, mmdb, ASN CSV, special-purpose table) into an index layer."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from residency.datasets.anycast_table import DOCUMENTED_ANYCAST_LAYER, AnycastService
from residency.datasets.interface import RangeRecord
from residency.errors import ResidencyError
from residency.locate.index.build import LayerBuilder
from residency.locate.index.read import SPECIAL_LAYER
from residency.model import EvidenceKind


class LayerError(ResidencyError):
    """A source file could not be turned into a layer (corrupt mmdb, bad CSV...)."""


#: The evidence kind of a parsed source's layer, by its kind in data/sources.toml
#: (anything else parsed is a provider feed).
FEED_KINDS: dict[str, EvidenceKind] = {
    "geofeed": EvidenceKind.GEOFEED,
    "anycast": EvidenceKind.ANYCAST,
}

PlaceOf = Any  # Callable[[str, str], Place | None]; kept loose to avoid an import cycle


def feed_layer(
    layer_id: str,
    kind: EvidenceKind,
    version: str,
    records: Iterable[RangeRecord],
    place_of: PlaceOf | None = None,
) -> LayerBuilder:
    """A provider feed or geofeed: one claim per record (prefix-specific)."""
    builder = LayerBuilder(layer_id, kind.value, version)
    for rec in records:
        place = rec.place
        if (
            place is None
            and rec.region
            and rec.provider
            and place_of is not None
            and not rec.anycast
        ):
            place = place_of(rec.provider, rec.region)
        claim: dict[str, Any] = {"p": rec.network}
        for key, value in (
            ("prov", rec.provider),
            ("reg", rec.region),
            ("svc", rec.service),
            ("asn", rec.asn),
            ("org", rec.org),
            ("kind", rec.kind.value if rec.kind.value != kind.value else None),
        ):
            if value is not None:
                claim[key] = value
        if place is not None:
            claim["cc"] = place.country
            if place.subdivision:
                claim["sub"] = place.subdivision
            if place.city:
                claim["city"] = place.city
        if rec.anycast:
            claim["any"] = True
        builder.add_network(rec.network, claim)
    return builder


def special_purpose_layer(table: Path) -> LayerBuilder:
    """Private, reserved and other never-routable blocks (data/special-purpose.csv)."""
    builder = LayerBuilder(SPECIAL_LAYER, EvidenceKind.REGISTRATION.value, "rfc6890-2026-11")
    lines = [ln for ln in table.read_text().splitlines() if ln and not ln.startswith("#")]
    for row in csv.DictReader(lines):
        builder.add_network(row["prefix"], {"p": row["prefix"], "bogon": row["reason"]})
    return builder


def documented_anycast_layer(services: Iterable[AnycastService]) -> LayerBuilder:
    """The anycast services whose operators document them (data/anycast.toml)."""
    builder = LayerBuilder(
        DOCUMENTED_ANYCAST_LAYER, EvidenceKind.ANYCAST.value, "data/anycast.toml"
    )
    for service in services:
        for prefix in service.prefixes:
            claim = {
                "p": prefix,
                "any": True,
                "svc": service.service,
                "org": service.operator,
                "note": service.cited,
            }
            builder.add_network(prefix, claim)
    return builder


_ISO_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


def _country_of(record: Any) -> tuple[str | None, str | None, str | None]:
    """Country, subdivision and city from any layout ``mmdb_layout`` recognises.

    A subdivision is kept only as an ISO 3166-2 code: ip-location-db's ``state1`` and
    IP2Location's region are names ("England"), which no policy could match.
    """
    if not isinstance(record, dict):
        return None, None, None
    cc = record.get("country_code")  # ip-location-db and IPinfo Lite layouts
    if cc is None:
        cc = record.get("country_short")  # IP2Location's own field names
    sub = record.get("state1") if isinstance(record.get("state1"), str) else None
    city = record.get("city") if isinstance(record.get("city"), str) else None
    if cc is None:  # MaxMind / DB-IP / IP2Location mmdb layout
        country = record.get("country") or record.get("registered_country") or {}
        cc = country.get("iso_code") if isinstance(country, dict) else None
        subs = record.get("subdivisions")
        if isinstance(subs, list) and subs and isinstance(subs[0], dict):
            code = subs[0].get("iso_code")
            sub = f"{cc}-{code}" if cc and code else None
        city_rec = record.get("city")
        if isinstance(city_rec, dict):
            names = city_rec.get("names") or {}
            city = names.get("en") if isinstance(names, dict) else None
    if isinstance(sub, str) and not _ISO_SUBDIVISION.match(sub.upper()):
        sub = None
    return (
        (cc.upper() if isinstance(cc, str) and len(cc) == 2 else None),
        sub.upper() if sub else None,
        city or None,
    )


def _asn_of(record: Any) -> tuple[int | None, str | None]:
    """(ASN, organisation) from MaxMind's ASN layout or IPinfo Lite's ``asn``/``as_name``."""
    if not isinstance(record, dict):
        return None, None
    asn: Any = record.get("autonomous_system_number")
    org: Any = record.get("autonomous_system_organization")
    if asn is None and isinstance(record.get("asn"), str):
        text = record["asn"].strip().upper().removeprefix("AS")
        asn = int(text) if text.isdigit() else None
        org = record.get("as_name")
    return (int(asn) if isinstance(asn, int) else None), (org if isinstance(org, str) else None)


def open_mmdb(path: Path) -> Any:
    """Open an mmdb, turning every failure into one clear LayerError line."""
    import maxminddb

    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as err:
        raise LayerError(f"{path}: not a readable MaxMind DB file ({err})") from err


def _iter_mmdb(path: Path) -> Iterator[tuple[Any, Any]]:
    import maxminddb

    reader = open_mmdb(path)
    try:
        yield from reader
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as err:
        raise LayerError(f"{path}: corrupt MaxMind DB ({err})") from err
    finally:
        reader.close()


def _add_net(builder: LayerBuilder, net: Any, claim_id: int) -> None:
    if net.version == 6 and isinstance(net, ipaddress.IPv6Network):
        mapped = net.network_address.ipv4_mapped
        if mapped is not None or (int(net.network_address) >> 96 == 0 and net.prefixlen >= 96):
            return  # the IPv4 subtree, also yielded as IPv4 networks
    builder.add_range(int(net.network_address), int(net.broadcast_address), net.version, claim_id)


def mmdb_country_layer(layer_id: str, version: str, paths: Iterable[Path]) -> LayerBuilder:
    """A GeoIP country (or city) database, in the MaxMind or ip-location-db layout."""
    builder = LayerBuilder(layer_id, EvidenceKind.GEOIP.value, version, disjoint=True)
    ids: dict[tuple[str, str | None, str | None], int] = {}
    for path in paths:
        for net, record in _iter_mmdb(path):
            key = _country_of(record)
            if key[0] is None:
                continue
            cid = ids.get(key)  # type: ignore[arg-type]
            if cid is None:
                claim: dict[str, Any] = {"cc": key[0]}
                if key[1]:
                    claim["sub"] = key[1]
                if key[2]:
                    claim["city"] = key[2]
                cid = builder.claim_id(claim)
                ids[key] = cid  # type: ignore[index]
            _add_net(builder, net, cid)
    if not builder.v4 and not builder.v6:
        raise LayerError(f"{layer_id}: no country records found (wrong database type?)")
    return builder


def mmdb_asn_layer(layer_id: str, version: str, paths: Iterable[Path]) -> LayerBuilder:
    builder = LayerBuilder(layer_id, EvidenceKind.ASN.value, version, disjoint=True)
    ids: dict[tuple[int, str | None], int] = {}
    for path in paths:
        for net, record in _iter_mmdb(path):
            asn, org = _asn_of(record)
            if asn is None:
                continue
            cid = ids.get((asn, org))
            if cid is None:
                claim: dict[str, Any] = {"asn": asn}
                if org:
                    claim["org"] = org
                cid = ids[(asn, org)] = builder.claim_id(claim)
            _add_net(builder, net, cid)
    if not builder.v4 and not builder.v6:
        raise LayerError(f"{layer_id}: no ASN records found (wrong database type?)")
    return builder


def _address_int(text: str) -> tuple[int, int]:
    """(integer, version) of an address string, fast path for the common forms."""
    if text.isdigit():  # the "-num" CSV variants carry integers already
        value = int(text)
        return value, 4 if value <= 0xFFFFFFFF else 6
    if ":" in text:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big"), 6
    return int.from_bytes(socket.inet_aton(text), "big"), 4


def asn_csv_layer(layer_id: str, version: str, blobs: Iterable[tuple[str, bytes]]) -> LayerBuilder:
    """The ip-location-db ASN CSV layout: ``first_ip,last_ip,asn,org`` (ranges)."""
    builder = LayerBuilder(layer_id, EvidenceKind.ASN.value, version, disjoint=True)
    ids: dict[tuple[int, str], int] = {}
    for name, data in blobs:
        v6_file = "ipv6" in name
        reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
        for lineno, row in enumerate(reader, 1):
            if not row or row[0].startswith("#"):
                continue
            try:
                first, fam = _address_int(row[0])
                last, _ = _address_int(row[1])
                asn = int(row[2])
            except (ValueError, IndexError, OSError) as err:
                raise LayerError(f"{name}:{lineno}: not an ASN CSV row ({err})") from err
            if v6_file and row[0].isdigit():
                fam = 6
            org = row[3] if len(row) > 3 else ""
            cid = ids.get((asn, org))
            if cid is None:
                claim: dict[str, Any] = {"asn": asn}
                if org:
                    claim["org"] = org
                cid = ids[(asn, org)] = builder.claim_id(claim)
            builder.add_range(first, last, fam, cid)
    if not builder.v4 and not builder.v6:
        raise LayerError(f"{layer_id}: no ASN rows found")
    return builder
