"""Frozen result types shared by every stage of the pipeline.

Data flows one way: Endpoint -> Resolution -> IpFacts (with Evidence) -> Verdict
-> AuditResult. Every stage imports this module; this module imports nothing
from the package. "Unknown" is modelled explicitly (a value with a reason),
never as a bare ``None`` that a reader could mistake for "checked, nothing".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


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

    # measured (residency.locate.calibration): the kind of answer was right this often
    HIGH = "high"  # >= 99% of the kind of answer, measured on this kind of network
    MEDIUM = "medium"  # >= 95%
    LOW = "low"  # less, or not measured
    NONE = "none"  # unknown / indeterminate


class Outcome(StrEnum):
    """How a DNS resolution ended. Never a silent empty list."""

    RESOLVED = "resolved"
    LITERAL = "ip-literal"  # the endpoint was an address, no DNS involved
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    CNAME_LOOP = "cname-loop"
    CHAIN_TOO_LONG = "chain-too-long"
    DELEGATED = "delegated"  # a referral from a non-recursive server; not followed
    RESOLVER_UNREACHABLE = "resolver-unreachable"  # the start-up check got no answer at all
    ERROR = "error"  # anything else (network unreachable, malformed reply)


class Verdict(IntEnum):
    """Policy judgement. Ordered so that ``max()`` gives the worst verdict."""

    PASS = 0
    WAIVED = 1
    INDETERMINATE = 2
    FAIL = 3

    def __str__(self) -> str:
        return self.name


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


# ---------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class ObservedAddress:
    """An address an app was actually seen contacting (HAR, pcap, dig output)."""

    ip: str
    when: str | None = None  # ISO-8601 time of the observation, if recorded
    context: str = ""  # e.g. "HAR page_1 GET https://..." or "pcap tls sni"


@dataclass(frozen=True)
class Endpoint:
    """One thing to audit: a host name (ASCII/punycode, lower case, no trailing
    dot) or an IP literal, with what the input told us about it."""

    host: str
    display: str  # the original form, e.g. the Unicode IDN, for people
    origin: str = ""  # where it came from: "argv", "list.txt:12", "capture.har"
    categories: tuple[str, ...] = ()  # data categories it carries, e.g. ("payments",)
    observed: tuple[ObservedAddress, ...] = ()
    is_ip: bool = False


@dataclass(frozen=True)
class InputProblem:
    """A bad input entry: reported in one line, never stops the batch."""

    entry: str
    origin: str
    problem: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.entry!r}: {self.problem}"


# --------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class ChainStep:
    """One record on the way from the queried name to its addresses."""

    owner: str
    rtype: str  # "CNAME", "A", "AAAA", "HTTPS"
    target: str  # CNAME target, address, or hint text
    ttl: int


@dataclass(frozen=True)
class ResolvedAddress:
    ip: str
    ttl: int | None
    via: str  # "A", "AAAA", "HTTPS-ipv4hint", "HTTPS-ipv6hint", "literal", "observed"


@dataclass(frozen=True)
class Resolution:
    """The result of resolving one name once, from one resolver and vantage."""

    name: str
    outcome: Outcome
    chain: tuple[ChainStep, ...] = ()
    addresses: tuple[ResolvedAddress, ...] = ()
    resolver: str = "system"
    vantage: str | None = None  # country code whose ECS prefix was sent
    ecs_prefix: str | None = None  # the client subnet sent, e.g. "49.36.0.0/24"
    ecs_scope: int | None = None  # scope prefix length the server returned
    error: str = ""  # detail for non-resolved outcomes
    when: str | None = None  # ISO-8601 time of the resolution

    @property
    def cname_targets(self) -> tuple[str, ...]:
        return tuple(s.target for s in self.chain if s.rtype == "CNAME")

    @property
    def min_ttl(self) -> int | None:
        """When the first record of this answer expires: the smallest TTL of the chain
        and of the addresses (the one definition; the monitor schedules by it)."""
        ttls = [s.ttl for s in self.chain]
        ttls += [a.ttl for a in self.addresses if a.ttl is not None]
        return min(ttls) if ttls else None


# ------------------------------------------------------------------ active probes


@dataclass(frozen=True)
class CertInfo:
    """The leaf certificate a TLS probe read (verified or not)."""

    subject_o: str | None = None
    subject_c: str | None = None
    subject_st: str | None = None
    subject_l: str | None = None
    jurisdiction_c: str | None = None  # EV jurisdictionCountryName
    serial_number: str | None = None  # EV subject serialNumber (registration number)
    validation: str = "unknown"  # "ev", "ov", "dv" or "unknown" (from the CA/B policy OIDs)
    issuer: str = ""
    san: tuple[str, ...] = ()
    not_before: str | None = None
    not_after: str | None = None
    cdn: str | None = None  # provider id when the subject is a CDN, not the service


@dataclass(frozen=True)
class ProbeResult:
    """One opt-in active probe of one endpoint address: always an explicit outcome."""

    kind: str  # "tls" or "http"
    ip: str
    port: int
    outcome: str  # "ok", "refused", "timeout", "tls-error", "cert-invalid", "too-large", ...
    detail: str = ""
    when: str | None = None
    vantage: str = "local"  # where the probe ran from: another client may see another PoP
    tls_version: str | None = None
    verified: bool | None = None
    verify_error: str = ""  # "self-signed", "expired", ...
    cert: CertInfo | None = None
    status: int | None = None  # HTTP status
    headers: tuple[tuple[str, str], ...] = ()  # the edge headers kept (CDN ones only)
    edge_cdn: str | None = None  # "cloudflare", "cloudfront", "fastly", "akamai", "azure"
    edge_pop: str | None = None  # PoP code, e.g. "FRA"
    edge_place: Place | None = None
    edge_basis: str = ""  # "vendor table data/pops.toml" or "IATA (airportsdata)"
    rtt_ms: float | None = None  # --probe rtt: the minimum TCP connect time measured
    connected_to: str | None = None  # "ADDR:PORT" when --probe-connect-to redirected it


@dataclass(frozen=True)
class Registrant:
    """Who registered the endpoint's domain, from its registry's RDAP domain object.

    ``status`` is "known" (an organisation and/or country is published), "redacted" (the
    registry withholds the registrant, RFC 9537 or a "REDACTED FOR PRIVACY" value: a fact,
    not a failure) or "unknown" (no lookup possible or it failed; ``reason`` says why).
    """

    domain: str | None  # the registrable domain looked up, None when there is none
    status: str  # "known", "redacted" or "unknown"
    reason: str = ""  # for "unknown": why; for "redacted": what was withheld
    org: str | None = None
    country: str | None = None  # ISO alpha-2
    server: str | None = None  # host of the RDAP server that answered
    fetched: str | None = None  # UTC date-time of the answer


@dataclass(frozen=True)
class Controller:
    """Who runs the service that receives the data (not who hosts it)."""

    entity: str | None
    country: str | None
    basis: str  # "ev-certificate", "ov-certificate", "first-party table", "none"
    confidence: Confidence
    why: str = ""


# ----------------------------------------------------------------------- judgement


@dataclass(frozen=True)
class Reason:
    """Why a verdict was reached, citing the rule and the evidence."""

    code: str  # stable id, e.g. "country-denied", "anycast", "sources-disagree", "waived"
    message: str
    rule: str | None = None  # the policy rule that applied, e.g. "rules[payments]"
    evidence: tuple[str, ...] = ()  # Evidence.summary() strings that back it


@dataclass(frozen=True)
class AddressVerdict:
    ip: str
    verdict: Verdict
    reasons: tuple[Reason, ...]
    aspect: str = "location"  # "location", "operator" or "both": which side failed


@dataclass(frozen=True)
class EndpointVerdict:
    verdict: Verdict  # the worst of its addresses
    addresses: tuple[AddressVerdict, ...]
    reasons: tuple[Reason, ...] = ()  # endpoint-level: resolution failed, waiver expired...


# ---------------------------------------------------------------------- the audit


@dataclass(frozen=True)
class EndpointResult:
    endpoint: Endpoint
    resolutions: tuple[Resolution, ...]  # one per vantage/resolver
    facts: tuple[IpFacts, ...]  # one per distinct address, resolved or observed
    hints: tuple[Evidence, ...] = ()  # hostname-pattern evidence from the chain
    verdict: EndpointVerdict | None = None  # None when no policy was applied
    probes: tuple[ProbeResult, ...] = ()  # opt-in active probes (--probe), outcome each
    controller: Controller | None = None  # set when probes ran or a [controllers] table
    registrant: Registrant | None = None  # domain registrant (RDAP), with --rdap

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(f.ip for f in self.facts)


@dataclass(frozen=True)
class EndpointGroup:
    """Endpoints that share a controller or a registrable domain, so a report can read
    "Beijing Xiaomi ... (CN): 4 endpoints, hosted in SG, IN". ``name is None`` is the
    group whose key is unknown, and ``why`` says why (no controller evidence, an IP...)."""

    by: str  # "controller" or "domain"
    name: str | None  # the controller's entity or the registrable domain; None = unknown
    country: str | None = None  # the controller's country (by controller only)
    hosts: tuple[str, ...] = ()  # Endpoint.host of each member, in input order
    hosted_in: tuple[str, ...] = ()  # countries the members' addresses are in; "??" unplaced
    why: str = ""


@dataclass(frozen=True)
class PolicyRef:
    name: str
    version: str
    path: str | None = None
    sha256: str | None = None
    # Where each rule and waiver sits in the policy file: (label, line), e.g.
    # ("rules[payments]", 14), so a finding can point at the rule that decided it.
    rule_lines: tuple[tuple[str, int], ...] = ()

    def line_of(self, label: str | None) -> int:
        """The policy-file line of the rule or waiver ``label``; 0 when not known."""
        return next((line for name, line in self.rule_lines if name == label), 0)


@dataclass(frozen=True)
class AuditResult:
    run_id: str
    started: str
    finished: str
    endpoints: tuple[EndpointResult, ...]
    data_versions: tuple[DataVersion, ...]
    resolvers: tuple[str, ...] = ()
    vantages: tuple[str, ...] = ()
    policy: PolicyRef | None = None
    problems: tuple[InputProblem, ...] = ()
    verdict: Verdict | None = None  # worst of the endpoints; None without a policy
    tool_version: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    groups: tuple[EndpointGroup, ...] = ()  # by controller (when known), then by domain
