"""Which record layout a GeoIP mmdb uses, from its metadata ``database_type`` and its records.

``--geoip FILE`` takes any of the free GeoIP databases people have at hand; each
writes its records differently:

- MaxMind (GeoLite2/GeoIP2) and DB-IP: nested ``country.iso_code``,
  ``subdivisions[].iso_code``, ``city.names.en``; ASN databases
  ``autonomous_system_number``/``autonomous_system_organization``;
- ip-location-db: flat ``country_code`` (and ``state1``, ``city`` in city files);
- IPinfo Lite (``ipinfo_lite.mmdb``): flat ``country_code`` plus ``asn`` as text
  (``"AS15169"``) and ``as_name``: one file gives both a country and an ASN layer;
- IP2Location LITE mmdb: MaxMind-compatible nested records (``country.iso_code``,
  subdivision and city names without codes), or IP2Location's own flat
  ``country_short``/``region``/``city`` field names.

A file in none of these layouts is refused with one line naming it: guessing at
unknown field names could turn a different database's codes into countries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

from residency.errors import ResidencyError

SAMPLE_RECORDS = 64


class MmdbLayoutError(ResidencyError):
    """An mmdb file that cannot be read, or whose records are in no layout residency reads."""


@dataclass(frozen=True)
class MmdbLayout:
    """How to read one mmdb file's records, and whose data it is."""

    name: str  # "maxmind" | "maxmind-asn" | "ip-location-db" | "ipinfo-lite" | "ip2location-lite"
    country: bool  # records give a country (a GeoIP layer)
    asn: bool  # records give an ASN (an ASN layer)
    licence: str = ""
    attribution: str = ""


#: The source in data/sources.toml whose licence and attribution a user's own GeoLite2
#: file (from geoipupdate) carries too.
GEOLITE2_SOURCE = "geolite2-city"

#: The layouts residency reads, by name.
LAYOUTS: Mapping[str, MmdbLayout] = {
    "maxmind": MmdbLayout("maxmind", country=True, asn=False),
    "maxmind-asn": MmdbLayout("maxmind-asn", country=False, asn=True),
    "ip-location-db": MmdbLayout("ip-location-db", country=True, asn=False),
    "ipinfo-lite": MmdbLayout(
        "ipinfo-lite",
        country=True,
        asn=True,
        licence="CC BY-SA 4.0 (IPinfo Lite, https://ipinfo.io/lite)",
        attribution="IP address data powered by IPinfo (https://ipinfo.io)",
    ),
    "ip2location-lite": MmdbLayout(
        "ip2location-lite",
        country=True,
        asn=False,
        licence="CC BY-SA 4.0 (IP2Location LITE, https://lite.ip2location.com)",
        attribution=(
            "This site or product includes IP2Location LITE data available from "
            "https://lite.ip2location.com"
        ),
    ),
}
KNOWN = "MaxMind/DB-IP, ip-location-db, IPinfo Lite or IP2Location LITE"


def _nested_country(record: Mapping[str, Any]) -> bool:
    for key in ("country", "registered_country"):
        value = record.get(key)
        if isinstance(value, dict) and isinstance(value.get("iso_code"), str):
            return True
    return False


def layout_of_record(database_type: str, record: Any, file_name: str = "") -> str | None:
    """The layout name one record shows, or None when it fits no known layout.

    IP2Location's and IPinfo's MaxMind-compatible files are told apart from MaxMind's
    by their ``database_type`` or, failing that, the vendor's name in the file name.
    """
    if not isinstance(record, dict):
        return None
    kind = f"{database_type} {file_name}".lower()
    asn_text = record.get("asn")
    if isinstance(record.get("country_code"), str) and (
        "as_name" in record
        or (isinstance(asn_text, str) and asn_text.upper().startswith("AS"))
        or "ipinfo" in kind
    ):
        return "ipinfo-lite"
    if "ip2location" in kind and (_nested_country(record) or "country_short" in record):
        return "ip2location-lite"
    if isinstance(record.get("autonomous_system_number"), int):
        return "maxmind-asn"
    if _nested_country(record):
        return "maxmind"
    if isinstance(record.get("country_code"), str):
        return "ip-location-db"
    return None


def _licensed(layout: MmdbLayout, database_type: str) -> MmdbLayout:
    if layout.name.startswith("maxmind") and database_type.lower().startswith("geolite2"):
        from residency.datasets.sources import SOURCES

        geolite2 = SOURCES[GEOLITE2_SOURCE]
        return replace(layout, licence=geolite2.licence, attribution=geolite2.attribution)
    return layout


def detect_layout(path: Path) -> tuple[MmdbLayout, str]:
    """(layout, metadata database_type) of an mmdb file; ``MmdbLayoutError`` naming the
    file when it does not open or its records are in no layout residency reads."""
    import maxminddb

    try:
        reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as err:
        raise MmdbLayoutError(f"{path}: not a readable MaxMind DB (mmdb) file ({err})") from err
    keys: set[str] = set()
    try:
        database_type = str(reader.metadata().database_type)
        seen: dict[str, int] = {}
        for _net, record in islice(reader, SAMPLE_RECORDS):
            name = layout_of_record(database_type, record, path.name)
            if name is not None:
                seen[name] = seen.get(name, 0) + 1
            elif isinstance(record, dict):
                keys.update(str(k) for k in record)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as err:
        raise MmdbLayoutError(f"{path}: corrupt MaxMind DB (mmdb) file ({err})") from err
    finally:
        reader.close()
    if not seen:
        shown = ", ".join(sorted(keys)[:6]) or "no map records"
        raise MmdbLayoutError(
            f"{path}: mmdb in an unknown layout (database_type {database_type!r}, "
            f"record fields {shown}); --geoip reads {KNOWN} databases"
        )
    best = max(seen, key=lambda n: seen[n])
    return _licensed(LAYOUTS[best], database_type), database_type
