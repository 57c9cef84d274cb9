"""What is known about one address: evidence, its merged location, operator and provenance."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EvidenceKind(StrEnum):
    """What kind of source a claim comes from; also the merge priority tiers."""

    PROVIDER_FEED = "provider-feed"  # a cloud/CDN's own published ranges
    GEOFEED = "geofeed"  # RFC 8805 self-published geolocation
    GEOIP = "geoip"  # a GeoIP country/city database (mmdb)
    ASN = "asn"  # an IP -> ASN/organisation database
    HOSTNAME = "hostname-hint"  # a name in the CNAME chain reveals provider/region
    REGISTRATION = "registration"  # RDAP/whois: who registered the block
    ANYCAST = "anycast-measured"  # a measured list of anycast prefixes (bgp.tools)
    RTT = "rtt-measured"  # a round-trip time measured by --probe rtt: disproves, never proves


class Confidence(StrEnum):
    """How far the merged location can be trusted."""

    # measured (residency.locate.trust.calibration): the kind of answer was right this often
    HIGH = "high"  # >= 99% of the kind of answer, measured on this kind of network
    MEDIUM = "medium"  # >= 95%
    LOW = "low"  # less, or not measured
    NONE = "none"  # unknown / indeterminate


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataVersion:
    """Provenance of one dataset used in an audit: enough to reproduce it."""

    dataset: str  # e.g. "aws-ip-ranges", "dbip-country"
    version: str  # upstream version/date (createDate, syncToken, changeNumber...)
    fetched: str | None = None  # ISO-8601 UTC time we obtained it
    sha256: str | None = None
    origin: str | None = None  # URL, mirror package or local path it came from
    licence: str | None = None
    attribution: str | None = None


# ----------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Place:
    """A geographic place. ``country`` is ISO 3166-1 alpha-2, upper case."""

    country: str
    subdivision: str | None = None  # ISO 3166-2 code where known, e.g. "IN-MH"
    city: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One claim about one address, from one source at one data version."""

    source: str  # dataset id, e.g. "aws-ip-ranges", "geoip:dbip-country", "hostname"
    kind: EvidenceKind
    version: str  # the dataset's version, so the claim can be reproduced
    prefix: str | None = None  # the network the claim covers, e.g. "13.228.0.0/15"
    place: Place | None = None
    provider: str | None = None  # canonical provider id, e.g. "aws", "azure", "gcp"
    region: str | None = None  # provider region, e.g. "ap-southeast-1"
    service: str | None = None  # e.g. "EC2", "CLOUDFRONT", "AzureFrontDoor.Frontend"
    asn: int | None = None
    org: str | None = None
    anycast: bool = False  # the claim is that this address is an anycast/CDN edge
    note: str = ""  # short human-readable detail

    def summary(self) -> str:
        """One-line description used in tables and reasons."""
        parts: list[str] = []
        if self.provider:
            parts.append(self.provider + (f":{self.region}" if self.region else ""))
        if self.service:
            parts.append(self.service)
        if self.place:
            parts.append(self.place.country)
        if self.asn is not None:
            parts.append(f"AS{self.asn}")
        if self.org:
            parts.append(self.org)
        if self.anycast:
            parts.append("anycast")
        if self.note:
            parts.append(self.note)
        return f"{self.source}: " + (", ".join(parts) or "no claim")


#: Location.basis of an answer withheld because its disagreement pattern measured weak
#: ("unknown, because the sources are weak here", with the measured figure).
WITHHELD_BASIS = "sources-weak"


@dataclass(frozen=True)
class Location:
    """The merged answer to "where is it". ``place is None`` means unknown, and
    ``why`` always says why (anycast edge, sources disagree, no data...)."""

    place: Place | None
    confidence: Confidence
    basis: str  # which tier decided: "provider-feed", "geofeed", "geoip-consensus", ...
    why: str = ""
    #: the kind of answer whose measured precision set the confidence ("feed:agreed",
    #: "geoip:single", ...; the answers table of calibration.json); "" when none
    answer: str = ""
    #: the disagreement pattern of that answer (which sources said what; the patterns
    #: table of calibration.json); set also when the pattern measured weak withheld it
    pattern: str = ""

    @property
    def country(self) -> str | None:
        return self.place.country if self.place else None


@dataclass(frozen=True)
class Registration:
    """Who registered the block (RDAP). Registration is not location."""

    status: str  # "known" or "unknown"
    reason: str = ""  # for "unknown": why (RDAP unreachable, rate-limited, ...)
    network_name: str | None = None
    handle: str | None = None
    cidr: str | None = None
    org: str | None = None
    country: str | None = None
    rir: str | None = None
    abuse_email: str | None = None
    source: str = "rdap"
    fetched: str | None = None
    # RFC 9092: the geofeed URL this registration links (RDAP ``links`` rel "geo", or a
    # ``Geofeed https://...`` remark); only entries inside this network count.
    geofeed: str | None = None


@dataclass(frozen=True)
class OwnerLink:
    """One organisation in an ownership chain, its country, and who says so.

    ``source`` is the evidence for this step ("organisations.toml https://...",
    "entity-list webxray 2019-12-18", "GLEIF LEI 5493..."), so a reader can check it."""

    entity: str
    country: str | None
    source: str
    lei: str | None = None


@dataclass(frozen=True)
class Operator:
    """Who controls an address: provider entity and its legal jurisdiction."""

    provider: str | None  # provider id from data/providers.toml, or None if unknown
    entity: str | None = None  # legal entity, e.g. "Amazon Web Services, Inc."
    jurisdiction: str | None = None  # HQ jurisdiction, ISO alpha-2
    parent: str | None = None
    basis: str = ""  # how we know: "provider-feed", "asn AS16509", ...
    # Further jurisdictions whose law reaches the operator: a foreign parent's, or the
    # operating subsidiary's own (BytePlus: SG under a CN group). ISO alpha-2.
    other_jurisdictions: tuple[str, ...] = ()


@dataclass(frozen=True)
class CdnEdge:
    """The address belongs to a CDN. A CDN edge (CloudFront, Akamai) is a unicast server
    in one place, picked per client by DNS: its own place is known and judged, the
    origin behind it is not. Whether one place serves it is ``IpFacts.anycast``."""

    vendor: str  # provider id, e.g. "aws" (CloudFront), "akamai", "bunny"
    basis: str  # how we know, e.g. "aws-ip-ranges: CLOUDFRONT", "asn AS200325"


@dataclass(frozen=True)
class IpFacts:
    """Everything known about one address, each claim backed by evidence."""

    ip: str
    routable: bool
    location: Location
    not_routable_reason: str | None = None  # "private (RFC 1918)", "loopback", ...
    asn: int | None = None
    as_org: str | None = None
    provider: str | None = None
    region: str | None = None
    service: str | None = None
    cdn: bool = False
    anycast: bool = False
    evidence: tuple[Evidence, ...] = ()
    disagreements: tuple[str, ...] = ()  # human-readable: "dbip says DE, aws feed says IE"
    operator: Operator | None = None
    registration: Registration | None = None
    # why ``anycast`` is set: the provider published it as anycast, or it was measured
    anycast_basis: str = ""
    cdn_edge: CdnEdge | None = None  # set when a CDN serves it (``cdn`` is then true)


#: The columns of one bulk-enrichment row (``residency ip --bulk``): the merged answer of
#: every source, as text. locate/bulk.py fills them in this order; report/ writes them.
BULK_COLUMNS = (
    "ip",
    "routable",
    "country",
    "provider",
    "region",
    "asn",
    "anycast",
    "cdn",
    "confidence",
)
